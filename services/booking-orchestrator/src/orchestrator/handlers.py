"""Use cases of the orchestrator: load the saga, apply the pure saga function, write the new
state, the history and the outgoing messages (outbox) in the caller's one transaction."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
from opentelemetry.trace import Span

from booking_shared import outbox, tracing
from booking_shared.contracts import (
    BookingCancellationRequested,
    BookingRequested,
    Envelope,
    Message,
    ProviderAnnounced,
    model_for,
)
from booking_shared.contracts.topics import dlq
from booking_shared.db import Connection
from booking_shared.logs import booking_id_var
from booking_shared.messaging import Handling
from orchestrator.adapters import traces
from orchestrator.adapters.repository import SagaRepository
from orchestrator.config import Settings
from orchestrator.domain.history import HistoryRow, Received, history_row, received, rows, summarize
from orchestrator.domain.model import (
    CancellationRequested,
    Context,
    DeadlineDue,
    Decision,
    Input,
    OperatorAction,
    OperatorKind,
    Policy,
    ReplyReceived,
    Saga,
    SagaState,
    Send,
)
from orchestrator.domain.saga import decide, start
from orchestrator.metrics import (
    SAGA_DEADLINES,
    SAGA_ESCALATIONS,
    SAGA_OPERATOR_ACTIONS,
    SAGA_TRANSITIONS,
)

log = logging.getLogger(__name__)


@dataclass
class Deps:
    """What the handlers need besides the transaction (built once in bootstrap)."""

    producer: str
    schema: str
    policy: Policy
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # Creates Kafka topics (the service creates every topic it produces to); None in unit tests.
    create_topics: Callable[[list[str]], Awaitable[None]] | None = None


class SagaNotFound(Exception):
    pass


async def _context(repo: SagaRepository, deps: Deps, saga: Saga | None = None) -> Context:
    # Only routing reads the provider directory: a saga past REQUESTED never does.
    needs_directory = saga is None or saga.state == SagaState.REQUESTED
    directory = await repo.directory() if needs_directory else {}
    return Context(now=deps.clock(), policy=deps.policy, directory=directory)


async def _emit(
    conn: Connection,
    repo: SagaRepository,
    decision: Decision,
    deps: Deps,
    cause: Envelope | None,
    incoming: Received | HistoryRow | None = None,
) -> None:
    """Outgoing commands and events through the outbox, each one also in the history (after
    `incoming`, the message or the action that caused them; all rows in one round trip)."""
    if cause is None and tracing.enabled() and tracing.current_traceparent() is None:
        # A timer (a deadline): continue the booking's trace rather than start one.
        parent = await traces.recall(conn, decision.saga.booking_id)
        with tracing.span("saga deadline", {"booking.id": decision.saga.booking_id}, parent=parent):
            await _emit_now(conn, repo, decision, deps, cause, incoming)
        return
    await _emit_now(conn, repo, decision, deps, cause, incoming)


async def _emit_now(
    conn: Connection,
    repo: SagaRepository,
    decision: Decision,
    deps: Deps,
    cause: Envelope | None,
    incoming: Received | HistoryRow | None,
) -> None:
    tracing.annotate({"saga.state": decision.saga.state.value})
    message_ids = []
    for send in decision.sends:
        with _step_span(decision, send):
            env = await outbox.enqueue(
                conn,
                send.topic,
                send.message,
                producer=deps.producer,
                schema=deps.schema,
                cause=cause,
            )
        message_ids.append(env.message_id)
    await repo.record_many(rows(decision.saga.booking_id, incoming, decision.sends, message_ids))
    for before, to, reason in decision.transitions:
        SAGA_TRANSITIONS.labels(to.value).inc()
        tracing.event(
            "saga state changed",
            {"saga.from": str(before), "saga.to": to.value, "saga.reason": reason},
        )
        log.info(
            "saga state changed",
            extra={
                "booking_id": decision.saga.booking_id,
                "from": before,
                "to": to.value,
                "reason": reason,
            },
        )


def _step_span(decision: Decision, send: Send) -> AbstractContextManager[Span | None]:
    """A span per command or event the saga sends: the step it belongs to, and the booking."""
    message = send.message
    command_id = getattr(message, "command_id", None)
    return tracing.span(
        f"saga send {message.type_name()}",
        {
            "booking.id": decision.saga.booking_id,
            "saga.state": decision.saga.state.value,
            "saga.command_id": str(command_id) if command_id is not None else None,
            "messaging.destination.name": send.topic,
        },
    )


def _received(h: Handling, note: str = "") -> Received:
    return Received(h.message, h.envelope.type, h.topic, h.envelope.message_id, note)


async def _record_in(repo: SagaRepository, h: Handling, note: str = "") -> None:
    await repo.record_many([received(_received(h, note))])


# ---- messages ----------------------------------------------------------------------------------


async def start_booking(h: Handling, deps: Deps) -> None:
    """BookingRequested: a new saga, holds sent to every item's provider in parallel."""
    msg = h.message_as(BookingRequested)
    repo = SagaRepository(h.conn)
    if await repo.exists(msg.booking_id):
        await _record_in(repo, h, "duplicate request: the saga already exists")
        return
    decision = start(msg, await _context(repo, deps))
    await repo.save(decision.saga, None)
    if tracing.enabled():
        await traces.remember(
            h.conn, msg.booking_id, tracing.current_traceparent() or h.envelope.traceparent
        )
    await _emit(h.conn, repo, decision, deps, h.envelope, _received(h, decision.note))


