"""Public booking lifecycle events on booking.events.v1. No personal data here."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from booking_shared.contracts.base import Message
from booking_shared.contracts.items import BookingItem
from booking_shared.money import Money

BookingMode = Literal["all_or_nothing", "best_effort"]


class PaymentSource(BaseModel):
    """Stripe tokens only: a customer and a saved PaymentMethod, never a card number."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer_id: str = Field(
        description="Stripe Customer id.", examples=["cus_Q1w2e3"], pattern=r"^cus_\w+$"
    )
    payment_method_id: str = Field(
        description="Stripe PaymentMethod id.", examples=["pm_1Pq2w3"], pattern=r"^pm_\w+$"
    )


class BookingRequested(Message):
    """A person pressed the button: book these items and pay with this card, or nothing."""

    user_id: str = Field(description="Opaque user id (no name or email).", examples=["usr_7f3a"])
    quote_id: str = Field(description="The quote the person accepted.", examples=["qt_9c1d"])
    items: list[BookingItem] = Field(description="What to book.", min_length=1, max_length=20)
    total: Money = Field(description="The exact amount to authorize.")
    payment: PaymentSource
    mode: BookingMode = Field(
        "all_or_nothing", description="all_or_nothing, or best_effort: book what can be booked."
    )
    guest: str = Field(
        description="Sealed guest contact (name, email, phone) for the partners: ciphertext only "
        "the provider services can open, so no personal data is readable on this topic.",
        examples=["gAAAAABn..."],
    )
    requested_at: datetime = Field(description="When the person confirmed.")


class ConfirmedItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    item_id: str = Field(examples=["item-1"])
    provider: str = Field(examples=["opentable"])
    confirmation_code: str = Field(examples=["OT-8K2M4Q"])
    amount: Money


class BookingConfirmed(Message):
    """Every item (or, best-effort, every bookable item) is confirmed and paid."""

    items: list[ConfirmedItem]
    amount_captured: Money
    failed_items: list[FailureReason] = Field(
        default_factory=list, description="Best-effort only: items not booked."
    )


class FailureReason(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    item_id: str | None = Field(
        None, description="The item, or null for a booking-wide reason.", examples=["item-2"]
    )
    code: str = Field(description="Machine-readable reason.", examples=["slot_unavailable"])
    detail: str = Field(
        "", description="Human-readable detail.", examples=["No table left at 20:00"]
    )


BookingConfirmed.model_rebuild()


class BookingFailed(Message):
    """Nothing is booked and nothing is charged (holds released, payment hold voided)."""

    reasons: list[FailureReason] = Field(min_length=1)


class BookingCancellationRequested(Message):
    """The person asked to cancel a confirmed booking."""

    requested_by: str = Field(description="Opaque user id.", examples=["usr_7f3a"])
    reason: str = Field("", max_length=500, examples=["plans changed"])


class ItemRefund(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    item_id: str = Field(examples=["item-1"])
    refunded: Money
    fee: Money = Field(description="What the item's cancellation policy keeps.")


class ItemCancellation(BaseModel):
    """What became of one booked item when the booking was cancelled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    item_id: str = Field(examples=["item-1"])
    outcome: Literal["cancelled", "not_cancellable"] = Field(
        description="not_cancellable: the partner refused (past its window, seated, used); the item stands, paid."
    )
    refunded: Money = Field(description="What the partner gave back (zero when not cancellable).")
    fee: Money = Field(description="What the item's cancellation policy keeps.")
    reason_code: str | None = Field(
        None, examples=["not_cancellable"], description="Why it was not cancelled."
    )
    detail: str = Field("", max_length=500, description="The partner's words, when it refused.")


class BookingCancelled(Message):
    """The cancellation is finished; refunds follow each item's policy. When `partial` is true a
    partner refused to cancel some item: `items` says which (they stand, and stay paid)."""

    refunds: list[ItemRefund] = Field(
        description="The items that were cancelled, with their refunds."
    )
    total_refunded: Money
    partial: bool = Field(False, description="Some item could not be cancelled (see items).")
    items: list[ItemCancellation] = Field(
        default_factory=list,
        description="Per booked item: cancelled (with refund and fee) or not_cancellable.",
    )
