"""Inbox: handled message ids, recorded in the same transaction as the effect."""

from __future__ import annotations

from booking_shared.contracts.envelope import Envelope
from booking_shared.db import Connection


async def claim(conn: Connection, consumer: str, envelope: Envelope, topic: str) -> bool:
    """Record the message as handled by this consumer; False if it already was (a redelivery).

    Call inside the transaction of the effect: a rollback un-claims it."""
    status = await conn.execute(
        "INSERT INTO inbox (consumer, message_id, topic, message_type) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING",
        consumer,
        envelope.message_id,
        topic,
        envelope.type,
    )
    return status == "INSERT 0 1"
