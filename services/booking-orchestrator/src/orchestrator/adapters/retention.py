"""The orchestrator's retention rules (booking_shared.retention; policy in docs/RETENTION.md).
Sagas, their items and steps are the bookings' record and stay; what goes is the history of a
saga long over, and the sealed guest once no command will ever carry it again."""

from __future__ import annotations

from collections.abc import Iterable

from booking_shared.retention import Rule
from orchestrator.config import Settings
from orchestrator.domain.model import FINAL, SETTLED, SagaState


def _states(states: Iterable[SagaState]) -> str:
    return "ARRAY[" + ", ".join(f"'{s.value}'" for s in sorted(states)) + "]"


# Nothing of the saga can still move: no deadline (so no step waiting for an answer, no timer),
# not paused, no message parked for a resume.
_AT_REST = (
    " AND NOT s.paused"
    " AND NOT EXISTS (SELECT 1 FROM deadlines d WHERE d.booking_id = s.booking_id)"
    " AND NOT EXISTS (SELECT 1 FROM parked_messages p WHERE p.booking_id = s.booking_id)"
)


def _history(name: str, keep_s: float, states: Iterable[SagaState]) -> Rule:
    return Rule(
        name,
        keep_s,
        "DELETE FROM saga_history WHERE id IN (SELECT h.id FROM sagas s JOIN saga_history h ON h.booking_id = s.booking_id"
        f" WHERE s.state = ANY({_states(states)}) AND s.updated_at < now() - make_interval(secs => $1)"
        + _AT_REST
        + " LIMIT $2 FOR UPDATE OF h SKIP LOCKED)",
    )


def rules(settings: Settings) -> list[Rule]:
    return [
        _history("saga_history", settings.retention_history_s, FINAL),
        _history(
            "saga_history_confirmed", settings.retention_history_confirmed_s, {SagaState.CONFIRMED}
        ),
        # The sealed guest is in the saga row and in its ConfirmItem commands (kept for resends):
        # wiped together once the saga is settled; a cancellation needs no guest.
        Rule(
            "saga_guest",
            settings.retention_guest_s,
            "WITH picked AS (SELECT s.booking_id FROM sagas s"
            f" WHERE s.guest <> '' AND s.state = ANY({_states(SETTLED)})"
            " AND s.updated_at < now() - make_interval(secs => $1)"
            + _AT_REST
            + " ORDER BY s.updated_at LIMIT $2 FOR UPDATE OF s SKIP LOCKED),"
            " steps AS (UPDATE saga_steps st SET command = jsonb_set(st.command, '{guest}', '\"\"')"
            "   FROM picked WHERE st.booking_id = picked.booking_id AND st.command ? 'guest')"
            " UPDATE sagas s SET guest = '' FROM picked WHERE s.booking_id = picked.booking_id",
        ),
    ]