async def request_cancellation(h: Handling, deps: Deps) -> None:
    msg = h.message_as(BookingCancellationRequested)
    await _apply(h, CancellationRequested(msg), deps)


async def apply_reply(h: Handling, deps: Deps) -> None:
    """A participant's answer (payment or provider)."""
    await _apply(h, ReplyReceived(h.message), deps)


async def _apply(h: Handling, event: Input, deps: Deps) -> None:
    repo = SagaRepository(h.conn)
    saga = await repo.load(h.message.booking_id)
    if saga is None:
        await _record_in(repo, h, "no such saga; ignored")
        log.warning("message for an unknown saga", extra={"type": h.envelope.type})
        return
    if saga.paused:
        await repo.park(
            saga.booking_id,
            h.topic,
            h.envelope.type,
            h.envelope.message_id,
            h.message.model_dump_json(),
        )
        await _record_in(repo, h, "parked: the saga is paused")
        return
    decision = decide(saga, event, await _context(repo, deps, saga))
    await repo.save(decision.saga, saga)
    await _emit(h.conn, repo, decision, deps, h.envelope, _received(h, decision.note))


async def record_provider(h: Handling, deps: Deps) -> None:
    """ProviderAnnounced: remember what the provider books and what it can do."""
    msg = h.message_as(ProviderAnnounced)
    newer = await SagaRepository(h.conn).record_provider(
        msg, h.envelope.occurred_at, h.envelope.message_id
    )
    log.info(
        "provider announced",
        extra={"provider": msg.provider, "types": msg.booking_types, "kept": newer},
    )
    if deps.create_topics is not None:
        # The orchestrator produces to the provider's commands topic (and dead-letters its
        # replies): create them now, before the first saga needs them. Should this fail, the
        # outbox relay creates a missing topic when the broker refuses a row for it.
        try:
            await deps.create_topics([msg.commands_topic, dlq(msg.replies_topic)])
        except Exception as exc:
            log.warning(
                "could not create the provider's topics",
                extra={"provider": msg.provider, "error": repr(exc)},
            )


# ---- deadlines ---------------------------------------------------------------------------------


