"""Lost requests: a BookingRequested or BookingCancellationRequested that the saga never answered
(lost in the broker, dead-lettered) is sent again, so that no booking stays REQUESTED forever.

Each request is kept in `sent_requests` in the transaction that put it in the outbox. A resend
has the same payload and booking id (the orchestrator runs one saga per booking id and ignores a
second request for it, and a cancellation of a saga already cancelling) but a new message id:
a dead-lettered original is already claimed in the orchestrator's inbox, and a resend with its
id would be dropped there as a duplicate. The resend's causation id is the original's."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import asyncpg

from booking_shared import outbox, tracing
from booking_shared.contracts import Envelope, Message
from booking_shared.db import Connection
from gateway.adapters import postgres as db
from gateway.domain import states
from gateway.metrics import REQUESTS_RESENT, REQUESTS_UNANSWERED

log = logging.getLogger(__name__)

REQUEST = "BookingRequested"
CANCELLATION = "BookingCancellationRequested"

# "No sign of an answer", per request type, on the bookings row (b): no saga state and no outcome
# yet for a booking request; for a cancellation, the saga still CONFIRMED and our own
# CANCELLATION_REQUESTED still shown (the saga's CANCELLING or any outcome would replace it).
_QUIET = (
    f"((r.type = '{REQUEST}' AND b.state = '{states.INITIAL}' AND b.saga_state IS NULL)"
    f" OR (r.type = '{CANCELLATION}' AND b.state = '{states.CANCELLATION_REQUESTED}'"
    f" AND b.saga_state = '{states.CONFIRMED}'))"
)


async def remember(conn: Connection, topic: str, message: Message, envelope: Envelope) -> None:
    """Keep a request as first sent; call in the transaction that puts it in the outbox."""
    await conn.execute(
        "INSERT INTO sent_requests (booking_id, type, topic, headers, payload)"
        " VALUES ($1, $2, $3, $4::jsonb, $5)"
        " ON CONFLICT (booking_id, type) DO UPDATE SET topic = EXCLUDED.topic,"
        "   headers = EXCLUDED.headers, payload = EXCLUDED.payload, sent_at = now(),"
        "   resends = 0, last_sent_at = now(), abandoned_at = NULL",
        message.booking_id,
        envelope.type,
        topic,
        db.dumps([(k, v.decode()) for k, v in envelope.to_headers()]),
        message.model_dump_json(),
    )


async def _resend(conn: Connection, row: asyncpg.Record, producer: str, schema: str) -> Envelope:
    first = Envelope.from_headers([(k, v) for k, v in db.loads(row["headers"])])
    # The resend continues the first request's trace.
    with tracing.producing(row["topic"], first.type, row["booking_id"], parent=first.traceparent):
        env = Envelope.new(
            first.type,
            correlation_id=first.correlation_id,
            producer=producer,
            schema_version=first.schema_version,
            cause=first,
        )
        await outbox.enqueue_raw(
            conn,
            row["topic"],
            row["booking_id"],
            [(k, v.decode()) for k, v in env.to_headers()],
            row["payload"],
            schema=schema,
        )
    REQUESTS_RESENT.labels(first.type).inc()
    log.warning(
        "request unanswered; sent again",
        extra={
            "booking_id": row["booking_id"],
            "type": first.type,
            "message_id": str(env.message_id),
            "first_message_id": str(first.message_id),
            "resends": row["resends"],
        },
    )
    return env


async def resend_if_quiet(
    conn: Connection,
    booking_id: str,
    type_: str,
    after_s: float,
    producer: str,
    schema: str,
) -> bool:
    """A person asking again (a repeated cancel): send the request again now if nothing answered
    it and the last send is at least `after_s` old. Call in the transaction that locks the booking."""
    row = await conn.fetchrow(
        "UPDATE sent_requests r SET resends = r.resends + 1, last_sent_at = now(), abandoned_at = NULL"
        f" FROM bookings b WHERE b.id = r.booking_id AND r.booking_id = $1 AND r.type = $2 AND {_QUIET}"
        "   AND r.last_sent_at <= now() - make_interval(secs => $3)"
        " RETURNING r.*",
        booking_id,
        type_,
        after_s,
    )
    if row is None:
        return False
    await _resend(conn, row, producer, schema)
    return True


@dataclass
class Pass:
    """What one reconciliation pass did."""

    resent: int = 0
    abandoned: int = 0


async def reconcile_once(
    pool: asyncpg.Pool,
    *,
    after_s: float,
    max_resends: int,
    producer: str,
    schema: str,
    batch: int = 100,
) -> Pass:
    """Send again every request still unanswered `after_s * 2**resends` after its last send;
    after `max_resends`, give up on it (logged, counted) and leave it to operators. Several
    gateway instances may run this at once: each claims rows FOR UPDATE SKIP LOCKED and moves
    their last send in the same transaction, so a request is sent again by one instance only."""
    done = Pass()
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "WITH due AS ("
            "  SELECT r.booking_id, r.type FROM sent_requests r JOIN bookings b ON b.id = r.booking_id"
            f"  WHERE r.abandoned_at IS NULL AND {_QUIET}"
            "    AND r.last_sent_at <= now() - make_interval(secs => $1 * power(2, r.resends))"
            "  ORDER BY r.last_sent_at LIMIT $3"
            "  FOR UPDATE OF r SKIP LOCKED)"
            " UPDATE sent_requests r SET"
            "   resends = CASE WHEN r.resends < $2 THEN r.resends + 1 ELSE r.resends END,"
            "   last_sent_at = CASE WHEN r.resends < $2 THEN now() ELSE r.last_sent_at END,"
            "   abandoned_at = CASE WHEN r.resends < $2 THEN NULL ELSE now() END"
            " FROM due WHERE r.booking_id = due.booking_id AND r.type = due.type"
            " RETURNING r.*",
            after_s,
            max_resends,
            batch,
        )
        for row in rows:
            if row["abandoned_at"] is None:
                await _resend(conn, row, producer, schema)
                done.resent += 1
            else:
                REQUESTS_UNANSWERED.labels(row["type"]).inc()
                log.error(
                    "request still unanswered after every resend; left to operators",
                    extra={
                        "booking_id": row["booking_id"],
                        "type": row["type"],
                        "resends": row["resends"],
                    },
                )
                done.abandoned += 1
    return done
