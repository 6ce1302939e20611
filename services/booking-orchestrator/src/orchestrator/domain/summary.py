"""One line per message for the saga history: what an operator needs, no personal data."""

from __future__ import annotations

from booking_shared.contracts import Message
from booking_shared.money import Money

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
