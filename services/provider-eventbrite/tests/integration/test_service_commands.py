"""HoldItem, ConfirmItem and CancelItem through the running service: commands in over the broker,
effects at the sandbox, replies out through the outbox. One service for the whole module."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import pytest

from booking_shared.contracts import (
    CancelItem,
    ConfirmItem,
    HoldItem,
    ItemCancelled,
    ItemConfirmed,
    ItemHeld,
    ItemHoldLapsed,
    ItemRejected,
    ProviderAnnounced,
)
from booking_shared.contracts.topics import provider_replies
from booking_shared.internal_auth import bearer
from booking_shared.money import Money
from booking_shared.testing.plugin import wait_for
from provider_eventbrite.adapters.partner_port import GUEST_REQUIREMENTS


def hold_cmd(bid: str, item, command_id: uuid.UUID | None = None) -> HoldItem:
    return HoldItem(booking_id=bid, command_id=command_id or uuid.uuid4(), item=item)


def confirm_cmd(provider, bid: str, item) -> ConfirmItem:
    return ConfirmItem(booking_id=bid, command_id=uuid.uuid4(), item=item, guest=provider.seal())


def cancel_cmd(bid: str, item_id: str = "item-1") -> CancelItem:
    return CancelItem(booking_id=bid, command_id=uuid.uuid4(), item_id=item_id, reason="test")


def total(tc, quantity: int) -> Money:
    return Money(amount_minor=quantity * (tc["cost"]["value"] + tc["fee"]["value"]), currency="EUR")


async def holds_for(sandbox, bid: str, item_id: str = "item-1") -> list[dict]:
    return [h for h in await sandbox.holds() if h["partner_reference"] == f"{bid}:{item_id}"]


async def held(provider, bid: str, item) -> ItemHeld:
    cmd = hold_cmd(bid, item)
    await provider.bus.send(cmd)
    reply = await provider.bus.reply(bid)
    assert isinstance(reply, ItemHeld), reply
    return reply


async def confirmed(provider, bid: str, item) -> tuple[ItemHeld, ItemConfirmed]:
    return await held(provider, bid, item), await confirm_held(provider, bid, item)


async def confirm_held(provider, bid: str, item) -> ItemConfirmed:
    await provider.bus.send(confirm_cmd(provider, bid, item))
    return await provider.bus.reply(bid, "ItemConfirmed")


async def drained(provider, bid: str) -> None:
    """Wait until everything sent for this booking so far was handled: a probe on the same key
    (same partition, so handled after them) must come back."""
    probe = cancel_cmd(bid, item_id=f"probe-{uuid.uuid4().hex[:6]}")
    await provider.bus.send(probe)
    await wait_for(
        lambda: any(
            getattr(r, "command_id", None) == probe.command_id for r in provider.bus.replies(bid)
        ),
        what="the probe's reply",
    )


async def test_the_service_announces_its_capabilities_on_the_registry(provider):
    [announced, *_] = await wait_for(provider.bus.announcements, what="ProviderAnnounced")
    assert isinstance(announced, ProviderAnnounced)
    assert announced.provider == "eventbrite" and announced.booking_types == ["event"]
    caps = announced.capabilities
    assert (caps.hold, caps.api_book, caps.cancel, caps.refund_policy) == (
        True,
        True,
        True,
        "per_item_policy",
    )
    assert caps.hold_ttl_seconds == 900
    assert caps.guest_requirements == GUEST_REQUIREMENTS
    assert (
        announced.commands_topic == "provider.eventbrite.commands.v1"
        and announced.replies_topic == provider_replies("eventbrite")
    )


async def test_a_hold_is_answered_with_item_held_carrying_the_price_and_the_partners_expiry(
    provider, sandbox, booking_id, item_for
):
    event, tc = await sandbox.bookable(min_left=2)
    bid = booking_id()
    reply = await held(provider, bid, item_for(event, tc, quantity=2))
    assert reply.item_id == "item-1" and reply.price == total(tc, 2)
    [h] = await holds_for(sandbox, bid)
    assert h["status"] == "HELD" and h["hold_id"] == reply.hold_id and h["quantity"] == 2
    assert reply.expires_at == datetime.fromisoformat(h["validUntil"])
    assert reply.expires_at - await sandbox.now() > timedelta(minutes=14)


async def test_a_confirm_turns_the_hold_into_one_order_with_the_events_refund_policy(
    provider, sandbox, booking_id, item_for
):
    event, tc = await sandbox.bookable(policy="STANDARD", min_days_ahead=8, min_left=2)
    bid = booking_id()
    h, c = await confirmed(provider, bid, item_for(event, tc, quantity=2))
    [order] = await sandbox.orders(f"{bid}:item-1")
    assert c.partner_reference == c.confirmation_code == order["order_id"]
    assert (
        order["status"] == "CONFIRMED"
        and order["hold_id"] == h.hold_id
        and len(order["tickets"]) == 2
    )
    assert order["attendee"] == {"name": "Anna Lisboa", "email": "anna@example.org"}
    assert c.price == h.price == total(tc, 2)
    start = datetime.fromisoformat(event["start"]["utc"])
    assert (
        c.cancellation_policy.refundable
        and c.cancellation_policy.free_until == start - timedelta(hours=168)
    )
    assert "7 days" in c.cancellation_policy.summary


async def test_the_same_message_twice_is_handled_once(provider, sandbox, booking_id, item_for):
    event, tc = await sandbox.bookable(min_left=1)
    bid = booking_id()
    cmd = hold_cmd(bid, item_for(event, tc, quantity=1))
    env = provider.bus.envelope(cmd)
    await provider.bus.send(cmd, env)
    await provider.bus.send(cmd, env)
    await drained(provider, bid)
    assert len(provider.bus.replies(bid, "ItemHeld")) == 1
    assert len(await holds_for(sandbox, bid)) == 1


async def test_a_resent_command_id_replays_the_first_reply_with_one_partner_effect(
    provider, sandbox, booking_id, item_for
):
    event, tc = await sandbox.bookable(min_left=1)
    bid = booking_id()
    item = item_for(event, tc, quantity=1)
    hold = hold_cmd(bid, item)
    await provider.bus.send(hold)
    await provider.bus.send(hold)  # a new message (new message id), the same command id
    first, again = (
        await provider.bus.reply(bid, "ItemHeld"),
        await provider.bus.reply(bid, "ItemHeld", n=2),
    )
    assert first == again

    confirm = confirm_cmd(provider, bid, item)
    await provider.bus.send(confirm)
    await provider.bus.send(confirm)
    first, again = (
        await provider.bus.reply(bid, "ItemConfirmed"),
        await provider.bus.reply(bid, "ItemConfirmed", n=2),
    )
    assert first == again
    assert len(await holds_for(sandbox, bid)) == 1
    assert len(await sandbox.orders(f"{bid}:item-1")) == 1
    routes = (await sandbox.stats())["by_route"]
    assert routes["POST /partner/v1/holds"] == 1 and routes["POST /partner/v1/orders"] == 1


@pytest.mark.parametrize("mode", ["5xx", "timeout"])
async def test_a_ghost_order_on_confirm_is_found_by_reference_and_never_doubled(
    provider, sandbox, booking_id, item_for, mode
):
    event, tc = await sandbox.bookable(min_left=1)
    bid = booking_id()
    item = item_for(event, tc, quantity=1)
    await held(provider, bid, item)
    # The order commits, then its answer is lost (a 503, or an answer later than our 1 s timeout).
    await sandbox.faults(ghost_rate=1.0, ghost_mode=mode, ghost_timeout_seconds=1.5)
    await provider.bus.send(confirm_cmd(provider, bid, item))
    c = await provider.bus.reply(bid, "ItemConfirmed")
    [order] = await sandbox.orders(f"{bid}:item-1")
    assert c.partner_reference == order["order_id"] and order["status"] == "CONFIRMED"
    assert (await sandbox.stats())["by_route"][
        "POST /partner/v1/orders"
    ] == 1  # looked up, not rewritten


async def test_ghost_holds_and_cancels_are_retried_under_the_same_request_id_with_one_effect(
    provider, sandbox, booking_id, item_for
):
    event, tc = await sandbox.bookable(min_left=1)
    bid = booking_id()
    item = item_for(event, tc, quantity=1)
    await sandbox.faults(ghost_rate=1.0, ghost_mode="5xx")  # every write commits, then answers 503
    h = await held(provider, bid, item)
    [hold] = await holds_for(sandbox, bid)
    assert hold["hold_id"] == h.hold_id
    await sandbox.faults()
    c = await confirm_held(provider, bid, item)
    await sandbox.faults(ghost_rate=1.0, ghost_mode="5xx")
    await provider.bus.send(cancel_cmd(bid))
    done = await provider.bus.reply(bid, "ItemCancelled")
    assert done.was_confirmed
    [order] = await sandbox.orders(f"{bid}:item-1")
    assert order["status"] == "CANCELLED" and order["order_id"] == c.partner_reference
    assert (await sandbox.stats())["by_route"][
        f"POST /partner/v1/orders/{order['order_id']}/cancel"
    ] == 2


async def test_a_lapsed_hold_is_reported_by_the_sweeper_and_its_confirm_rejected_as_hold_expired(
    provider, sandbox, booking_id, item_for
):
    await sandbox.faults(hold_ttl_seconds=0.5)
    event, tc = await sandbox.bookable(min_left=1)
    bid = booking_id()
    item = item_for(event, tc, quantity=1)
    h = await held(provider, bid, item)
    lapsed = await provider.bus.reply(bid, "ItemHoldLapsed", within=10)
    assert (
        isinstance(lapsed, ItemHoldLapsed)
        and lapsed.hold_id == h.hold_id
        and lapsed.expired_at == h.expires_at
    )
    await provider.bus.send(confirm_cmd(provider, bid, item))
    r = await provider.bus.reply(bid, "ItemRejected")
    assert isinstance(r, ItemRejected) and r.reason_code == "hold_expired"
    assert await sandbox.orders(f"{bid}:item-1") == []


async def test_a_hold_the_partner_expired_early_rejects_the_confirm_as_hold_expired(
    provider, sandbox, booking_id, item_for
):
    event, tc = await sandbox.bookable(min_left=1)
    bid = booking_id()
    item = item_for(event, tc, quantity=1)
    await held(provider, bid, item)
    await sandbox.clock(901)  # the partner's hold lapsed; ours still says HELD
    await provider.bus.send(confirm_cmd(provider, bid, item))
    r = await provider.bus.reply(bid, "ItemRejected")
    assert r.reason_code == "hold_expired" and r.partner_code == "HOLD_EXPIRED"
    assert await sandbox.orders(f"{bid}:item-1") == []


async def test_a_sold_out_class_is_rejected_as_sold_out(provider, sandbox, booking_id, item_for):
    event, tc = await sandbox.bookable(min_left=1)
    await sandbox.set_inventory(tc["id"], quantity_sold=tc["quantity_total"])
    bid = booking_id()
    await provider.bus.send(hold_cmd(bid, item_for(event, tc, quantity=1)))
    r = await provider.bus.reply(bid)
    assert (
        isinstance(r, ItemRejected) and r.reason_code == "sold_out" and r.partner_code == "SOLD_OUT"
    )


async def test_too_few_tickets_left_is_rejected_as_insufficient_inventory(
    provider, sandbox, booking_id, item_for
):
    event, tc = await sandbox.bookable(min_left=1)
    await sandbox.set_inventory(tc["id"], capacity=tc["quantity_sold"] + 1)
    bid = booking_id()
    await provider.bus.send(hold_cmd(bid, item_for(event, tc, quantity=2)))
    r = await provider.bus.reply(bid)
    assert isinstance(r, ItemRejected) and r.reason_code == "insufficient_inventory"


async def test_tickets_sold_to_someone_else_between_hold_and_confirm_reject_it_as_sold_out(
    provider, sandbox, booking_id, item_for
):
    event, tc = await sandbox.bookable(min_left=1)
    bid = booking_id()
    item = item_for(event, tc, quantity=1)
    await held(provider, bid, item)
    await sandbox.faults(steal_next_confirm=True)
    await provider.bus.send(confirm_cmd(provider, bid, item))
    r = await provider.bus.reply(bid, "ItemRejected")
    assert r.reason_code == "sold_out"
    items = {i["item_id"]: i for i in (await _items(provider, bid))}
    assert items["item-1"]["status"] == "REJECTED"


async def test_a_partner_outage_on_hold_is_rejected_as_partner_unavailable(
    provider, sandbox, booking_id, item_for
):
    event, tc = await sandbox.bookable(min_left=1)
    await sandbox.faults(error_rate=1.0)
    bid = booking_id()
    await provider.bus.send(hold_cmd(bid, item_for(event, tc, quantity=1)))
    r = await provider.bus.reply(bid)
    assert isinstance(r, ItemRejected) and r.reason_code == "partner_unavailable"
    assert await holds_for(sandbox, bid) == []


async def test_fifty_holds_from_fifty_bookings_for_ten_tickets_hold_exactly_ten(
    provider, sandbox, booking_id, item_for
):
    event, tc = await sandbox.bookable(min_left=1)
    await sandbox.set_inventory(tc["id"], capacity=tc["quantity_sold"] + 10)
    cmds = [hold_cmd(booking_id(f"crowd{i}"), item_for(event, tc, quantity=1)) for i in range(50)]
    await asyncio.gather(*(provider.bus.send(c) for c in cmds))
    replies = [await provider.bus.reply(c.booking_id) for c in cmds]
    held_ = [r for r in replies if isinstance(r, ItemHeld)]
    assert len(held_) == 10 and len({r.hold_id for r in held_}) == 10
    assert {r.reason_code for r in replies if isinstance(r, ItemRejected)} == {"sold_out"}
    live = [
        h
        for h in await sandbox.holds()
        if h["ticket_class_id"] == tc["id"] and h["status"] == "HELD"
    ]
    assert len(live) == 10


async def test_fifty_holds_handled_in_parallel_by_the_service_hold_exactly_ten(
    provider, sandbox, booking_id, item_for
):
    # The consumer hands one partition's messages over one at a time; here the handlers (inbox,
    # partner call, outbox) run side by side, as several consumers of the group would run them.
    event, tc = await sandbox.bookable(min_left=1)
    await sandbox.set_inventory(tc["id"], capacity=tc["quantity_sold"] + 10)
    cmds = [hold_cmd(booking_id(f"rush{i}"), item_for(event, tc, quantity=1)) for i in range(50)]
    outcomes = await asyncio.gather(*(provider.process(c) for c in cmds))
    assert outcomes == ["handled"] * 50
    replies = [await provider.bus.reply(c.booking_id) for c in cmds]
    assert sum(isinstance(r, ItemHeld) for r in replies) == 10
    live = [
        h
        for h in await sandbox.holds()
        if h["ticket_class_id"] == tc["id"] and h["status"] == "HELD"
    ]
    assert len(live) == 10
    assert (await sandbox.stats())["max_in_flight"] > 1


async def test_cancelling_a_held_item_releases_the_hold(provider, sandbox, booking_id, item_for):
    event, tc = await sandbox.bookable(min_left=1)
    bid = booking_id()
    await held(provider, bid, item_for(event, tc, quantity=1))
    await provider.bus.send(cancel_cmd(bid))
    c = await provider.bus.reply(bid, "ItemCancelled")
    assert isinstance(c, ItemCancelled) and not c.was_confirmed and c.refund.amount_minor == 0
    [h] = await holds_for(sandbox, bid)
    assert h["status"] == "RELEASED"


async def _move_clock_to(sandbox, event, hours_before_start: float) -> None:
    start = datetime.fromisoformat(event["start"]["utc"])
    await sandbox.clock(0)
    await sandbox.clock((start - await sandbox.now()).total_seconds() - hours_before_start * 3600)


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
async def test_cancelling_after_confirm_refunds_what_the_events_policy_allows_then(
    provider, sandbox, booking_id, item_for, policy, hours_before, percent
):
    event, tc = await sandbox.bookable(policy=policy, min_left=2)
    bid = booking_id()
    _, c = await confirmed(provider, bid, item_for(event, tc, quantity=2))
    await _move_clock_to(sandbox, event, hours_before)
    await provider.bus.send(cancel_cmd(bid))
    done = await provider.bus.reply(bid, "ItemCancelled")
    refund = c.price.amount_minor * percent // 100
    assert done.was_confirmed
    assert done.refund == Money(amount_minor=refund, currency="EUR")
    assert done.fee == Money(amount_minor=c.price.amount_minor - refund, currency="EUR")
    [order] = await sandbox.orders(f"{bid}:item-1")
    assert (
        order["status"] == "CANCELLED" and order["cancellation"]["refund_amount"]["value"] == refund
    )

    # Cancelling again (a new command) changes nothing at the partner and reports the same refund.
    await provider.bus.send(cancel_cmd(bid))
    again = await provider.bus.reply(bid, "ItemCancelled", n=2)
    assert (again.refund, again.fee, again.was_confirmed) == (done.refund, done.fee, True)
    assert (await sandbox.stats())["by_route"][
        f"POST /partner/v1/orders/{order['order_id']}/cancel"
    ] == 1


async def test_an_order_for_an_event_that_has_started_is_refused_as_not_cancellable_not_dead_lettered(
    provider, sandbox, booking_id, item_for
):
    event, tc = await sandbox.bookable(policy="FLEXIBLE", min_left=2)
    bid = booking_id()
    _, c = await confirmed(provider, bid, item_for(event, tc, quantity=2))
    await _move_clock_to(sandbox, event, -1)  # the concert began an hour ago
    try:
        # Handled at once: not an exception retried into the DLQ (and a COMPENSATION_FAILED saga).
        assert await provider.process(cancel_cmd(bid)) == "handled"
        refused = await provider.bus.reply(bid, "ItemRejected")
        assert isinstance(refused, ItemRejected)
        assert (refused.reason_code, refused.partner_code) == ("not_cancellable", "NOT_CANCELLABLE")
        assert "started" in refused.detail
        [order] = await sandbox.orders(f"{bid}:item-1")
        assert order["status"] != "CANCELLED"  # the tickets stand
        [row] = await _items(provider, bid)
        assert (row["status"], row["reason_code"]) == ("CONFIRMED", "not_cancellable")
    finally:
        await sandbox.clock(0)


async def _items(provider, bid: str) -> list[dict]:
    import httpx

    async with httpx.AsyncClient(
        base_url=provider.url, headers=bearer(provider.settings.internal_api_token)
    ) as http:
        resp = await http.get(f"/internal/bookings/{bid}/items")
        assert resp.status_code == 200, resp.text
        return resp.json()["items"]
