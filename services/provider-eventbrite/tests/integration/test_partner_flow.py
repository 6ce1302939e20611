"""The partner-order contract end to end, through the client: hold, order, lookup, cancel, refund."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from provider_eventbrite.adapters.partner_client import Attendee, Reason, Status

ANNA = Attendee(name="Anna Lisboa", email="anna@example.org")


async def _order(client, sandbox, ref, policy, quantity=2, min_days_ahead=0.0):
    event, tc = await sandbox.bookable(
        policy=policy, min_days_ahead=min_days_ahead, min_left=quantity
    )
    held = await client.hold(
        event["id"], tc["id"], quantity, ref("item"), idempotency_key=ref("hold")
    )
    assert held.status is Status.HELD, held
    order = await client.create_order(held.hold_id, ref("item"), ANNA, idempotency_key=ref("order"))
    assert order.status is Status.CONFIRMED, order
    return event, tc, held, order


async def _move_clock_to(sandbox, event, hours_before_start: float) -> None:
    start = datetime.fromisoformat(event["start"]["utc"])
    await sandbox.clock(0)
    now = await sandbox.now()
    await sandbox.clock((start - now).total_seconds() - hours_before_start * 3600)


async def test_hold_order_lookup_and_cancel_with_a_full_refund_a_week_ahead(
    sandbox, make_client, ref
):
    client = make_client()
    event, tc, held, order = await _order(client, sandbox, ref, "STANDARD", min_days_ahead=8)
    assert held.partner_status == "HELD" and held.valid_until > await sandbox.now()
    assert held.price.unit_price.amount_minor == tc["cost"]["value"]
    assert held.price.total.amount_minor == 2 * (tc["cost"]["value"] + tc["fee"]["value"])
    assert order.partner_status == "CONFIRMED" and len(order.tickets) == 2
    assert order.price == held.price and order.partner_reference == ref("item")

    found = await client.find_order_by_reference(ref("item"))
    assert found is not None and found.order_id == order.order_id and not found.recovered
    assert (await client.get_order(order.order_id)).status is Status.CONFIRMED
    assert await client.find_order_by_reference(ref("nobody")) is None

    quote = await client.cancel_quote(order.order_id)
    assert quote.cancellable and quote.refund_percent == 100
    assert quote.refund == quote.order_total == order.price.total
    cancelled = await client.cancel_order(
        order.order_id, idempotency_key=ref("cancel"), cancel_quote_id=quote.quote_id
    )
    assert cancelled.status is Status.CANCELLED and cancelled.refund == order.price.total
    assert (await client.get_order(order.order_id)).status is Status.CANCELLED

    # The tickets went back on sale, and a second cancel changes nothing.
    classes = {t.id: t for t in await client.ticket_classes(event["id"])}
    assert classes[tc["id"]].quantity_sold == tc["quantity_sold"]
    again = await client.cancel_order(order.order_id, idempotency_key=ref("cancel-again"))
    assert again.status is Status.CANCELLED and again.already_cancelled
    assert again.refund == cancelled.refund
    requote = await client.cancel_quote(order.order_id)
    assert not requote.cancellable and requote.reason == Reason.ALREADY_CANCELLED


@pytest.mark.parametrize(
    ("policy", "hours_before", "percent"),
    [
        ("STANDARD", 200, 100),
        ("STANDARD", 100, 50),
        ("STANDARD", 47, 0),
        ("FLEXIBLE", 30, 100),
        ("FLEXIBLE", 10, 0),
        ("NO_REFUNDS", 500, 0),
    ],
)
async def test_refunds_follow_the_policy_band_on_the_sandbox_clock(
    sandbox, make_client, ref, policy, hours_before, percent
):
    client = make_client()
    event, _, _, order = await _order(client, sandbox, ref, policy, quantity=1)
    await _move_clock_to(sandbox, event, hours_before)
    quote = await client.cancel_quote(order.order_id)
    assert quote.refund_percent == percent
    assert quote.refund.amount_minor == order.price.total.amount_minor * percent // 100
    done = await client.cancel_order(order.order_id, idempotency_key=ref("cancel"))
    assert done.status is Status.CANCELLED and done.refund == quote.refund


async def test_after_the_start_the_order_is_not_cancellable_and_stays_booked(
    sandbox, make_client, ref
):
    client = make_client()
    event, _, _, order = await _order(client, sandbox, ref, "STANDARD", quantity=1)
    await _move_clock_to(sandbox, event, -1)
    quote = await client.cancel_quote(order.order_id)
    assert (quote.cancellable, quote.partner_status) == (False, "NOT_CANCELLABLE")
    assert quote.refund.amount_minor == 0 and "started" in (quote.message or "")
    done = await client.cancel_order(order.order_id, idempotency_key=ref("cancel"))
    assert (done.status, done.reason, done.partner_status) == (
        Status.REJECTED,
        Reason.NOT_CANCELLABLE,
        "NOT_CANCELLABLE",
    )
    still = await client.get_order(order.order_id)
    assert still is not None and still.status is Status.CONFIRMED


async def test_an_expired_cancel_quote_is_refused(sandbox, make_client, ref):
    client = make_client()
    _, _, _, order = await _order(client, sandbox, ref, None, quantity=1)
    quote = await client.cancel_quote(order.order_id)
    await sandbox.clock(601)
    late = await client.cancel_order(
        order.order_id, idempotency_key=ref("c"), cancel_quote_id=quote.quote_id
    )
    assert late.status is Status.REJECTED and late.reason == Reason.QUOTE_EXPIRED


async def test_fifty_concurrent_holds_for_ten_tickets_hold_exactly_ten(sandbox, make_client, ref):
    event, tc = await sandbox.bookable(min_left=1)
    await sandbox.set_inventory(tc["id"], capacity=tc["quantity_sold"] + 10)
    client = make_client(max_concurrency=50)
    results = await asyncio.gather(
        *(
            client.hold(event["id"], tc["id"], 1, ref(f"item{i}"), idempotency_key=ref(f"hold{i}"))
            for i in range(50)
        )
    )
    held = [r for r in results if r.status is Status.HELD]
    assert len(held) == 10 and len({r.hold_id for r in held}) == 10
    rejected = [r for r in results if r.status is Status.REJECTED]
    assert len(rejected) == 40 and {r.reason for r in rejected} == {Reason.SOLD_OUT}
    assert sum(h["status"] == "HELD" for h in await sandbox.holds()) == 10
    [now] = [t for t in await client.ticket_classes(event["id"]) if t.id == tc["id"]]
    assert now.available == 0 and now.quantity_pending == 10 and now.on_sale_status == "SOLD_OUT"

    # Too many for what is left is a different answer from none left.
    await client.release_hold(held[0].hold_id, idempotency_key=ref("release"))
    more = await client.hold(event["id"], tc["id"], 2, ref("more"), idempotency_key=ref("more"))
    assert more.status is Status.REJECTED and more.reason == Reason.INSUFFICIENT_INVENTORY
    assert more.available == 1


async def test_released_and_expired_holds_give_their_tickets_back(sandbox, make_client, ref):
    client = make_client()
    event, tc = await sandbox.bookable(min_left=3)
    tier = lambda: sandbox.http.get(f"/v3/events/{event['id']}/inventory_tiers/")  # noqa: E731

    async def pending() -> int:
        tiers = (await tier()).json()["inventory_tiers"]
        return next(t["quantity_pending"] for t in tiers if t["ticket_class_ids"] == [tc["id"]])

    h1 = await client.hold(event["id"], tc["id"], 2, ref("a"), idempotency_key=ref("a"))
    assert await pending() == 2
    released = await client.release_hold(h1.hold_id, idempotency_key=ref("rel"))
    assert released.status is Status.CANCELLED and released.partner_status == "RELEASED"
    assert await pending() == 0

    await sandbox.faults(hold_ttl_seconds=0.2)
    h2 = await client.hold(event["id"], tc["id"], 3, ref("b"), idempotency_key=ref("b"))
    assert await pending() == 3
    await asyncio.sleep(0.3)
    assert await pending() == 0
    gone = await client.release_hold(h2.hold_id, idempotency_key=ref("rel2"))
    assert gone.status is Status.CANCELLED and gone.partner_status == "EXPIRED"
    unknown = await client.release_hold("hold_nope", idempotency_key=ref("rel3"))
    assert unknown.status is Status.CANCELLED and unknown.reason == Reason.HOLD_NOT_FOUND


async def test_a_second_order_with_the_same_reference_returns_the_first(sandbox, make_client, ref):
    client = make_client()
    event, tc, _, first = await _order(client, sandbox, ref, None, quantity=1)
    other = await client.hold(event["id"], tc["id"], 1, ref("other"), idempotency_key=ref("h2"))
    second = await client.create_order(other.hold_id, ref("item"), ANNA, idempotency_key=ref("o2"))
    assert second.order_id == first.order_id and second.http_status == 200
    assert len(await sandbox.orders(ref("item"))) == 1
    ordered_hold = await client.release_hold(first.hold_id, idempotency_key=ref("rel"))
    assert (
        ordered_hold.status is Status.REJECTED
        and ordered_hold.reason == Reason.HOLD_ALREADY_ORDERED
    )
