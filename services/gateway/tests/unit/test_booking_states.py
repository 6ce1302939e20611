"""The projection's state: saga states in order, outcomes from another topic that may come first."""

from __future__ import annotations

from gateway.domain.states import apply_saga_state, display, is_final


def test_an_outcome_ahead_of_the_saga_state_is_shown():
    assert display("CAPTURING", "CONFIRMED") == "CONFIRMED"


def test_a_late_saga_state_does_not_take_the_booking_back():
    saga, outcome = apply_saga_state("CONFIRMED", "CONFIRMING", "CAPTURING")
    assert display(saga, outcome) == "CONFIRMED"


def test_the_saga_catching_up_clears_the_outcome():
    assert apply_saga_state("CONFIRMED", "CAPTURING", "CONFIRMED") == ("CONFIRMED", None)


def test_a_refused_cancellation_returns_to_confirmed():
    saga, outcome = apply_saga_state("CANCELLATION_REQUESTED", "CONFIRMED", "CANCELLING")
    assert display(saga, outcome) == "CANCELLING"
    saga, outcome = apply_saga_state(outcome, "CANCELLING", "CONFIRMED")
    assert display(saga, outcome) == "CONFIRMED"


def test_an_operator_compensation_after_compensation_failed_shows():
    saga, outcome = apply_saga_state(None, "COMPENSATION_FAILED", "COMPENSATING")
    assert display(saga, outcome) == "COMPENSATING"


def test_a_partial_cancellation_is_final_and_ahead_of_cancelling():
    saga, outcome = apply_saga_state(None, "CANCELLING", "PARTIALLY_CANCELLED")
    assert is_final(display(saga, outcome))
    assert display("CANCELLING", "PARTIALLY_CANCELLED") == "PARTIALLY_CANCELLED"


def test_final_states():
    assert all(
        is_final(s)
        for s in ("CONFIRMED", "FAILED", "CANCELLED", "PARTIALLY_CANCELLED", "COMPENSATION_FAILED")
    )
    assert not any(
        is_final(s)
        for s in ("REQUESTED", "ACTION_REQUIRED", "CANCELLATION_REQUESTED", "CANCELLING")
    )