async def fire_due_deadlines(
    pool: asyncpg.Pool, deps: Deps, limit: int = 100, skip: dict[str, datetime] | None = None
) -> int:
    """Fire the due deadlines of up to `limit` sagas, one transaction per saga. Several
    instances may run this at once: each locks the saga it works on (SKIP LOCKED). A saga
    whose deadlines raise is set aside for a while (in `skip`) so the others keep moving."""
    skip = skip if skip is not None else {}
    for set_aside, until in list(skip.items()):
        if until <= deps.clock():
            del skip[set_aside]
    fired = 0
    while fired < limit:
        booking_id: str | None = None
        try:
            async with pool.acquire() as conn, conn.transaction():
                repo = SagaRepository(conn)
                now = deps.clock()
                booking_id = await repo.lock_one_due(now, list(skip))
                if booking_id is None:
                    return fired
                booking_id_var.set(booking_id)
                saga = await repo.load(booking_id, lock=False)  # locked by lock_one_due
                assert saga is not None
                ctx = await _context(repo, deps, saga)
                current = saga
                for name in await repo.due_deadlines(booking_id, now):
                    decision = decide(current, DeadlineDue(name), ctx)
                    SAGA_DEADLINES.labels(_deadline_kind(name)).inc()
                    noted = None
                    if decision.sends or decision.transitions or decision.saga != current:
                        summary = f"{name}: {decision.note}" if decision.note else name
                        noted = history_row(booking_id, "action", "DeadlineDue", summary=summary)
                    if decision.saga.attention and not current.attention:
                        SAGA_ESCALATIONS.labels(_deadline_kind(name)).inc()
                        log.warning(
                            "saga escalated to operators",
                            extra={"booking_id": booking_id, "reason": decision.saga.attention},
                        )
                    await _emit(conn, repo, decision, deps, None, noted)
                    current = decision.saga
                await repo.save(current, saga)
        except Exception:
            if booking_id is None:
                raise
            log.exception(
                "deadlines of a saga failed; set aside for 30 s", extra={"booking_id": booking_id}
            )
            skip[booking_id] = deps.clock() + timedelta(seconds=30)
            continue
        fired += 1
    return fired


# ---- operators ---------------------------------------------------------------------------------


async def act_on_saga(
    pool: asyncpg.Pool, booking_id: str, action: OperatorKind, actor: str, reason: str, deps: Deps
) -> None:
    """retry / compensate / pause / resume, recorded in the history. Raises SagaNotFound, or
    NotAllowed (nothing is written then)."""
    booking_id_var.set(booking_id)
    async with pool.acquire() as conn, conn.transaction():
        repo = SagaRepository(conn)
        saga = await repo.load(booking_id)
        if saga is None:
            raise SagaNotFound(booking_id)
        decision = decide(
            saga, OperatorAction(action, actor, reason), await _context(repo, deps, saga)
        )
        noted = history_row(
            booking_id, "action", action, summary=f"{action} by {actor}: {reason} | {decision.note}"
        )
        await _emit(conn, repo, decision, deps, None, noted)
        current = decision.saga
        if action == "resume":
            current = await _replay_parked(conn, repo, current, deps)
        await repo.save(current, saga)
    SAGA_OPERATOR_ACTIONS.labels(action).inc()
    log.info("operator action", extra={"action": action, "actor": actor, "reason": reason})


async def _replay_parked(conn: Connection, repo: SagaRepository, saga: Saga, deps: Deps) -> Saga:
    """Apply, in arrival order, what came while the saga was paused."""
    for row in sorted(await repo.take_parked(saga.booking_id), key=lambda r: r["id"]):
        model = model_for(row["type"])
        if model is None:
            continue
        message: Message = model.model_validate_json(row["payload"])
        event: Input = (
            CancellationRequested(message)
            if isinstance(message, BookingCancellationRequested)
            else ReplyReceived(message)
        )
        decision = decide(saga, event, await _context(repo, deps, saga))
        noted = history_row(
            saga.booking_id,
            "in",
            row["type"],
            topic=row["topic"],
            message_id=row["message_id"],
            summary=f"{summarize(message)} | applied on resume {decision.note}".strip(),
        )
        await _emit(conn, repo, decision, deps, None, noted)
        saga = decision.saga
    return saga


def _deadline_kind(name: str) -> str:
    """hold:item-1 -> hold, void#2 -> void, timer:action_window -> action_window."""
    if name.startswith("timer:"):
        return name.removeprefix("timer:")
    return name.split(":")[0].split("#")[0]


def policy_from(settings: Settings) -> Policy:
    return Policy(
        step_timeout_s=settings.step_timeout_s,
        step_max_attempts=settings.step_max_attempts,
        backoff=settings.step_backoff,
        max_step_timeout_s=settings.max_step_timeout_s,
        compensation_max_attempts=settings.compensation_max_attempts,
        action_window_s=settings.action_window_s,
        route_wait_s=settings.route_wait_s,
        escalate_after_sends=settings.escalate_after_sends,
    )


def older_than(seconds: float | None, now: datetime) -> datetime | None:
    return None if seconds is None else now - timedelta(seconds=seconds)
