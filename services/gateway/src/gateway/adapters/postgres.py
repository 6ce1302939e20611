"""The gateway's tables (its own schema): plain queries on an asyncpg connection, so that a
handler can put several of them in one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import asyncpg

from booking_shared.db import Connection
from gateway.domain import ratelimit
from gateway.domain.models import Preferences

Conn = Connection | asyncpg.Pool


def dumps(value: Any) -> str:
    return json.dumps(value, default=str)


def loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def booking_channel(schema: str) -> str:
    """NOTIFY channel (payload: the booking id) fired when a booking's timeline grows."""
    return f"{schema}_booking"


# --- users and tokens -------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    id: str
    name: str
    email: str
    phone: str | None
    role: Literal["user", "ops"]
    preferences: Preferences
    stripe_customer_id: str | None
    created_at: datetime
    updated_at: datetime
    first_name: str | None = None
    last_name: str | None = None


def _user(row: asyncpg.Record) -> User:
    return User(
        id=row["id"],
        name=row["name"],
        email=row["email"],
        phone=row["phone"],
        role=row["role"],
        preferences=Preferences.model_validate(loads(row["preferences"])),
        stripe_customer_id=row["stripe_customer_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        first_name=row["first_name"],
        last_name=row["last_name"],
    )


_USER_COLS = (
    "u.id, u.name, u.email, u.phone, u.role, u.preferences, u.stripe_customer_id, u.created_at,"
    " u.updated_at, u.first_name, u.last_name"
)


async def insert_user(
    conn: Conn,
    user_id: str,
    name: str,
    email: str,
    phone: str | None,
    prefs: Preferences,
    role: str = "user",
    first_name: str | None = None,
    last_name: str | None = None,
    password_hash: str | None = None,
) -> User:
    row = await conn.fetchrow(
        "INSERT INTO users AS u (id, name, email, phone, role, preferences, first_name, last_name,"
        f" password_hash) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9) RETURNING {_USER_COLS}",
        user_id,
        name,
        email,
        phone,
        role,
        dumps(prefs.model_dump(mode="json")),
        first_name,
        last_name,
        password_hash,
    )
    assert row is not None  # INSERT ... RETURNING always returns the row
    return _user(row)


async def insert_token(
    conn: Conn, token_hash: str, user_id: str, ttl: timedelta, kind: str = "api_key"
) -> datetime:
    """Store a token's hash (an API key, or a session from signing in); returns when it expires."""
    return await conn.fetchval(
        "INSERT INTO api_tokens (token_hash, user_id, expires_at, kind) VALUES ($1, $2, now() + $3, $4)"
        " RETURNING expires_at",
        token_hash,
        user_id,
        ttl,
        kind,
    )


async def user_for_sign_in(conn: Conn, email: str) -> tuple[User, str | None] | None:
    """The user with this email (any case) and their password hash (None: no password set)."""
    row = await conn.fetchrow(
        f"SELECT {_USER_COLS}, u.password_hash FROM users u WHERE lower(u.email) = lower($1)",
        email,
    )
    return (_user(row), row["password_hash"]) if row else None


async def set_password_hash(conn: Conn, user_id: str, password_hash: str) -> None:
    await conn.execute(
        "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
        user_id,
        password_hash,
    )


async def user_by_token(conn: Conn, token_hash: str) -> User | None:
    """The user of a token that is neither revoked nor expired."""
    row = await conn.fetchrow(
        f"SELECT {_USER_COLS} FROM api_tokens t JOIN users u ON u.id = t.user_id"
        " WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now()",
        token_hash,
    )
    return _user(row) if row else None


async def revoke_token(conn: Conn, token_hash: str) -> bool:
    return (
        await conn.execute(
            "UPDATE api_tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL",
            token_hash,
        )
    ) != "UPDATE 0"


async def revoke_user_tokens(conn: Conn, user_id: str) -> int:
    """Revoke every live token of a user; returns how many."""
    status = await conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
        user_id,
    )
    return int(status.split()[-1])


async def get_user(conn: Conn, user_id: str) -> User | None:
    row = await conn.fetchrow(f"SELECT {_USER_COLS} FROM users u WHERE u.id = $1", user_id)
    return _user(row) if row else None


