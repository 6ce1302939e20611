"""Prometheus metrics of the saga (served on /metrics with the plumbing's).

Counters and the step histogram move as sagas are saved (`observe_saved`, called by the
repository in the saga's own transaction). The gauges of sagas by state are read from the saga
table at each scrape (`refresh_sagas`), so they are right across restarts and instances.
"""

from __future__ import annotations

import asyncpg
from prometheus_client import Counter, Gauge, Histogram

from orchestrator.domain.model import OPEN_STEP, SETTLED, Saga, SagaState

SAGA_TRANSITIONS = Counter(
    "booking_saga_transitions_total", "Saga state changes, by the state entered.", ["to_state"]
)
SAGA_DEADLINES = Counter(
    "booking_saga_deadlines_fired_total",
    "Deadlines fired by the deadline worker, by kind.",
    ["kind"],
)
SAGA_OPERATOR_ACTIONS = Counter(
    "booking_saga_operator_actions_total", "Operator actions on sagas.", ["action"]
)
SAGA_ESCALATIONS = Counter(
    "booking_saga_escalations_total",
    "Sagas flagged for operators without failing (e.g. a capture nobody answers), by the step.",
    ["kind"],
)
SAGAS = Gauge(
    "booking_sagas", "Sagas in the saga table, by state (paused ones included).", ["state"]
)
SAGAS_PAUSED = Gauge("booking_sagas_paused", "Sagas an operator paused.")
SAGAS_ATTENTION = Gauge(
    "booking_sagas_needing_attention", "Sagas flagged for an operator without having failed."
)
SAGA_OLDEST = Gauge(
    "booking_saga_oldest_in_state_seconds",
    "Time since the oldest saga in a state that still moves entered it (0 when none is there).",
    ["state"],
)
SAGA_STEP_SECONDS = Histogram(
    "booking_saga_step_duration_seconds",
    "From a step's command to the answer (or deadline) that closed it, by kind, phase and outcome.",
    ["kind", "phase", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
SAGA_COMPENSATIONS = Counter(
    "booking_saga_compensations_total",
    "Compensations (undoing a booking that failed before capture), by outcome: started, "
    "completed (the saga FAILED cleanly) or failed (COMPENSATION_FAILED: an operator must finish it).",
    ["outcome"],
)

MOVING = [s for s in SagaState if s not in SETTLED]


def observe_saved(saga: Saga, before: Saga | None) -> None:
    """Count what one save of a saga changed: steps closed (with their duration) and the
    compensation entered or ended."""
    old_steps = before.steps if before else {}
    for name, step in saga.steps.items():
        was = old_steps.get(name)
        if step.status in OPEN_STEP or (was is not None and was.status not in OPEN_STEP):
            continue
        if step.created_at is not None:
            seconds = max(0.0, (saga.updated_at - step.created_at).total_seconds())
            SAGA_STEP_SECONDS.labels(
                step.kind, step.phase.value, step.status.value.lower()
            ).observe(seconds)
    prev = before.state if before else None
    if saga.state == prev:
        return
    if saga.state == SagaState.COMPENSATING:
        SAGA_COMPENSATIONS.labels("started").inc()
    elif prev == SagaState.COMPENSATING and saga.state == SagaState.FAILED:
        SAGA_COMPENSATIONS.labels("completed").inc()
    elif saga.state == SagaState.COMPENSATION_FAILED:
        SAGA_COMPENSATIONS.labels("failed").inc()


async def refresh_sagas(pool: asyncpg.Pool) -> None:
    """Sagas by state, paused, flagged, and the oldest per moving state, from the saga table."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT state, count(*) AS n, extract(epoch FROM now() - min(state_changed_at)) AS oldest
                 FROM sagas GROUP BY state"""
        )
        counts = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE paused), count(*) FILTER (WHERE attention IS NOT NULL) FROM sagas"
        )
    assert counts is not None  # an aggregate without GROUP BY always returns one row
    paused, attention = counts
    by_state = {r["state"]: r for r in rows}
    for state in SagaState:
        r = by_state.get(state.value)
        SAGAS.labels(state.value).set(r["n"] if r else 0)
        if state in MOVING:
            SAGA_OLDEST.labels(state.value).set(max(0.0, float(r["oldest"])) if r else 0.0)
    SAGAS_PAUSED.set(paused)
    SAGAS_ATTENTION.set(attention)
