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