async def update_user(conn: Conn, user_id: str, fields: dict[str, Any]) -> User:
    sets, args = [], [user_id]
    for name, value in fields.items():
        if name not in ("name", "email", "phone", "preferences", "role", "first_name", "last_name"):
            raise ValueError(f"not an updatable column: {name}")
        args.append(dumps(value.model_dump(mode="json")) if name == "preferences" else value)
        sets.append(f"{name} = ${len(args)}" + ("::jsonb" if name == "preferences" else ""))
    sets.append("updated_at = now()")
    row = await conn.fetchrow(
        f"UPDATE users u SET {', '.join(sets)} WHERE u.id = $1 RETURNING {_USER_COLS}", *args
    )
    if row is None:
        raise LookupError(f"user {user_id} no longer exists")
    return _user(row)


async def set_customer(conn: Conn, user_id: str, customer_id: str) -> str:
    """Record the user's Stripe customer; the first one recorded wins."""
    return await conn.fetchval(
        "UPDATE users SET stripe_customer_id = COALESCE(stripe_customer_id, $2), updated_at = now()"
        " WHERE id = $1 RETURNING stripe_customer_id",
        user_id,
        customer_id,
    )


# --- the copy of a user's saved cards (tokens and display fields only) -----------------------


async def card_copy(conn: Conn, user_id: str) -> list[dict[str, Any]] | None:
    """The user's cards as last heard from the payment service; None if never heard."""
    raw = await conn.fetchval("SELECT cards FROM card_copies WHERE user_id = $1", user_id)
    if raw is None:
        return None
    return json.loads(raw) if isinstance(raw, str) else list(raw)


async def replace_card_copy(conn: Conn, user_id: str, cards: list[dict[str, Any]]) -> None:
    await conn.execute(
        "INSERT INTO card_copies (user_id, cards, synced_at) VALUES ($1, $2::jsonb, now())"
        " ON CONFLICT (user_id) DO UPDATE SET cards = EXCLUDED.cards, synced_at = EXCLUDED.synced_at",
        user_id,
        json.dumps(cards),
    )


async def forget_card_copy(conn: Conn, user_id: str) -> None:
    """Drop the copy when it may be wrong (a change whose result was not heard): the next booking
    asks the payment service again."""
    await conn.execute("DELETE FROM card_copies WHERE user_id = $1", user_id)


# --- bookings whose card is chosen when the payment service answers (handlers/card_wait.py) ---


async def insert_awaiting_card(
    conn: Conn,
    booking_id: str,
    user_id: str,
    customer_id: str,
    wanted_card_id: str | None,
    request: dict[str, Any],
) -> None:
    await conn.execute(
        "INSERT INTO bookings_awaiting_card (booking_id, user_id, customer_id, wanted_card_id,"
        " request) VALUES ($1, $2, $3, $4, $5::jsonb)",
        booking_id,
        user_id,
        customer_id,
        wanted_card_id,
        dumps(request),
    )


async def awaiting_card(conn: Conn, max_wait_s: float, limit: int) -> list[asyncpg.Record]:
    """The oldest bookings awaiting their card; `expired`: waiting longer than max_wait_s."""
    return await conn.fetch(
        "SELECT booking_id, user_id, customer_id, wanted_card_id, created_at,"
        " created_at < now() - make_interval(secs => $1) AS expired"
        " FROM bookings_awaiting_card ORDER BY created_at, booking_id LIMIT $2",
        max_wait_s,
        limit,
    )


async def take_awaiting_card(conn: Conn, booking_id: str) -> asyncpg.Record | None:
    """Lock one waiting booking for the caller's transaction; None if another instance holds it
    or it is no longer waiting. Delete it in the same transaction."""
    return await conn.fetchrow(
        "SELECT * FROM bookings_awaiting_card WHERE booking_id = $1 FOR UPDATE SKIP LOCKED",
        booking_id,
    )


async def delete_awaiting_card(conn: Conn, booking_id: str) -> None:
    await conn.execute("DELETE FROM bookings_awaiting_card WHERE booking_id = $1", booking_id)


async def note_card_tries(conn: Conn, booking_ids: list[str]) -> None:
    await conn.execute(
        "UPDATE bookings_awaiting_card SET attempts = attempts + 1, last_tried_at = now()"
        " WHERE booking_id = ANY($1::text[])",
        booking_ids,
    )


# --- quotes -----------------------------------------------------------------------------


async def insert_quote(
    conn: Conn,
    quote_id: str,
    user_id: str,
    lines: list[dict],
    total_minor: int,
    currency: str,
    consent: dict,
    expires_at: datetime,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "INSERT INTO quotes (id, user_id, lines, total_minor, currency, consent, expires_at)"
        " VALUES ($1, $2, $3::jsonb, $4, $5, $6::jsonb, $7) RETURNING *",
        quote_id,
        user_id,
        dumps(lines),
        total_minor,
        currency,
        dumps(consent),
        expires_at,
    )
    assert row is not None  # INSERT ... RETURNING always returns the row
    return row


