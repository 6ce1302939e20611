"""Postgres access for the payment service's own schema: payments, commands, cards, webhooks."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from booking_shared.contracts import Envelope, Reply, model_for
from booking_shared.db import Connection
from payment.domain.gateway import CardDisplay
from payment.domain.payment import Payment, Status

# --- locking -------------------------------------------------------------------------------


async def lock_booking(conn: Connection, booking_id: str) -> None:
    """Serialize everything that touches one booking's payment (commands, resends, webhooks)
    until the caller's transaction ends. A second delivery of a command that is still talking to
    Stripe waits here, then finds the answer instead of calling Stripe again."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"payment:{booking_id}"
    )


async def lock_user(conn: Connection, user_id: str) -> None:
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"customer:{user_id}"
    )


# --- payments ------------------------------------------------------------------------------

_PAYMENT_COLUMNS = (
    "booking_id, customer_id, payment_method_id, authorize_command_id, payment_intent_id, status,"
    " currency, amount_requested, amount_authorized, amount_captured, amount_refunded,"
    " capture_before, capture_before_source, client_secret, decline_code, failure_code, disputed"
)


def _payment(row: asyncpg.Record | None) -> Payment | None:
    if row is None:
        return None
    values = dict(row)
    values["status"] = Status(values["status"])
    return Payment(**{k: values[k] for k in Payment.__dataclass_fields__})


async def get_payment(conn: Connection, booking_id: str) -> Payment | None:
    return _payment(
        await conn.fetchrow(
            f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE booking_id = $1", booking_id
        )
    )


