"""The payment of one booking as a state machine: which moves are forward, when a hold lapses,
and what a capture or refund may ask. Pure rules, no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    REQUIRES_ACTION = "requires_action"  # 3-D Secure: the person must finish in the browser
    AUTHORIZED = "authorized"  # the exact total is held (PaymentIntent requires_capture)
    DECLINED = "declined"
    CAPTURED = "captured"  # money taken (possibly partly refunded since)
    REFUNDED = "refunded"  # everything captured was given back
    VOIDED = "voided"  # the hold was released
    EXPIRED = "expired"  # Stripe canceled the hold when the authorization lapsed
    FAILED = "failed"  # Stripe refused the request (bad parameters, unknown card)


# Forward moves only. A late or repeated webhook that would move a payment backwards (e.g.
# amount_capturable_updated after the capture) changes nothing.
_FORWARD: dict[Status, frozenset[Status]] = {
    Status.REQUIRES_ACTION: frozenset(
        {
            Status.AUTHORIZED,
            Status.DECLINED,
            Status.VOIDED,
            Status.EXPIRED,
            Status.FAILED,
            Status.CAPTURED,
        }
    ),
    Status.AUTHORIZED: frozenset({Status.CAPTURED, Status.VOIDED, Status.EXPIRED}),
    Status.CAPTURED: frozenset({Status.REFUNDED}),
    Status.REFUNDED: frozenset(),
    Status.DECLINED: frozenset(),
    Status.VOIDED: frozenset(),
    Status.EXPIRED: frozenset(),
    Status.FAILED: frozenset(),
}


def is_forward(current: Status, target: Status) -> bool:
    return target in _FORWARD[current]


def hold_expiry(
    stripe_capture_before: datetime | None, authorized_at: datetime, window: timedelta
) -> tuple[datetime, str]:
    """When the hold lapses, and who said so: Stripe's capture_before when it gives one, else our
    conservative rule (authorized_at + window, window under Stripe's documented 7 days)."""
    if stripe_capture_before is not None:
        return stripe_capture_before, "stripe"
    return authorized_at + window, "fallback"


@dataclass(frozen=True)
class Payment:
    """The card payment of one booking: one PaymentIntent at a time."""

    booking_id: str
    customer_id: str
    payment_method_id: str
    authorize_command_id: uuid.UUID
    currency: str
    amount_requested: int
    status: Status
    payment_intent_id: str | None = None
    amount_authorized: int = 0
    amount_captured: int = 0
    amount_refunded: int = 0
    capture_before: datetime | None = None
    capture_before_source: str | None = None
    client_secret: str | None = None
    decline_code: str | None = None
    failure_code: str | None = None
    disputed: bool = False

    @property
    def refundable(self) -> int:
        return max(0, self.amount_captured - self.amount_refunded)

    def moved(self, target: Status, **changes: Any) -> Payment:
        """This payment in `target` status. The client secret lives only while requires_action."""
        if target != Status.REQUIRES_ACTION:
            changes["client_secret"] = None
        return replace(self, status=target, **changes)

    def with_refunds(self, total_refunded: int) -> Payment:
        """Refund totals only grow; everything given back makes it REFUNDED."""
        total = min(max(self.amount_refunded, total_refunded), self.amount_captured)
        status = (
            Status.REFUNDED
            if self.amount_captured and total >= self.amount_captured
            else self.status
        )
        return replace(self, amount_refunded=total, status=status)


def capture_refusal(
    payment: Payment | None, amount: int | None, currency: str | None
) -> str | None:
    """Why a capture cannot be asked of Stripe (a PaymentFailed code), or None if it can."""
    if payment is None or payment.payment_intent_id is None:
        return "not_authorized"
    if payment.status == Status.EXPIRED:
        return "authorization_expired"
    if payment.status == Status.VOIDED:
        return "intent_canceled"
    if payment.status in (Status.CAPTURED, Status.REFUNDED):
        return None  # answered from what was captured, without a second capture
    if payment.status != Status.AUTHORIZED:
        return "not_authorized"
    if currency is not None and currency != payment.currency:
        return "currency_mismatch"
    if amount is not None and amount <= 0:
        return "invalid_amount"
    if amount is not None and amount > payment.amount_authorized:
        return "capture_exceeds_authorized"
    return None


def refund_refusal(payment: Payment | None, amount: int, currency: str) -> str | None:
    """Why a refund cannot be asked of Stripe (a PaymentFailed code), or None if it can."""
    if (
        payment is None
        or payment.payment_intent_id is None
        or payment.status
        not in (
            Status.CAPTURED,
            Status.REFUNDED,
        )
    ):
        return "not_captured"
    if currency != payment.currency:
        return "currency_mismatch"
    if amount <= 0:
        return "invalid_amount"
    if amount > payment.refundable:
        return "refund_exceeds_captured"
    return None


def status_of_intent(
    intent_status: str, cancellation_reason: str | None, has_error: bool
) -> Status | None:
    """Our status for a PaymentIntent status, or None when it says nothing we act on."""
    match intent_status:
        case "requires_capture":
            return Status.AUTHORIZED
        case "succeeded":
            return Status.CAPTURED
        case "requires_action":
            return Status.REQUIRES_ACTION
        case "canceled":
            return Status.EXPIRED if cancellation_reason == "automatic" else Status.VOIDED
        case "requires_payment_method" if has_error:
            return Status.DECLINED
    return None


def refunded_of_charge(charge: dict[str, Any], captured_locally: int) -> int:
    """What was refunded on a charge, from a charge object (a webhook's), counted low when in
    doubt. After a partial capture the released rest may appear in `amount_refunded` (older
    Stripe API versions, localstripe) or not (newer ones); it is never a refund, so it is taken
    off either way. Counting low is safe: it only feeds a running maximum, and the gateway checks
    every refund against Stripe's own numbers."""
    amount = int(charge.get("amount") or 0)
    captured = charge.get("amount_captured")
    captured = int(captured) if captured is not None else captured_locally
    uncaptured = max(0, amount - captured)
    return max(0, int(charge.get("amount_refunded") or 0) - uncaptured)