async def get_quote(conn: Conn, quote_id: str, user_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM quotes WHERE id = $1 AND user_id = $2", quote_id, user_id
    )


# --- bookings and their projection --------------------------------------------------------


async def insert_booking(conn: Conn, **values: Any) -> None:
    await conn.execute(
        "INSERT INTO bookings (id, user_id, quote_id, mode, state, total_minor, currency, payment_method_id, items)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)",
        values["id"],
        values["user_id"],
        values["quote_id"],
        values["mode"],
        values["state"],
        values["total_minor"],
        values["currency"],
        values["payment_method_id"],
        dumps(values["items"]),
    )


async def booking_for_quote(conn: Conn, quote_id: str) -> str | None:
    return await conn.fetchval("SELECT id FROM bookings WHERE quote_id = $1", quote_id)


async def get_booking(
    conn: Conn, booking_id: str, user_id: str | None, *, for_update: bool = False
) -> asyncpg.Record | None:
    """A booking; with a user id, only if it is that user's (another user's booking is 'not found')."""
    sql = "SELECT * FROM bookings WHERE id = $1" + (
        " AND user_id = $2" if user_id is not None else ""
    )
    if for_update:
        sql += " FOR UPDATE"
    args = [booking_id] + ([user_id] if user_id is not None else [])
    return await conn.fetchrow(sql, *args)


async def list_bookings(
    conn: Conn, user_id: str, limit: int, after: tuple[datetime, str] | None, state: str | None
) -> list[asyncpg.Record]:
    args: list[Any] = [user_id, limit]
    where = ["user_id = $1"]
    if state:
        args.append(state)
        where.append(f"state = ${len(args)}")
    if after:
        args += [after[0], after[1]]
        where.append(f"(created_at, id) < (${len(args) - 1}, ${len(args)})")
    return await conn.fetch(
        f"SELECT * FROM bookings WHERE {' AND '.join(where)} ORDER BY created_at DESC, id DESC LIMIT $2",
        *args,
    )


async def booking_position(
    conn: Conn, booking_id: str, user_id: str
) -> tuple[datetime, str] | None:
    """Where a booking of this user sits in the newest-first order (the list's cursor)."""
    row = await conn.fetchrow(
        "SELECT created_at, id FROM bookings WHERE id = $1 AND user_id = $2", booking_id, user_id
    )
    return (row["created_at"], row["id"]) if row else None


async def count_active(conn: Conn, user_id: str, final_states: frozenset[str]) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM bookings WHERE user_id = $1 AND NOT (state = ANY($2::text[]))",
        user_id,
        list(final_states),
    )


async def update_booking(conn: Conn, booking_id: str, fields: dict[str, Any]) -> None:
    jsonb = {"confirmed_items", "failure_reasons", "refunds", "items"}
    sets, args = [], [booking_id]
    for name, value in fields.items():
        args.append(dumps(value) if name in jsonb else value)
        sets.append(f"{name} = ${len(args)}" + ("::jsonb" if name in jsonb else ""))
    sets.append("updated_at = now()")
    await conn.execute(f"UPDATE bookings SET {', '.join(sets)} WHERE id = $1", *args)


async def add_timeline(
    conn: Conn,
    booking_id: str,
    type_: str,
    state: str,
    data: dict,
    occurred_at: datetime,
    message_id: Any = None,
    *,
    schema: str,
) -> None:
    await conn.execute(
        "INSERT INTO booking_timeline (booking_id, type, state, data, message_id, occurred_at)"
        " VALUES ($1, $2, $3, $4::jsonb, $5, $6)",
        booking_id,
        type_,
        state,
        dumps(data),
        message_id,
        occurred_at,
    )
    # Transactional: SSE streams wake when (and only if) this commits.
    await conn.execute("SELECT pg_notify($1, $2)", booking_channel(schema), booking_id)


async def state_and_outcome(conn: Conn, booking_id: str, outcome_type_of: Any) -> tuple[str, bool]:
    """The booking's state, and whether the event that completes it (outcome_type_of(state)) is in
    the timeline since the state was reached; True when no event completes that state."""
    state = await conn.fetchval("SELECT state FROM bookings WHERE id = $1", booking_id)
    wanted = outcome_type_of(state)
    if wanted is None:
        return state, True
    found = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM booking_timeline WHERE booking_id = $1 AND type = $2)",
        booking_id,
        wanted,
    )
    return state, bool(found)


async def timeline_after(conn: Conn, booking_id: str, after_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM booking_timeline WHERE booking_id = $1 AND id > $2 ORDER BY id",
        booking_id,
        after_id,
    )


