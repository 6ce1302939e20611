"""payment.commands.v1 and payment.replies.v1: the saga's conversation with the payment service."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from booking_shared.contracts.base import Command, Reply
from booking_shared.money import Money


class AuthorizePayment(Command):
    """Hold the exact total on the saved card (a PaymentIntent with capture_method=manual)."""

    customer_id: str = Field(examples=["cus_Q1w2e3"], pattern=r"^cus_\w+$")
    payment_method_id: str = Field(examples=["pm_1Pq2w3"], pattern=r"^pm_\w+$")
    amount: Money
    description: str = Field("", max_length=200, examples=["Booking bk_01JAXQ7D6T2ZK1"])


class CapturePayment(Command):
    """Take the money held; amount may be less than authorized, never more."""

    amount: Money | None = Field(None, description="null captures everything authorized.")


class VoidPayment(Command):
    """Cancel the PaymentIntent and release the hold."""


class RefundPayment(Command):
    """Give back captured money; refunds never add up to more than was captured."""

    amount: Money
    reason: str = Field("", max_length=200, examples=["booking cancelled"])


class PaymentAuthorized(Reply):
    payment_intent_id: str = Field(examples=["pi_3Pq2w3"])
    amount_capturable: Money
    capture_before: datetime = Field(
        description="When the authorization lapses (Stripe's, or the card network rule)."
    )


class PaymentDeclined(Reply):
    decline_code: str = Field(
        description="Stripe's decline code.", examples=["card_declined", "insufficient_funds"]
    )
    message: str = Field("", examples=["Your card was declined."])


class PaymentActionRequired(Reply):
    """3-D Secure: the person must finish in the browser with this client secret."""

    payment_intent_id: str = Field(examples=["pi_3Pq2w3"])
    client_secret: str = Field(examples=["pi_3Pq2w3_secret_abc"])


class PaymentCaptured(Reply):
    amount_captured: Money


class PaymentVoided(Reply):
    pass


class PaymentRefunded(Reply):
    amount_refunded: Money = Field(description="This refund.")
    total_refunded: Money = Field(description="All refunds of this payment so far.")
    refund_id: str = Field(examples=["re_3Pq2w3"])


class PaymentFailed(Reply):
    """A capture, void or refund that cannot be done (e.g. the authorization lapsed)."""

    operation: Literal["authorize", "capture", "void", "refund"]
    code: str = Field(examples=["authorization_expired", "refund_exceeds_captured"])
    message: str = ""
