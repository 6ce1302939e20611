"""Eventbrite's booking rules in our contract's words: item ids, categories, refund policies, prices."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from booking_shared.contracts import CancellationPolicy
from booking_shared.money import Money

ITEM_PREFIX = "eb"

# Eventbrite's top-level category ids -> the schedule's categories.
CATEGORIES = {"103": "concert", "105": "show", "109": "tour"}
DEFAULT_CATEGORY = "event"

# The partner accepts references up to this length; ours ("<booking_id>:<item_id>") can be longer.
MAX_PARTNER_REFERENCE = 128


def item_id(event_id: str, ticket_class_id: str) -> str:
    """The id an offer carries in the booking flow, e.g. eb:712345678901:1234567890."""
    return f"{ITEM_PREFIX}:{event_id}:{ticket_class_id}"


def category(category_id: str | None) -> str:
    return CATEGORIES.get(category_id or "", DEFAULT_CATEGORY)


def partner_reference(reference: str) -> str:
    """Our reference as the partner stores it: unchanged when it fits, else a stable digest
    (the same input always gives the same reference, so a lookup after a lost answer finds it)."""
    if len(reference) <= MAX_PARTNER_REFERENCE:
        return reference
    return "sha256:" + hashlib.sha256(reference.encode()).hexdigest()


def cancellation_policy(
    refund_policy: Mapping[str, Any] | None, start: datetime
) -> CancellationPolicy:
    """The event's refund policy as the booking flow shows it: a summary, the moment until which
    the whole order total comes back, and whether anything can come back at all.

    The partner's policy is a list of bands, most generous first:
    {"policy_type", "description", "bands": [{"min_hours_before_start", "refund_percent"}]}."""
    if not refund_policy:
        return CancellationPolicy(
            summary="See the event's refund terms.", free_until=None, refundable=False
        )
    bands = [
        (int(b["min_hours_before_start"]), int(b["refund_percent"]))
        for b in refund_policy.get("bands") or []
    ]
    full = [hours for hours, percent in bands if percent >= 100]
    free_until = start - timedelta(hours=max(full)) if full else None
    refundable = any(percent > 0 for _, percent in bands)
    summary = str(refund_policy.get("description") or refund_policy.get("policy_type") or "")
    return CancellationPolicy(
        summary=summary or "See the event's refund terms.",
        free_until=free_until,
        refundable=refundable,
    )


def refund_percent_at(
    refund_policy: Mapping[str, Any] | None, start: datetime, now: datetime
) -> int:
    """The partner's rule, for checks: the first band whose threshold we are still before."""
    hours = (start - now).total_seconds() / 3600
    if not refund_policy or hours <= 0:
        return 0
    for band in refund_policy.get("bands") or []:
        if hours >= int(band["min_hours_before_start"]):
            return int(band["refund_percent"])
    return 0


def unit_price(cost: Money | None, fee: Money | None) -> Money | None:
    """What one ticket costs the buyer: the face value plus Eventbrite's per-ticket fee."""
    if cost is None:
        return None
    if fee is None or fee.amount_minor == 0:
        return cost
    return Money(amount_minor=cost.amount_minor + fee.amount_minor, currency=cost.currency)


def times(unit: Money, quantity: int) -> Money:
    return Money(amount_minor=unit.amount_minor * quantity, currency=unit.currency)


def fee_kept(total: Money, refund: Money | None) -> tuple[Money, Money]:
    """(refund, fee): what comes back and what the policy keeps, out of the order total."""
    back = refund if refund is not None else Money(amount_minor=0, currency=total.currency)
    return back, Money(
        amount_minor=max(0, total.amount_minor - back.amount_minor), currency=total.currency
    )
