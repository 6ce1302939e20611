"""The client's pure rules: state normalisation, request ids, the token bucket."""

from __future__ import annotations

import pytest
from provider_opentable.adapters.partner_client import (
    OpenTableClient,
    ReservationResult,
    Status,
    normalise_lock_state,
    normalise_reservation_state,
)
from provider_opentable.adapters.rate_limit import TokenBucket


@pytest.mark.parametrize(
    ("partner", "ours"),
    [
        ("Pending", Status.PENDING),
        ("Confirmed", Status.CONFIRMED),
        ("Seated", Status.CONFIRMED),
        ("Done", Status.CONFIRMED),
        ("NoShow", Status.CONFIRMED),
        ("CancelledWeb", Status.CANCELLED),
        ("CancelledRestaurant", Status.CANCELLED),
        ("Cancelled", Status.CANCELLED),
        ("SomethingNew", Status.FAILED),
        (None, Status.FAILED),
    ],
)
def test_reservation_states_are_normalised(partner, ours):
    assert normalise_reservation_state(partner) is ours


def test_lock_states_are_normalised():
    assert normalise_lock_state("Active") is Status.HELD
    assert normalise_lock_state("Expired") is Status.REJECTED
    assert normalise_lock_state("Released") is Status.CANCELLED


def test_a_result_keeps_the_partner_state_beside_the_normalised_one():
    result = ReservationResult.parse({"state": "Seated", "reservation_id": "res_1"})
    assert (result.status, result.partner_status, result.ok) == (Status.CONFIRMED, "Seated", True)


def test_request_ids_derive_from_the_key_and_the_operation():
    same = OpenTableClient.request_id_for("lock_slot", "cmd-1")
    assert same == OpenTableClient.request_id_for("lock_slot", "cmd-1")
    assert same != OpenTableClient.request_id_for("lock_slot", "cmd-2")
    assert same != OpenTableClient.request_id_for("make_reservation", "cmd-1")


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))


async def test_the_bucket_lets_a_burst_through_then_spaces_callers_out():
    t = FakeTime()
    bucket = TokenBucket(rate=10, burst=3, clock=t.clock, sleep=t.sleep)
    for _ in range(5):
        await bucket.acquire()
    assert t.sleeps == [0.1, 0.2]


async def test_the_bucket_refills_with_time_up_to_its_burst():
    t = FakeTime()
    bucket = TokenBucket(rate=10, burst=2, clock=t.clock, sleep=t.sleep)
    await bucket.acquire()
    await bucket.acquire()
    t.now = 60.0
    for _ in range(3):
        await bucket.acquire()
    assert t.sleeps == [0.1]


async def test_no_rate_means_no_waiting():
    t = FakeTime()
    bucket = TokenBucket(rate=None, clock=t.clock, sleep=t.sleep)
    for _ in range(100):
        await bucket.acquire()
    assert t.sleeps == []
