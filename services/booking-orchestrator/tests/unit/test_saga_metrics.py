"""The saga's counters and step histogram move with what each save changes."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY

from orchestrator.domain.model import ReplyReceived, SagaState
from orchestrator.domain.saga import start
from orchestrator.metrics import observe_saved

from .sagas import NOW, apply, ctx, held, rejected, request


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_step_answered_is_timed_from_its_command_to_its_answer() -> None:
    saga = start(request(), ctx()).saga
    observe_saved(saga, None)  # every step open: nothing timed yet
    count = sample(
        "booking_saga_step_duration_seconds_count", kind="hold", phase="forward", outcome="done"
    )
    total = sample(
        "booking_saga_step_duration_seconds_sum", kind="hold", phase="forward", outcome="done"
    )

    after = apply(saga, ReplyReceived(held(saga, "item-2")), at=NOW + timedelta(seconds=2)).saga
    observe_saved(after, saga)
    assert (
        sample(
            "booking_saga_step_duration_seconds_count", kind="hold", phase="forward", outcome="done"
        )
        == count + 1
    )
    assert (
        sample(
            "booking_saga_step_duration_seconds_sum", kind="hold", phase="forward", outcome="done"
        )
        == total + 2.0
    )

    observe_saved(after, after)  # saved again with no change: not timed twice
    assert (
        sample(
            "booking_saga_step_duration_seconds_count", kind="hold", phase="forward", outcome="done"
        )
        == count + 1
    )


def test_a_rejected_hold_starts_a_compensation_and_its_failed_step_is_timed() -> None:
    saga = start(request(), ctx()).saga
    saga = apply(saga, ReplyReceived(held(saga, "item-2")), at=NOW + timedelta(seconds=1)).saga
    started = sample("booking_saga_compensations_total", outcome="started")
    failed_steps = sample(
        "booking_saga_step_duration_seconds_count", kind="hold", phase="forward", outcome="failed"
    )

    after = apply(
        saga, ReplyReceived(rejected(saga, "hold:item-1")), at=NOW + timedelta(seconds=3)
    ).saga
    assert after.state == SagaState.COMPENSATING
    observe_saved(after, saga)
    assert sample("booking_saga_compensations_total", outcome="started") == started + 1
    assert (
        sample(
            "booking_saga_step_duration_seconds_count",
            kind="hold",
            phase="forward",
            outcome="failed",
        )
        == failed_steps + 1
    )


def test_compensation_failed_is_counted_when_a_saga_enters_it() -> None:
    saga = start(request(), ctx()).saga
    compensating = saga.__class__(**{**saga.__dict__, "state": SagaState.COMPENSATING})
    stuck = saga.__class__(**{**saga.__dict__, "state": SagaState.COMPENSATION_FAILED})
    done = saga.__class__(**{**saga.__dict__, "state": SagaState.FAILED})
    failed = sample("booking_saga_compensations_total", outcome="failed")
    completed = sample("booking_saga_compensations_total", outcome="completed")
    observe_saved(stuck, compensating)
    observe_saved(done, compensating)
    assert sample("booking_saga_compensations_total", outcome="failed") == failed + 1
    assert sample("booking_saga_compensations_total", outcome="completed") == completed + 1
