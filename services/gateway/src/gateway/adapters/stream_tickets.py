"""Stream tickets in Postgres: issued hashed, redeemed once (the row is claimed atomically)."""

from __future__ import annotations

from datetime import timedelta

from gateway.adapters.postgres import Conn


async def insert_ticket(
    conn: Conn, ticket_hash: str, user_id: str, booking_id: str, ttl: timedelta
) -> None:
    await conn.execute(
        "INSERT INTO stream_tickets (ticket_hash, user_id, booking_id, expires_at)"
        " VALUES ($1, $2, $3, now() + $4)",
        ticket_hash,
        user_id,
        booking_id,
        ttl,
    )
    # Spent and expired tickets are worth nothing: drop the old ones as new ones come.
    await conn.execute("DELETE FROM stream_tickets WHERE expires_at < now() - interval '1 hour'")


async def redeem_ticket(conn: Conn, ticket_hash: str, booking_id: str) -> str | None:
    """The ticket's user when it is unused, unexpired and for this booking; it is spent either way
    once presented for its booking."""
    return await conn.fetchval(
        "UPDATE stream_tickets SET used_at = now()"
        " WHERE ticket_hash = $1 AND booking_id = $2 AND used_at IS NULL AND expires_at > now()"
        " RETURNING user_id",
        ticket_hash,
        booking_id,
    )
