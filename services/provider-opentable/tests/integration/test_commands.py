"""HoldItem, ConfirmItem and CancelItem through the running service, the broker, Postgres and the
sandbox over HTTP: replies, one partner effect per command, ghosts, lapsed holds and the policy."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from booking_shared.contracts import (
    ConfirmItem,
    HoldItem,
    ItemCancelled,
    ItemConfirmed,
    ItemHeld,
    ItemHoldLapsed,
    ItemRejected,
    ProviderAnnounced,
)
from booking_shared.contracts.topics import PROVIDER_REGISTRY
from booking_shared.sealed import GuestContact, seal
from booking_shared.testing.plugin import wait_for
from provider_opentable.adapters.partner_client import OpenTableClient
from provider_opentable.adapters.partner_port import GUEST_REQUIREMENTS

from .conftest import COMMANDS, new_booking, restaurant_item, slot


def reference(booking_id: str, item_id: str = "item-1") -> str:
    return f"{booking_id}:{item_id}"


async def deposit(provider, rid: str, party_size: int) -> int:
    rest = (await provider.admin.get(f"/v1/restaurants/{rid}")).json()
    return rest["price_per_cover"]["amount"] * party_size


async def test_the_provider_announces_what_it_books_and_can_do(provider):
    def announced():
        return [
            s.message
            for s in provider.log.records
            if s.topic == PROVIDER_REGISTRY
            and s.envelope.producer == provider.settings.service_name
        ]

    await wait_for(announced, what="ProviderAnnounced")
    [a] = announced()
    assert isinstance(a, ProviderAnnounced) and a.booking_id == "opentable"
    assert (a.provider, a.booking_types, a.commands_topic) == (
        "opentable",
        ["restaurant"],
        COMMANDS,
    )
    caps = a.capabilities
    assert (caps.hold, caps.api_book, caps.cancel, caps.refund_policy, caps.hold_ttl_seconds) == (
        True,
        True,
        True,
        "per_item_policy",
        180,
    )
    assert caps.guest_requirements == GUEST_REQUIREMENTS


async def test_over_the_broker_a_hold_then_a_confirm_book_the_table_once_even_when_resent(provider):
    bid, start = new_booking(), slot()
    item = restaurant_item("rest_001", start, party_size=2)
    hold = HoldItem(booking_id=bid, command_id=uuid.uuid4(), item=item)
    await provider.publish(hold)
    [held] = await provider.log.wait(bid, "ItemHeld")
    assert isinstance(held, ItemHeld) and held.command_id == hold.command_id
    assert (
        held.price.amount_minor == await deposit(provider, "rest_001", 2)
        and held.price.currency == "EUR"
    )
    assert 150 < (held.expires_at - datetime.now(UTC)).total_seconds() <= 180
    assert (await provider.lock(held.hold_id))["state"] == "Active"

    confirm = ConfirmItem(
        booking_id=bid, command_id=uuid.uuid4(), item=item, guest=provider.guest()
    )
    env = await provider.publish(confirm)
    [booked] = await provider.log.wait(bid, "ItemConfirmed")
    assert isinstance(booked, ItemConfirmed) and booked.confirmation_code
    assert booked.partner_reference.startswith("res_") and booked.price == held.price
    assert booked.cancellation_policy.free_until == start - timedelta(
        hours=2
    )  # rest_001: free until 2 h before

    await provider.publish(confirm, env)  # the very same message again: the inbox drops it
    await provider.publish(confirm)  # the saga's resend: same command id, new message
    replies = await provider.log.wait(bid, "ItemConfirmed", count=2)
    await asyncio.sleep(0.3)
    assert len(provider.log.of(bid, "ItemConfirmed")) == 2
    assert replies[0] == replies[1]  # the resend gets the first reply, unchanged

    [stored] = await provider.reservations(reference(bid))
    assert (
        stored["reservation_id"] == booked.partner_reference
        and stored["guest"]["last_name"] == "Silva"
    )
    write = OpenTableClient.request_id_for("make_reservation", str(confirm.command_id))
    assert len(await provider.requests("POST", write)) == 1  # one partner call for three deliveries


async def test_a_guest_the_partner_would_refuse_is_never_sent_and_the_lock_goes_back(provider):
    # Only a BookingRequested that skipped the gateway's check can carry such a guest.
    bid = new_booking()
    item = restaurant_item("rest_004", slot())
    held = await provider.hold(bid, item)
    madonna = GuestContact(first_name="Madonna", email="madonna@example.com")
    cmd = ConfirmItem(
        booking_id=bid,
        command_id=uuid.uuid4(),
        item=item,
        guest=seal(madonna, provider.settings.guest_data_key),
    )
    rejected = await provider._answer(cmd)
    assert isinstance(rejected, ItemRejected) and rejected.reason_code == "invalid_item"
    assert "guest.last_name" in rejected.detail and "guest.phone" in rejected.detail
    write = OpenTableClient.request_id_for("make_reservation", str(cmd.command_id))
    assert await provider.requests("POST", write) == []  # the partner never saw it
    assert (await provider.lock(held.hold_id))["state"] == "Released"
    assert await provider.reservations(reference(bid)) == []


async def test_a_hold_command_handled_twice_locks_one_table(provider):
    bid = new_booking()
    item = restaurant_item("rest_002", slot())
    command_id = uuid.uuid4()
    first = await provider.hold(bid, item, command_id)
    cmd = HoldItem(booking_id=bid, command_id=command_id, item=item)
    assert await provider.process(cmd) == "handled"  # a new message with the same command id
    replies = await provider.log.wait(bid, "ItemHeld", count=2)
    assert replies[0] == replies[1] == first
    write = OpenTableClient.request_id_for("lock_slot", str(command_id))
    assert len(await provider.requests("POST", write)) == 1
    locks = (await provider.admin.get("/_admin/locks")).json()["locks"]
    assert [lock["lock_id"] for lock in locks if lock["restaurant_id"] == "rest_002"] == [
        first.hold_id
    ]


async def test_a_ghost_booking_on_confirm_is_found_and_confirmed_exactly_once(provider):
    bid = new_booking()
    item = restaurant_item("rest_003", slot())
    held = await provider.hold(bid, item)
    async with provider.faults(ghost_next=1):  # the reservation commits, its answer is a 503
        booked = await provider.confirm(bid, item)
    assert isinstance(booked, ItemConfirmed)
    [stored] = await provider.reservations(reference(bid))
    assert stored["reservation_id"] == booked.partner_reference
    assert (
        stored["confirmation_number"] == booked.confirmation_code
        and stored["lock_id"] == held.hold_id
    )
    seen = (await provider.admin.get("/_admin/requests")).json()["requests"]
    assert any(
        r.get("fault") == "ghost" and r["path"].endswith("/rest_003/reservations") for r in seen
    )
    view = (await provider.http.get(f"/internal/bookings/{bid}/items")).json()["items"]
    assert [(i["status"], i["confirmation_code"]) for i in view] == [
        ("CONFIRMED", booked.confirmation_code)
    ]


async def test_a_hold_that_lapses_is_reported_and_cannot_be_confirmed(provider):
    bid = new_booking()
    item = restaurant_item("rest_004", slot())
    async with provider.faults(lock_ttl_seconds=0.5):
        held = await provider.hold(bid, item)
    assert isinstance(held, ItemHeld) and (held.expires_at - datetime.now(UTC)).total_seconds() < 1
    [lapsed] = await provider.log.wait(bid, "ItemHoldLapsed")
    assert (
        isinstance(lapsed, ItemHoldLapsed)
        and lapsed.hold_id == held.hold_id
        and lapsed.item_id == "item-1"
    )

    refused = await provider.confirm(bid, item)
    assert isinstance(refused, ItemRejected) and refused.reason_code == "hold_expired"
    assert (await provider.lock(held.hold_id))["state"] == "Expired"
    assert await provider.reservations(reference(bid)) == []


async def test_a_lock_the_partner_let_expire_is_rejected_as_hold_expired(provider):
    bid = new_booking()
    item = restaurant_item("rest_005", slot())
    await provider.hold(bid, item)
    # Our record still says HELD; only the partner's clock has passed the lock's expiry.
    async with provider.sandbox_clock_at(datetime.now(UTC) + timedelta(seconds=200)):
        refused = await provider.confirm(bid, item)
    assert isinstance(refused, ItemRejected)
    assert (refused.reason_code, refused.partner_code) == ("hold_expired", "lock_expired")
    view = (await provider.http.get(f"/internal/bookings/{bid}/items")).json()["items"]
    assert [(i["status"], i["reason_code"]) for i in view] == [("REJECTED", "hold_expired")]


async def test_a_slot_someone_else_took_is_rejected_as_slot_unavailable(provider):
    bid, start = new_booking(), slot()
    await provider.admin.put("/_admin/restaurants/rest_006/tables", json={"tables": {"2": 1}})
    other = await provider.admin.post(
        "/v1/restaurants/rest_006/slot_locks",
        json={"date_time": start.isoformat(), "party_size": 2},
        headers={"X-Request-Id": str(uuid.uuid4())},
    )
    assert other.status_code == 201
    refused = await provider.hold(bid, restaurant_item("rest_006", start))
    assert isinstance(refused, ItemRejected)
    assert (refused.reason_code, refused.partner_code) == ("slot_unavailable", "no_availability")


async def test_a_table_taken_between_hold_and_confirm_is_rejected_as_slot_taken(provider):
    bid = new_booking()
    item = restaurant_item("rest_007", slot())
    await provider.hold(bid, item)
    async with provider.faults(steal_next_confirm=1):
        refused = await provider.confirm(bid, item)
    assert isinstance(refused, ItemRejected) and refused.reason_code == "slot_taken"
    assert await provider.reservations(reference(bid)) == []


async def test_cancelling_a_held_item_releases_the_lock(provider):
    bid = new_booking()
    item = restaurant_item("rest_008", slot())
    held = await provider.hold(bid, item)
    cancelled = await provider.cancel(bid, "item-1")
    assert isinstance(cancelled, ItemCancelled) and not cancelled.was_confirmed
    assert (cancelled.refund.amount_minor, cancelled.fee.amount_minor) == (0, 0)
    assert (await provider.lock(held.hold_id))["state"] == "Released"
    # A confirm that arrives after the cancel books nothing.
    late = await provider.confirm(bid, item)
    assert isinstance(late, ItemRejected)
    assert await provider.reservations(reference(bid)) == []


async def test_cancelling_a_booking_early_refunds_the_deposit(provider):
    bid = new_booking()
    item = restaurant_item("rest_009", slot(), party_size=4)
    held = await provider.hold(bid, item)
    await provider.confirm(bid, item)
    cancelled = await provider.cancel(bid, "item-1")  # three days ahead; free until 48 h before
    assert isinstance(cancelled, ItemCancelled) and cancelled.was_confirmed
    assert (cancelled.refund, cancelled.fee.amount_minor) == (held.price, 0)
    [stored] = await provider.reservations(reference(bid))
    assert stored["state"] == "CancelledWeb"


async def test_cancelling_late_keeps_the_share_the_policy_names(provider):
    bid, start = new_booking(), slot()
    item = restaurant_item("rest_011", start, party_size=2)  # free until 12 h before, then 50%
    held = await provider.hold(bid, item)
    await provider.confirm(bid, item)
    async with provider.sandbox_clock_at(start - timedelta(hours=6)):
        cancelled = await provider.cancel(bid, "item-1")
    fee = held.price.amount_minor * 50 // 100
    assert isinstance(cancelled, ItemCancelled) and cancelled.was_confirmed
    assert (cancelled.fee.amount_minor, cancelled.refund.amount_minor) == (
        fee,
        held.price.amount_minor - fee,
    )
    [stored] = await provider.reservations(reference(bid))
    assert stored["cancellation_fee"]["amount"] == fee
    again = await provider.cancel(bid, "item-1")  # a second CancelItem: nothing more happens
    assert (again.fee, again.refund) == (cancelled.fee, cancelled.refund)


async def test_a_seated_table_the_restaurant_will_not_cancel_is_a_typed_refusal_not_a_dead_letter(
    provider,
):
    bid = new_booking()
    item = restaurant_item("rest_010", slot(days_ahead=4), party_size=3)
    await provider.hold(bid, item)
    booked = await provider.confirm(bid, item)
    assert isinstance(booked, ItemConfirmed)
    await provider.admin.put(
        f"/_admin/reservations/{booked.partner_reference}/state", json={"state": "Seated"}
    )
    # provider.cancel asserts the router's verdict is "handled": not retried, not dead-lettered.
    refused = await provider.cancel(bid, "item-1")
    assert isinstance(refused, ItemRejected)
    assert (refused.reason_code, refused.partner_code) == ("not_cancellable", "Seated")
    assert "Seated" in refused.detail
    [stored] = await provider.reservations(reference(bid))
    assert stored["state"] == "Seated"  # the table stands: nothing was cancelled
    view = (await provider.http.get(f"/internal/bookings/{bid}/items")).json()
    [row] = view["items"]
    assert (row["status"], row["reason_code"]) == ("CONFIRMED", "not_cancellable")


async def test_fifty_concurrent_hold_commands_for_ten_tables_hold_exactly_ten(provider):
    start = slot()
    await provider.admin.put("/_admin/restaurants/rest_012/tables", json={"tables": {"2": 10}})
    bookings = [new_booking() for _ in range(50)]
    holds = [
        HoldItem(booking_id=b, command_id=uuid.uuid4(), item=restaurant_item("rest_012", start))
        for b in bookings
    ]
    outcomes = await asyncio.gather(*(provider.process(h) for h in holds))
    assert outcomes == ["handled"] * 50
    await wait_for(lambda: all(provider.log.of(b) for b in bookings), what="50 replies")
    replies = [provider.log.of(b)[0] for b in bookings]
    assert sum(isinstance(r, ItemHeld) for r in replies) == 10
    assert {r.reason_code for r in replies if isinstance(r, ItemRejected)} == {"slot_unavailable"}
    locks = (await provider.admin.get("/_admin/locks")).json()["locks"]
    assert len([lock for lock in locks if lock["restaurant_id"] == "rest_012"]) == 10
