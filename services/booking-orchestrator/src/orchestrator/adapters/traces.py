"""Where each saga's trace is kept (table saga_traces), for the steps a timer sends."""

from __future__ import annotations

from booking_shared.db import Connection


async def remember(conn: Connection, booking_id: str, traceparent: str) -> None:
    await conn.execute(
        "INSERT INTO saga_traces (booking_id, traceparent) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        booking_id,
        traceparent,
    )


async def recall(conn: Connection, booking_id: str) -> str | None:
    return await conn.fetchval(
        "SELECT traceparent FROM saga_traces WHERE booking_id = $1", booking_id
    )
