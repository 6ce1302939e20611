"""The saga history's rows: one line per message in or out (or per action), what an operator
needs, no personal data."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NamedTuple

from booking_shared.contracts import Message
from booking_shared.money import Money
from orchestrator.domain.model import Send

# booking_id, at, direction, topic, type, message_id, summary: the columns of saga_history.
HistoryRow = tuple[str, datetime | None, str, str | None, str, uuid.UUID | None, str]

# Fields worth a glance, in this order. The sealed guest and payment tokens are left out.
_FIELDS = (
    "item_id",
    "reason_code",
    "decline_code",
    "code",
    "operation",
    "hold_id",
    "expires_at",
    "confirmation_code",
    "payment_intent_id",
    "amount",
    "amount_capturable",
    "amount_captured",
    "amount_refunded",
    "price",
    "refund",
    "fee",
    "was_confirmed",
    "from_state",
    "to_state",
    "reason",
    "detail",
    "provider",
    "mode",
    "total",
    "requested_by",
)


def _text(value: object) -> str:
    if isinstance(value, Money):
        return value.display()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def summarize(message: Message) -> str:
    parts = []
    item = getattr(message, "item", None)
    if item is not None and hasattr(item, "id"):
        parts.append(f"item_id={item.id}")
    items = getattr(message, "items", None)
    if isinstance(items, list):
        parts.append(f"items={len(items)}")
    for name in _FIELDS:
        value = getattr(message, name, None)
        if value is None or value == "":
            continue
        parts.append(f"{name}={_text(value)}")
    return " ".join(parts)[:500]


def history_row(
    booking_id: str,
    direction: str,
    type_: str,
    topic: str | None = None,
    message_id: uuid.UUID | None = None,
    summary: str = "",
    at: datetime | None = None,
) -> HistoryRow:
    """One saga_history row (`at` None: the time of its insert)."""
    return (booking_id, at, direction, topic, type_, message_id, summary[:1000])


class Received(NamedTuple):
    """A message that came in, and how the saga read it (`note`)."""

    message: Message
    type_: str
    topic: str
    message_id: uuid.UUID
    note: str = ""


def received(r: Received) -> HistoryRow:
    summary = summarize(r.message)
    return history_row(
        r.message.booking_id,
        "in",
        r.type_,
        topic=r.topic,
        message_id=r.message_id,
        summary=f"{summary} | {r.note}" if r.note else summary,
    )


def rows(
    booking_id: str,
    cause: Received | HistoryRow | None,
    sends: list[Send],
    message_ids: list[uuid.UUID],
) -> list[HistoryRow]:
    """The rows of one input, in one go: what caused it (a message received, or the row of a
    deadline or an operator's action), then what the decision sent, in order, each with the id
    the outbox gave it."""
    first = [received(cause) if isinstance(cause, Received) else cause] if cause else []
    return first + [
        history_row(
            booking_id,
            "out",
            send.message.type_name(),
            topic=send.topic,
            message_id=message_id,
            summary=summarize(send.message),
        )
        for send, message_id in zip(sends, message_ids, strict=True)
    ]
