"""Injected faults against the real client: ghosts, expiry, steals, retries, limits."""

from __future__ import annotations

import asyncio
import time

import pytest

from provider_eventbrite.adapters.partner_client import PartnerUnavailable, Reason, Status

ATTENDEE = {"name": "Rui", "email": "rui@example.org"}


async def _hold(client, sandbox, ref, quantity=1):
    event, tc = await sandbox.bookable(min_left=quantity)
    held = await client.hold(
        event["id"], tc["id"], quantity, ref("item"), idempotency_key=ref("hold")
    )
    assert held.status is Status.HELD
    return event, tc, held


@pytest.mark.parametrize("mode", ["5xx", "timeout"])
async def test_a_ghost_order_is_found_by_reference_and_never_doubled(
    sandbox, make_client, ref, mode
):
    client = make_client(timeout=0.4)
    _, _, held = await _hold(client, sandbox, ref)
    await sandbox.faults(ghost_rate=1.0, ghost_mode=mode, ghost_timeout_seconds=1.0)
    order = await client.create_order(
        held.hold_id, ref("item"), ATTENDEE, idempotency_key=ref("order")
    )
    assert order.status is Status.CONFIRMED and order.recovered
    assert [o["order_id"] for o in await sandbox.orders(ref("item"))] == [order.order_id]
    # It looked the order up instead of writing a second time.
    assert (await sandbox.stats())["by_route"]["POST /partner/v1/orders"] == 1


async def test_an_expired_hold_is_rejected_as_hold_expired(sandbox, make_client, ref):
    client = make_client()
    _, _, held = await _hold(client, sandbox, ref)
    await sandbox.clock(901)  # past the default 15-minute hold
    order = await client.create_order(held.hold_id, ref("item"), ATTENDEE, idempotency_key=ref("o"))
    assert order.status is Status.REJECTED and order.reason == Reason.HOLD_EXPIRED
    assert order.partner_status == "HOLD_EXPIRED" and await sandbox.orders() == []


async def test_a_short_hold_ttl_expires_holds_early(sandbox, make_client, ref):
    client = make_client()
    await sandbox.faults(hold_ttl_seconds=0.2)
    _, _, held = await _hold(client, sandbox, ref)
    await asyncio.sleep(0.3)
    order = await client.create_order(held.hold_id, ref("item"), ATTENDEE, idempotency_key=ref("o"))
    assert order.reason == Reason.HOLD_EXPIRED


async def test_tickets_stolen_between_hold_and_order_reject_it_as_sold_out(
    sandbox, make_client, ref
):
    client = make_client()
    event, tc, held = await _hold(client, sandbox, ref)
    await sandbox.faults(steal_next_confirm=True)
    order = await client.create_order(held.hold_id, ref("item"), ATTENDEE, idempotency_key=ref("o"))
    assert order.status is Status.REJECTED and order.reason == Reason.SOLD_OUT
    assert await sandbox.orders() == []
    [now] = [t for t in await client.ticket_classes(event["id"]) if t.id == tc["id"]]
    assert now.on_sale_status == "SOLD_OUT" and now.quantity_pending == 0
    assert (await sandbox.current_faults())["steal_next_confirm"] is False  # it was used up


async def test_a_reject_rate_refuses_orders_as_sold_out_and_keeps_the_tickets_on_sale(
    sandbox, make_client, ref
):
    client = make_client()
    event, tc, held = await _hold(client, sandbox, ref)
    await sandbox.faults(confirm_reject_rate=1.0)
    order = await client.create_order(held.hold_id, ref("item"), ATTENDEE, idempotency_key=ref("o"))
    assert order.status is Status.REJECTED and order.reason == Reason.SOLD_OUT
    assert await sandbox.orders() == []
    [now] = [t for t in await client.ticket_classes(event["id"]) if t.id == tc["id"]]
    assert now.quantity_pending == 0 and now.quantity_sold == tc["quantity_sold"]
    await sandbox.faults(confirm_reject_rate=0.0)
    again = await client.hold(event["id"], tc["id"], 1, ref("item2"), idempotency_key=ref("h2"))
    order = await client.create_order(
        again.hold_id, ref("item2"), ATTENDEE, idempotency_key=ref("o2")
    )
    assert order.status is Status.CONFIRMED


