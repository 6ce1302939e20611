"""The gateway's own value objects: preferences, cards, quote lines (pydantic, no I/O)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from booking_shared.contracts import GuestRequirements
from booking_shared.contracts.items import BookingItem, BookingType
from booking_shared.money import Amount, Money

ALL_BOOKING_TYPES: list[BookingType] = ["restaurant", "event"]


class Preferences(BaseModel):
    """What a user allows the one-click button to do without asking again."""

    model_config = ConfigDict(extra="forbid")

    auto_book_enabled: bool = Field(
        False,
        strict=True,
        description="Book without an explicit confirmation, within the limits below.",
        examples=[True],
    )
    max_auto_spend: Amount | None = Field(
        None,
        description="Largest total booked without an explicit confirmation. Unset: auto-booking never applies.",
        examples=[{"amount_minor": 20000, "currency": "EUR"}],
    )
    allowed_booking_types: list[BookingType] = Field(
        default_factory=lambda: list(ALL_BOOKING_TYPES),
        description="Booking types this user books at all (confirmed or not).",
        examples=[["restaurant", "event"]],
    )
    require_confirmation_above: Amount | None = Field(
        None,
        description="Totals above this always need an explicit confirmation.",
        examples=[{"amount_minor": 10000, "currency": "EUR"}],
    )

    @field_validator("allowed_booking_types")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))


class Card(BaseModel):
    """A saved card as the payment service shows it: a token and display fields only."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(examples=["pm_1Pq2w3"])
    brand: str | None = Field(None, examples=["visa"])
    last4: str | None = Field(None, examples=["4242"])
    exp_month: int | None = Field(None, examples=[12])
    exp_year: int | None = Field(None, examples=[2030])
    is_default: bool = Field(False, examples=[True])


class Policy(BaseModel):
    """An item's cancellation policy, as its provider states it."""

    model_config = ConfigDict(extra="ignore")

    summary: str = Field(
        "", examples=["Free cancellation until 24 h before; then the deposit is kept."]
    )
    free_until: datetime | None = Field(None, examples=["2026-12-04T20:00:00+00:00"])
    refundable: bool = Field(True, examples=[True])


class QuoteLine(BaseModel):
    """One item of a quote, priced by its provider."""

    item_id: str = Field(examples=["item-1"])
    title: str = Field(examples=["Dinner at Cervejaria Ramiro"])
    booking_type: BookingType = Field(examples=["restaurant"])
    provider: str = Field(examples=["opentable"])
    start_time: datetime = Field(examples=["2026-12-05T20:00:00+00:00"])
    available: bool = Field(examples=[True])
    unit_price: Money | None = Field(None, examples=[{"amount_minor": 2500, "currency": "EUR"}])
    price: Money | None = Field(
        None, description="Line total.", examples=[{"amount_minor": 5000, "currency": "EUR"}]
    )
    cancellation_policy: Policy | None = None
    reason: str | None = Field(None, description="Why the item cannot be booked.", examples=[None])
    item: BookingItem = Field(
        description="The item as it will be booked (cost = the provider's unit price)."
    )
    guest_requirements: GuestRequirements | None = Field(
        None,
        description="The guest details this item's provider needs, as it declares them in its "
        "capabilities (null: it declares none).",
    )


class Reason(BaseModel):
    """Why auto-booking does not apply, or why a booking is refused."""

    code: str = Field(examples=["above_confirmation_threshold"])
    message: str = Field(
        examples=["The total 120.00 EUR is above your require_confirmation_above of 100.00 EUR."]
    )
