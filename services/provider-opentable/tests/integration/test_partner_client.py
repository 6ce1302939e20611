"""The partner client against a real sandbox: the booking flow, ghosts, expiry, steals, retries, limits."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import UTC, datetime

import pytest

from provider_opentable.adapters.partner_client import (
    OpenTableClient,
    PartnerRequestError,
    PartnerUnavailable,
    Status,
)


async def v1_requests(admin, method: str | None = None, path_end: str = "") -> list[dict]:
    seen = (await admin.get("/_admin/requests")).json()["requests"]
    return [
        r
        for r in seen
        if (method is None or r["method"] == method) and r["path"].endswith(path_end)
    ]


async def ours(admin, ref: str) -> list[dict]:
    reservations = (await admin.get("/_admin/reservations")).json()["reservations"]
    return [r for r in reservations if r["partner_reference"] == ref]


async def test_books_a_table_finds_it_by_reference_and_cancels_it_with_the_policy_fee(
    client, admin, dinner, guest, ref
):
    found = await client.search(city="Lisbon", q="Taberna do Mar")
    restaurant = next(r for r in found if r.id == "rest_001")
    assert restaurant.time_zone == "Europe/Lisbon"
    assert restaurant.price_per_cover.currency == "EUR"

    availability = await client.availability("rest_001", dinner.date(), 2, time="19:30")
    slot = next(s for s in availability.slots if s.date_time == dinner)
    assert slot.available and slot.tables_left > 0

    hold = await client.lock_slot("rest_001", slot.date_time, 2, idempotency_key=f"{ref}:hold")
    assert hold.status is Status.HELD and hold.partner_status == "Active"
    assert 170 <= (hold.expires_at - datetime.now(UTC)).total_seconds() <= 181

    booked = await client.make_reservation(
        "rest_001", hold.lock_id, ref, guest, "window seat", idempotency_key=f"{ref}:confirm"
    )
    assert booked.status is Status.CONFIRMED and booked.partner_status == "Confirmed"
    assert booked.confirmation_number and booked.reservation_id
    assert booked.deposit.amount == restaurant.price_per_cover.amount * 2

    by_ref = await client.find_reservation_by_reference(ref)
    assert by_ref.reservation_id == booked.reservation_id
    assert (await client.get_reservation(booked.reservation_id)).status is Status.CONFIRMED
    assert await client.get_reservation("res_missing") is None

    # Move the sandbox clock inside the late-cancellation window.
    policy = restaurant.cancellation_policy
    hours_left = policy.free_until_hours_before / 2
    offset = (dinner - datetime.now(UTC)).total_seconds() - hours_left * 3600
    await admin.put("/_admin/clock", json={"offset_seconds": offset})

    cancelled = await client.cancel_reservation(
        booked.reservation_id, idempotency_key=f"{ref}:cancel"
    )
    assert cancelled.status is Status.CANCELLED and cancelled.partner_status == "CancelledWeb"
    assert (
        cancelled.cancellation_fee.amount == booked.deposit.amount * policy.late_fee_percent // 100
    )
    assert cancelled.cancellation_fee.amount > 0

    again = await client.cancel_reservation(
        booked.reservation_id, idempotency_key=f"{ref}:cancel-2"
    )
    assert again.status is Status.CANCELLED and again.reason == "already_cancelled"


async def test_cancelling_early_is_free(client, dinner, guest, ref):
    hold = await client.lock_slot("rest_002", dinner, 2, idempotency_key=f"{ref}:hold")
    booked = await client.make_reservation(
        "rest_002", hold.lock_id, ref, guest, idempotency_key=f"{ref}:confirm"
    )
    cancelled = await client.cancel_reservation(
        booked.reservation_id, idempotency_key=f"{ref}:cancel"
    )
    assert cancelled.status is Status.CANCELLED
    assert cancelled.cancellation_fee.amount == 0


async def test_a_full_slot_is_a_rejection_not_an_exception(client, admin, dinner):
    await admin.put("/_admin/restaurants/rest_003/tables", json={"tables": {"2": 1}})
    first = await client.lock_slot("rest_003", dinner, 2, idempotency_key="a")
    second = await client.lock_slot("rest_003", dinner, 2, idempotency_key="b")
    assert first.status is Status.HELD
    assert second.status is Status.REJECTED
    assert (second.reason, second.partner_status) == ("slot_unavailable", "no_availability")


async def test_fifty_concurrent_holds_through_the_client_give_exactly_ten(
    make_client, admin, dinner
):
    await admin.put("/_admin/restaurants/rest_004/tables", json={"tables": {"2": 10}})
    client = make_client(max_concurrency=50)
    holds = await asyncio.gather(
        *(client.lock_slot("rest_004", dinner, 2, idempotency_key=f"h{i}") for i in range(50))
    )
    assert sum(h.status is Status.HELD for h in holds) == 10
    assert {h.reason for h in holds if h.status is Status.REJECTED} == {"slot_unavailable"}


@pytest.mark.parametrize("mode", ["5xx", "timeout"])
async def test_a_ghost_booking_is_found_by_reference_and_never_doubled(
    make_client, admin, dinner, guest, ref, mode
):
    client = make_client(timeout=0.3)
    await admin.put(
        "/_admin/faults", json={"ghost_rate": 1, "ghost_mode": mode, "ghost_delay_ms": 700}
    )

    hold = await client.lock_slot("rest_005", dinner, 2, idempotency_key=f"{ref}:hold")
    assert hold.status is Status.HELD  # the retry with the same X-Request-Id got the first answer
    booked = await client.make_reservation(
        "rest_005", hold.lock_id, ref, guest, idempotency_key=f"{ref}:confirm"
    )
    assert booked.status is Status.CONFIRMED
    assert booked.recovered  # found by our reference, not by a second write
    assert len(await v1_requests(admin, "POST", "/reservations")) == 1

    await admin.patch("/_admin/faults", json={"ghost_rate": 0})
    # The caller retrying the whole step (same key) gets the same booking back.
    again = await client.make_reservation(
        "rest_005", hold.lock_id, ref, guest, idempotency_key=f"{ref}:confirm"
    )
    assert again.reservation_id == booked.reservation_id
    # Even a new key cannot double-book the same reference.
    other = await client.make_reservation(
        "rest_005", hold.lock_id, ref, guest, idempotency_key=f"{ref}:confirm-other"
    )
    assert other.reservation_id == booked.reservation_id
    assert len(await ours(admin, ref)) == 1
    assert len((await admin.get("/_admin/locks")).json()["locks"]) == 1


async def test_an_expired_hold_is_rejected_as_hold_expired(client, admin, dinner, guest, ref):
    hold = await client.lock_slot("rest_006", dinner, 2, idempotency_key=f"{ref}:hold")
    await admin.put("/_admin/clock", json={"offset_seconds": 200})

    booked = await client.make_reservation(
        "rest_006", hold.lock_id, ref, guest, idempotency_key=f"{ref}:confirm"
    )
    assert booked.status is Status.REJECTED
    assert (booked.reason, booked.partner_status) == ("hold_expired", "lock_expired")
    assert await ours(admin, ref) == []


async def test_a_short_lock_ttl_makes_holds_expire_early(client, admin, dinner, guest, ref):
    await admin.put("/_admin/faults", json={"lock_ttl_seconds": 0.2})
    hold = await client.lock_slot("rest_006", dinner, 2, idempotency_key=f"{ref}:hold")
    await asyncio.sleep(0.3)
    booked = await client.make_reservation(
        "rest_006", hold.lock_id, ref, guest, idempotency_key=f"{ref}:confirm"
    )
    assert (booked.status, booked.reason) == (Status.REJECTED, "hold_expired")


async def test_a_table_taken_between_hold_and_confirm_is_rejected_as_slot_taken(
    client, admin, dinner, guest, ref
):
    await admin.put("/_admin/faults", json={"steal_next_confirm": True})
    hold = await client.lock_slot("rest_007", dinner, 2, idempotency_key=f"{ref}:hold")
    booked = await client.make_reservation(
        "rest_007", hold.lock_id, ref, guest, idempotency_key=f"{ref}:confirm"
    )
    assert (booked.status, booked.reason, booked.partner_status) == (
        Status.REJECTED,
        "slot_taken",
        "slot_taken",
    )
    assert await ours(admin, ref) == []
    everyone = (await admin.get("/_admin/reservations")).json()["reservations"]
    assert [r["source"] for r in everyone] == ["other_channel"]
    assert (await admin.get("/_admin/faults")).json()["steal_next_confirm"] == 0


async def test_a_reject_rate_refuses_reservations_without_using_a_table(
    client, admin, dinner, guest, ref
):
    await admin.put("/_admin/restaurants/rest_009/tables", json={"tables": {"2": 1}})
    await admin.put("/_admin/faults", json={"confirm_reject_rate": 1.0})
    hold = await client.lock_slot("rest_009", dinner, 2, idempotency_key=f"{ref}:hold")
    booked = await client.make_reservation(
        "rest_009", hold.lock_id, ref, guest, idempotency_key=f"{ref}:confirm"
    )
    assert (booked.status, booked.reason) == (Status.REJECTED, "slot_taken")
    assert (await admin.get("/_admin/reservations")).json()["reservations"] == []
    await admin.put("/_admin/faults", json={"confirm_reject_rate": 0})
    # the only table is free again
    again = await client.lock_slot("rest_009", dinner, 2, idempotency_key=f"{ref}:hold2")
    assert again.status is Status.HELD


async def test_releasing_a_hold_frees_the_table(client, admin, dinner):
    await admin.put("/_admin/restaurants/rest_008/tables", json={"tables": {"2": 1}})
    hold = await client.lock_slot("rest_008", dinner, 2, idempotency_key="h1")
    released = await client.release_lock("rest_008", hold.lock_id, idempotency_key="r1")
    assert (released.status, released.partner_status) == (Status.CANCELLED, "Released")
    assert (
        await client.lock_slot("rest_008", dinner, 2, idempotency_key="h2")
    ).status is Status.HELD
    unknown = await client.release_lock("rest_008", "lk_unknown", idempotency_key="r2")
    assert (unknown.status, unknown.reason) == (Status.CANCELLED, "hold_not_found")


async def test_5xx_answers_are_retried_until_success(client, admin):
    await admin.put("/_admin/faults", json={"fail_next": 2})
    found = await client.search(city="Lisbon")
    assert len(found) == 30
    seen = await v1_requests(admin, "GET", "/restaurants")
    assert [r.get("fault") for r in seen] == ["error", "error", None]


async def test_writes_retried_after_5xx_keep_their_request_id(client, admin, dinner):
    await admin.put("/_admin/faults", json={"fail_next": 2})
    hold = await client.lock_slot("rest_009", dinner, 2, idempotency_key="k")
    assert hold.status is Status.HELD
    seen = await v1_requests(admin, "POST", "/slot_locks")
    assert len(seen) == 3
    assert {r["request_id"] for r in seen} == {OpenTableClient.request_id_for("lock_slot", "k")}


async def test_4xx_answers_are_not_retried(client, admin, dinner):
    await admin.put("/_admin/faults", json={"error_rate": 0})
    bad = await client.lock_slot("rest_009", dinner, 0, idempotency_key="bad")
    assert (bad.status, bad.reason) == (Status.REJECTED, "invalid_request")
    assert "party_size" in bad.detail
    with pytest.raises(PartnerRequestError) as refused:
        await client.availability("rest_009", "2026-02-30", 2)
    assert refused.value.field == "date"
    assert len(await v1_requests(admin, "POST", "/slot_locks")) == 1
    assert len(await v1_requests(admin, "GET", "/availability")) == 1


async def test_an_outage_raises_partner_unavailable_after_the_retries(make_client, admin):
    await admin.put("/_admin/faults", json={"error_rate": 1})
    client = make_client(max_retries=2)
    with pytest.raises(PartnerUnavailable) as outage:
        await client.get_restaurant("rest_001")
    assert outage.value.attempts == 3
    assert len(await v1_requests(admin, "GET")) == 3


async def test_a_partner_that_does_not_answer_raises_partner_unavailable(make_client):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    client = make_client(base_url=f"http://127.0.0.1:{closed_port}", max_retries=1)
    with pytest.raises(PartnerUnavailable):
        await client.search()


async def test_the_rate_limit_queues_calls_instead_of_failing(make_client):
    client = make_client(rate_per_second=20)
    started = time.perf_counter()
    found = await asyncio.gather(*(client.get_restaurant("rest_001") for _ in range(30)))
    elapsed = time.perf_counter() - started
    assert all(r is not None for r in found)
    assert elapsed >= 0.45  # a burst of 20, then 10 more at 20/s


async def test_the_concurrency_limit_queues_calls_instead_of_failing(make_client, admin):
    await admin.put("/_admin/faults", json={"latency_ms": 100})
    client = make_client(max_concurrency=4)
    started = time.perf_counter()
    found = await asyncio.gather(*(client.get_restaurant("rest_001") for _ in range(12)))
    elapsed = time.perf_counter() - started
    assert all(r is not None for r in found)
    assert elapsed >= 0.29  # three waves of four


async def test_restaurant_side_states_are_normalised_and_a_seated_table_cannot_be_cancelled(
    client, admin, dinner, guest, ref
):
    hold = await client.lock_slot("rest_010", dinner, 2, idempotency_key=f"{ref}:hold")
    booked = await client.make_reservation(
        "rest_010", hold.lock_id, ref, guest, idempotency_key=f"{ref}:confirm"
    )
    await admin.put(f"/_admin/reservations/{booked.reservation_id}/state", json={"state": "Seated"})
    seated = await client.get_reservation(booked.reservation_id)
    assert (seated.status, seated.partner_status) == (Status.CONFIRMED, "Seated")

    refused = await client.cancel_reservation(
        booked.reservation_id, idempotency_key=f"{ref}:cancel"
    )
    assert (refused.status, refused.partner_status, refused.reason) == (
        Status.REJECTED,
        "Seated",
        "not_cancellable",
    )


async def test_a_hold_with_an_unparseable_time_is_rejected_naming_the_field(client):
    hold = await client.lock_slot("rest_010", "next friday", 2, idempotency_key="garbage")
    assert (hold.status, hold.reason, hold.date_time) == (Status.REJECTED, "invalid_request", None)
    assert hold.detail.startswith("date_time")