async def test_5xx_answers_are_retried_until_one_succeeds(sandbox, make_client, ref):
    client = make_client(max_retries=3)
    event, tc = await sandbox.bookable()
    await sandbox.faults(fail_next=2)
    held = await client.hold(event["id"], tc["id"], 1, ref("item"), idempotency_key=ref("h"))
    assert held.status is Status.HELD
    assert (await sandbox.stats())["by_route"]["POST /partner/v1/holds"] == 3
    await sandbox.faults(fail_next=2, error_status=502)
    assert await client.get_event(event["id"]) is not None


async def test_an_outage_raises_partner_unavailable_after_the_retries(sandbox, make_client, ref):
    client = make_client(max_retries=2)
    event, tc = await sandbox.bookable()
    await sandbox.faults(error_rate=1.0)
    with pytest.raises(PartnerUnavailable) as err:
        await client.hold(event["id"], tc["id"], 1, ref("item"), idempotency_key=ref("h"))
    assert err.value.attempts == 3 and err.value.last == 503
    assert (await sandbox.stats())["by_route"]["POST /partner/v1/holds"] == 3
    assert await sandbox.holds() == []
    assert (await sandbox.http.get("/_admin/health")).status_code == 200  # admin is never faulty


async def test_4xx_answers_are_never_retried(sandbox, make_client, ref):
    client = make_client(max_retries=3)
    event, tc = await sandbox.bookable()
    bad = await client.hold(event["id"], tc["id"], 0, ref("item"), idempotency_key=ref("h"))
    assert bad.status is Status.REJECTED and bad.reason == Reason.INVALID_REQUEST
    assert bad.http_status == 422 and "quantity" in bad.message
    await sandbox.set_inventory(tc["id"], capacity=tc["quantity_sold"])
    gone = await client.hold(event["id"], tc["id"], 1, ref("item"), idempotency_key=ref("h2"))
    assert gone.reason == Reason.SOLD_OUT
    assert (await sandbox.stats())["by_route"]["POST /partner/v1/holds"] == 2


async def test_latency_is_injected_on_partner_routes_only(sandbox, make_client):
    client = make_client()
    await sandbox.faults(latency={"dist": "uniform", "min_ms": 100, "max_ms": 150})
    t0 = time.perf_counter()
    await client.search_events(page_size=200, expand=())
    assert time.perf_counter() - t0 >= 0.1
    t0 = time.perf_counter()
    await sandbox.stats()
    assert time.perf_counter() - t0 < 0.1


async def test_the_rate_limit_queues_requests_instead_of_failing_them(sandbox, make_client):
    client = make_client(rate_per_second=20, burst=1)
    event, _ = await sandbox.bookable()
    t0 = time.perf_counter()
    results = await asyncio.gather(*(client.get_event(event["id"], expand=()) for _ in range(8)))
    elapsed = time.perf_counter() - t0
    assert all(r is not None for r in results)
    assert elapsed >= 7 / 20 * 0.9  # eight requests at 20/s: the last waits ~350 ms


async def test_the_concurrency_limit_caps_requests_in_flight(sandbox, make_client):
    client = make_client(max_concurrency=3)
    event, _ = await sandbox.bookable()
    await sandbox.faults(latency_ms=60)
    t0 = time.perf_counter()
    await asyncio.gather(*(client.get_event(event["id"], expand=()) for _ in range(9)))
    assert time.perf_counter() - t0 >= 3 * 0.06
    assert (await sandbox.stats())["max_in_flight"] == 3
