"""Booking states as the gateway shows them: the saga's state (saga.state.v1, in order) merged
with outcomes that may arrive first on booking.events.v1 (another topic, so another order)."""

from __future__ import annotations

INITIAL = "REQUESTED"
CONFIRMED = "CONFIRMED"
CANCELLATION_REQUESTED = "CANCELLATION_REQUESTED"
# PARTIALLY_CANCELLED: the cancellation is over but a partner refused some item (it stands).
FINAL = frozenset(
    {"CONFIRMED", "FAILED", "CANCELLED", "PARTIALLY_CANCELLED", "COMPENSATION_FAILED"}
)

RANK = {
    "REQUESTED": 0,
    "HOLDING": 1,
    "AUTHORIZING": 2,
    "ACTION_REQUIRED": 2,
    "CONFIRMING": 3,
    "CAPTURING": 4,
    "COMPENSATING": 5,
    "CONFIRMED": 6,
    "FAILED": 6,
    "COMPENSATION_FAILED": 6,
    "CANCELLATION_REQUESTED": 7,
    "CANCELLING": 7,
    "CANCELLED": 8,
    "PARTIALLY_CANCELLED": 8,
}


def rank(state: str | None) -> int:
    return RANK.get(state or "", 0)


def display(saga_state: str | None, outcome: str | None) -> str:
    """An outcome ahead of the saga state wins; otherwise the saga state."""
    current = saga_state or INITIAL
    if outcome and rank(outcome) > rank(current):
        return outcome
    return current


def apply_saga_state(
    outcome: str | None, from_state: str | None, to_state: str
) -> tuple[str, str | None]:
    """New (saga_state, outcome) after SagaStateChanged. Once the saga has moved from or to a
    state at or beyond the outcome, the saga is authoritative again (e.g. a refused cancellation)."""
    if outcome and (
        rank(to_state) >= rank(outcome) or (from_state and rank(from_state) >= rank(outcome))
    ):
        outcome = None
    return to_state, outcome


def is_final(state: str) -> bool:
    return state in FINAL