async def get_payment_row(conn: Connection, booking_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM payments WHERE booking_id = $1", booking_id)


async def waiting_for_action(conn: Connection | asyncpg.Pool, limit: int) -> list[asyncpg.Record]:
    """Payments parked for 3-D Secure, the longest-waiting first: booking id and intent id."""
    return await conn.fetch(
        "SELECT booking_id, payment_intent_id FROM payments WHERE status = 'requires_action'"
        " AND payment_intent_id IS NOT NULL ORDER BY updated_at LIMIT $1",
        limit,
    )


async def booking_of_intent(conn: Connection, intent_id: str) -> str | None:
    return await conn.fetchval(
        "SELECT booking_id FROM payments WHERE payment_intent_id = $1", intent_id
    )


async def save_payment(conn: Connection, p: Payment) -> None:
    await conn.execute(
        f"""INSERT INTO payments ({_PAYMENT_COLUMNS})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
            ON CONFLICT (booking_id) DO UPDATE SET
              customer_id = EXCLUDED.customer_id, payment_method_id = EXCLUDED.payment_method_id,
              authorize_command_id = EXCLUDED.authorize_command_id,
              payment_intent_id = EXCLUDED.payment_intent_id, status = EXCLUDED.status,
              currency = EXCLUDED.currency, amount_requested = EXCLUDED.amount_requested,
              amount_authorized = EXCLUDED.amount_authorized, amount_captured = EXCLUDED.amount_captured,
              amount_refunded = EXCLUDED.amount_refunded, capture_before = EXCLUDED.capture_before,
              capture_before_source = EXCLUDED.capture_before_source,
              client_secret = EXCLUDED.client_secret, decline_code = EXCLUDED.decline_code,
              failure_code = EXCLUDED.failure_code, disputed = EXCLUDED.disputed, updated_at = now()""",
        p.booking_id,
        p.customer_id,
        p.payment_method_id,
        p.authorize_command_id,
        p.payment_intent_id,
        p.status.value,
        p.currency,
        p.amount_requested,
        p.amount_authorized,
        p.amount_captured,
        p.amount_refunded,
        p.capture_before,
        p.capture_before_source,
        p.client_secret,
        p.decline_code,
        p.failure_code,
        p.disputed,
    )


async def add_history(
    conn: Connection,
    before: Payment | None,
    after: Payment,
    cause: str,
    detail: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO payment_history (booking_id, payment_intent_id, from_status, to_status, cause, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        after.booking_id,
        after.payment_intent_id,
        before.status.value if before else None,
        after.status.value,
        cause,
        detail,
    )


# --- commands ------------------------------------------------------------------------------


async def get_command(conn: Connection, command_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM commands WHERE command_id = $1", command_id)


async def record_attempt(
    pool: asyncpg.Pool,
    *,
    command_id: uuid.UUID,
    booking_id: str,
    kind: str,
    request: dict[str, Any],
    envelope: Envelope,
    payment_intent_id: str | None = None,
) -> None:
    """Write that we are about to ask Stripe, in its own short transaction (committed before the
    call), so that a process that dies after Stripe answered leaves a trace to reconcile from."""
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO commands (command_id, booking_id, kind, status, request, attempts,
                                     payment_intent_id, message_id, traceparent)
               VALUES ($1, $2, $3, 'started', $4::jsonb, 1, $5, $6, $7)
               ON CONFLICT (command_id) DO UPDATE SET attempts = commands.attempts + 1""",
            command_id,
            booking_id,
            kind,
            json.dumps(request),
            payment_intent_id,
            envelope.message_id,
            envelope.traceparent,
        )


async def bump_attempt(pool: asyncpg.Pool, command_id: uuid.UUID) -> None:
    """Count another try of an unfinished command (committed at once, like record_attempt)."""
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE commands SET attempts = attempts + 1 WHERE command_id = $1", command_id
        )


async def finish_command(
    conn: Connection,
    *,
    command_id: uuid.UUID,
    booking_id: str,
    kind: str,
    request: dict[str, Any],
    envelope: Envelope,
    reply: Reply,
    payment_intent_id: str | None,
) -> None:
    """Store the reply in the handler's transaction: from now on the command is answered."""
    await conn.execute(
        """INSERT INTO commands (command_id, booking_id, kind, status, request, payment_intent_id,
                                 message_id, traceparent, reply_type, reply_payload, finished_at)
           VALUES ($1, $2, $3, 'done', $4::jsonb, $5, $6, $7, $8, $9, now())
           ON CONFLICT (command_id) DO UPDATE SET
             status = 'done', payment_intent_id = COALESCE(EXCLUDED.payment_intent_id, commands.payment_intent_id),
             reply_type = EXCLUDED.reply_type, reply_payload = EXCLUDED.reply_payload, finished_at = now()""",
        command_id,
        booking_id,
        kind,
        json.dumps(request),
        payment_intent_id,
        envelope.message_id,
        envelope.traceparent,
        reply.type_name(),
        reply.model_dump_json(),
    )


async def update_reply(conn: Connection, command_id: uuid.UUID, reply: Reply) -> None:
    """A later answer to a command (3-D Secure finished): a resend of it now gets this one."""
    await conn.execute(
        "UPDATE commands SET reply_type = $2, reply_payload = $3, finished_at = now() WHERE command_id = $1",
        command_id,
        reply.type_name(),
        reply.model_dump_json(),
    )


def stored_reply(row: asyncpg.Record) -> Reply:
    model = model_for(row["reply_type"])
    if model is None:
        raise ValueError(f"unknown stored reply type {row['reply_type']}")
    reply = model.model_validate_json(row["reply_payload"])
    if not isinstance(reply, Reply):
        raise ValueError(f"stored reply type {row['reply_type']} is not a reply")
    return reply


async def unfinished_authorizations(conn: Connection, booking_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM commands WHERE booking_id = $1 AND kind = 'authorize' AND status = 'started'"
        " ORDER BY started_at",
        booking_id,
    )


# --- customers and cards -------------------------------------------------------------------


async def customer_of_user(conn: Connection, user_id: str) -> str | None:
    return await conn.fetchval("SELECT customer_id FROM customers WHERE user_id = $1", user_id)


async def customer_exists(conn: Connection | asyncpg.Pool, customer_id: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM customers WHERE customer_id = $1", customer_id))


async def save_customer(conn: Connection, user_id: str, customer_id: str) -> None:
    await conn.execute(
        """INSERT INTO customers (user_id, customer_id) VALUES ($1, $2)
           ON CONFLICT (user_id) DO UPDATE SET customer_id = EXCLUDED.customer_id""",
        user_id,
        customer_id,
    )


async def save_card(conn: Connection, customer_id: str, card: CardDisplay) -> None:
    if card.is_default:
        await conn.execute(
            "UPDATE payment_methods SET is_default = false, updated_at = now()"
            " WHERE customer_id = $1 AND is_default AND pm_id <> $2",
            customer_id,
            card.pm_id,
        )
    await conn.execute(
        """INSERT INTO payment_methods (pm_id, customer_id, brand, last4, exp_month, exp_year, is_default)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (pm_id) DO UPDATE SET customer_id = EXCLUDED.customer_id, brand = EXCLUDED.brand,
             last4 = EXCLUDED.last4, exp_month = EXCLUDED.exp_month, exp_year = EXCLUDED.exp_year,
             is_default = EXCLUDED.is_default, updated_at = now()""",
        card.pm_id,
        customer_id,
        card.brand[:32],
        card.last4,
        card.exp_month,
        card.exp_year,
        card.is_default,
    )


async def replace_cards(conn: Connection, customer_id: str, cards: Sequence[CardDisplay]) -> None:
    """Make the cache equal to Stripe's list."""
    await conn.execute(
        "DELETE FROM payment_methods WHERE customer_id = $1 AND NOT (pm_id = ANY($2::text[]))",
        customer_id,
        [c.pm_id for c in cards],
    )
    await conn.execute(
        "UPDATE payment_methods SET is_default = false WHERE customer_id = $1 AND is_default",
        customer_id,
    )
    for card in cards:
        await save_card(conn, customer_id, card)


async def cached_cards(conn: Connection | asyncpg.Pool, customer_id: str) -> list[CardDisplay]:
    rows = await conn.fetch(
        "SELECT pm_id, brand, last4, exp_month, exp_year, is_default FROM payment_methods"
        " WHERE customer_id = $1 ORDER BY updated_at, pm_id",
        customer_id,
    )
    return [CardDisplay(**dict(r)) for r in rows]


async def delete_card(conn: Connection | asyncpg.Pool, customer_id: str, pm_id: str) -> None:
    await conn.execute(
        "DELETE FROM payment_methods WHERE customer_id = $1 AND pm_id = $2", customer_id, pm_id
    )


# --- webhooks and disputes -----------------------------------------------------------------


async def claim_event(
    conn: Connection,
    event_id: str,
    event_type: str,
    object_id: str | None,
    created: datetime | None,
) -> bool:
    """True the first time an event id is seen (in the caller's transaction)."""
    got = await conn.fetchval(
        """INSERT INTO webhook_events (event_id, type, object_id, created) VALUES ($1, $2, $3, $4)
           ON CONFLICT (event_id) DO NOTHING RETURNING true""",
        event_id,
        event_type,
        object_id,
        created,
    )
    return bool(got)


async def settle_event(
    conn: Connection, event_id: str, booking_id: str | None, outcome: str
) -> None:
    await conn.execute(
        "UPDATE webhook_events SET booking_id = $2, outcome = $3 WHERE event_id = $1",
        event_id,
        booking_id,
        outcome,
    )


async def record_dispute(
    conn: Connection,
    *,
    dispute_id: str,
    booking_id: str | None,
    payment_intent_id: str | None,
    charge_id: str | None,
    amount_minor: int | None,
    currency: str | None,
    reason: str | None,
    status: str | None,
    event_id: str,
) -> None:
    await conn.execute(
        """INSERT INTO disputes (dispute_id, booking_id, payment_intent_id, charge_id, amount_minor,
                                 currency, reason, status, event_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (dispute_id) DO NOTHING""",
        dispute_id,
        booking_id,
        payment_intent_id,
        charge_id,
        amount_minor,
        currency,
        reason,
        status,
        event_id,
    )