async def insert_consent(conn: Conn, **v: Any) -> None:
    await conn.execute(
        "INSERT INTO consents (booking_id, user_id, quote_id, amount_minor, currency, mode, basis,"
        " confirmed_explicitly, preferences, decision, user_agent, ip)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11, $12)",
        v["booking_id"],
        v["user_id"],
        v["quote_id"],
        v["amount_minor"],
        v["currency"],
        v["mode"],
        v["basis"],
        v["confirmed_explicitly"],
        dumps(v["preferences"]),
        dumps(v["decision"]),
        v["user_agent"],
        v["ip"],
    )


# --- idempotency keys ---------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    kind: str  # "new" | "done" | "mismatch" | "in_flight"
    row: asyncpg.Record


async def claim_key(
    pool: Conn, user_id: str, key: str, fp: str, lock_s: float, ttl_s: float
) -> Claim:
    """Own the key (new, expired, or taken over after a crash left it in flight too long), or say why not."""
    await pool.execute(
        "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND status = 'done'"
        " AND created_at < now() - make_interval(secs => $3)",
        user_id,
        key,
        ttl_s,
    )
    row = await pool.fetchrow(
        "INSERT INTO idempotency_keys (user_id, key, fingerprint, status, locked_until)"
        " VALUES ($1, $2, $3, 'processing', now() + make_interval(secs => $4))"
        " ON CONFLICT (user_id, key) DO UPDATE SET locked_until = EXCLUDED.locked_until"
        "   WHERE idempotency_keys.status = 'processing' AND idempotency_keys.locked_until < now()"
        "     AND idempotency_keys.fingerprint = EXCLUDED.fingerprint"
        " RETURNING *",
        user_id,
        key,
        fp,
        lock_s,
    )
    if row is not None:
        return Claim("new", row)
    row = await pool.fetchrow(
        "SELECT * FROM idempotency_keys WHERE user_id = $1 AND key = $2", user_id, key
    )
    if row is None:  # released in the meantime: try once more
        return await claim_key(pool, user_id, key, fp, lock_s, ttl_s)
    if row["fingerprint"] != fp:
        return Claim("mismatch", row)
    if row["status"] == "done":
        return Claim("done", row)
    return Claim("in_flight", row)


async def complete_key(
    conn: Conn,
    user_id: str,
    key: str,
    status: int,
    body: Any,
    headers: dict[str, str],
    resource_id: str | None,
) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET status = 'done', response_status = $3, response_body = $4::jsonb,"
        " response_headers = $5::jsonb, resource_id = $6 WHERE user_id = $1 AND key = $2",
        user_id,
        key,
        status,
        dumps(body),
        dumps(headers),
        resource_id,
    )


async def release_key(pool: Conn, user_id: str, key: str, fp: str) -> None:
    """Forget a key whose request failed, so the client can fix the request and retry with it."""
    await pool.execute(
        "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND fingerprint = $3 AND status = 'processing'",
        user_id,
        key,
        fp,
    )


# --- rate limits --------------------------------------------------------------------------


async def take_token(
    conn: Connection, user_id: str, bucket: str, rule: ratelimit.BucketRule
) -> ratelimit.Take:
    """Take one token from the user's bucket; call inside a transaction (the row stays locked)."""
    row = await conn.fetchrow(
        "SELECT tokens, extract(epoch FROM clock_timestamp() - updated_at)::float8 AS elapsed"
        " FROM rate_buckets WHERE user_id = $1 AND bucket = $2 FOR UPDATE",
        user_id,
        bucket,
    )
    result = ratelimit.take(rule, row["tokens"] if row else None, row["elapsed"] if row else 0.0)
    if result.allowed or row is not None:
        await conn.execute(
            "INSERT INTO rate_buckets (user_id, bucket, tokens, updated_at) VALUES ($1, $2, $3, clock_timestamp())"
            " ON CONFLICT (user_id, bucket) DO UPDATE SET tokens = EXCLUDED.tokens, updated_at = EXCLUDED.updated_at",
            user_id,
            bucket,
            result.tokens,
        )
    return result


async def give_back_token(
    conn: Conn, user_id: str, bucket: str, rule: ratelimit.BucketRule
) -> None:
    """Return one token taken from a bucket (the attempt it paid for turned out not to count)."""
    await conn.execute(
        "UPDATE rate_buckets SET tokens = least($3::float8, tokens + 1)"
        " WHERE user_id = $1 AND bucket = $2",
        user_id,
        bucket,
        float(rule.capacity),
    )
