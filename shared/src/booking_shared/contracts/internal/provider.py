"""A provider service's internal API (one per provider, e.g. PROVIDER_OPENTABLE_URL): what it
books, search, quote, our record of a booking's items, cancel quotes. Every provider serves the
same contract (booking_shared.provider_kit.api)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from booking_shared.contracts.items import BookingItem
from booking_shared.contracts.provider import CancellationPolicy, Capabilities
from booking_shared.money import Money


class ProviderCapabilities(BaseModel):
    """What this provider books (the one source of truth for routing items to providers) and can do."""

    provider: str = Field(examples=["opentable"])
    booking_types: list[str] = Field(examples=[["restaurant"]])
    capabilities: Capabilities


class Offer(BaseModel):
    item: BookingItem
    price: Money
    timezone: str = Field(examples=["Europe/Lisbon"])
    cancellation_policy: CancellationPolicy
    available: bool
    details: dict[str, Any]


class SearchResult(BaseModel):
    provider: str
    timezone: str
    items: list[Offer]


class QuoteRequest(BaseModel):
    items: list[BookingItem] = Field(min_length=1, max_length=20)


class QuoteAnswer(BaseModel):
    item_id: str
    available: bool
    unit_price: Money | None
    price: Money | None
    cancellation_policy: CancellationPolicy | None
    reason: str | None


class QuoteResult(BaseModel):
    provider: str
    items: list[QuoteAnswer]


class BookedItem(BaseModel):
    """Our record of one item of a booking at this partner."""

    item_id: str
    status: str = Field(examples=["CONFIRMED"])
    partner_status: str | None
    confirmation_code: str | None
    partner_reference: str | None
    hold_id: str | None
    hold_expires_at: str | None
    price: Money | None
    refund: Money | None
    fee: Money | None
    reason_code: str | None
    cancellation_policy: dict[str, Any] | None


class BookedItems(BaseModel):
    provider: str
    items: list[BookedItem]


class CancelQuote(BaseModel):
    item_id: str
    cancellable: bool
    refund: Money
    fee: Money
    policy: dict[str, Any] | None
