"""Prometheus metrics of the saga (served on /metrics with the plumbing's)."""

from prometheus_client import Counter

SAGA_TRANSITIONS = Counter(
    "booking_saga_transitions_total", "Saga state changes, by the state entered.", ["to_state"]
)
SAGA_DEADLINES = Counter(
    "booking_saga_deadlines_fired_total", "Deadlines fired by the deadline worker, by kind.", ["kind"]
)
SAGA_OPERATOR_ACTIONS = Counter(
    "booking_saga_operator_actions_total", "Operator actions on sagas.", ["action"]
)
SAGA_ESCALATIONS = Counter(
    "booking_saga_escalations_total",
    "Sagas flagged for operators without failing (e.g. a capture nobody answers), by the step.",
    ["kind"],
)
