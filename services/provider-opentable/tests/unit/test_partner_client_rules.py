"""The client's pure rules: state normalisation, request ids (the token bucket is shared: see
shared/tests/unit/test_partner_http.py)."""

from __future__ import annotations

import pytest

from provider_opentable.adapters.partner_client import (
    OpenTableClient,
    ReservationResult,
    Status,
    normalise_lock_state,
    normalise_reservation_state,
)


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


async def test_ids_are_quoted_as_one_path_segment_and_never_reach_another_resource():
    import httpx

    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={"error": "not_found"})

    client = OpenTableClient(
        "http://partner.test", transport=httpx.MockTransport(record), rate_per_second=None
    )
    async with client:
        assert await client.get_restaurant("../reservations/r1?cancel=1#") is None
        assert await client.get_reservation("r 1/%2e") is None
        with pytest.raises(ValueError):
            await client.get_restaurant("..")
    assert seen[0].url.raw_path.decode() == "/v1/restaurants/..%2Freservations%2Fr1%3Fcancel%3D1%23"
    assert seen[1].url.raw_path.decode() == "/v1/reservations/r%201%2F%252e"
    assert len(seen) == 2
