"""provider.<name>.commands.v1 / .replies.v1: one contract for every provider service."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from booking_shared.contracts.base import Command, Message, Reply
from booking_shared.contracts.items import BookingItem
from booking_shared.money import Money

RejectReason = Literal[
    "slot_unavailable",
    "sold_out",
    "insufficient_inventory",
    "hold_expired",
    "slot_taken",
    "not_found",
    "invalid_item",
    "partner_unavailable",
    "not_cancellable",
]


class CancellationPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    summary: str = Field(examples=["Free cancellation until 24 h before; then 100% of the deposit."])
    free_until: datetime | None = Field(None, description="Full refund until then.")
    refundable: bool = True


class HoldItem(Command):
    """Hold the item (slot lock / ticket hold); with no hold capability, check availability."""

    item: BookingItem


class ConfirmItem(Command):
    """Book the held item for the guest."""

    item: BookingItem
    guest: str = Field(description="Sealed guest contact, as in BookingRequested.")


class CancelItem(Command):
    """Release a hold, or cancel a confirmed booking (refund per policy)."""

    item_id: str = Field(examples=["item-1"])
    reason: str = Field("", max_length=200)


class ItemHeld(Reply):
    item_id: str = Field(examples=["item-1"])
    hold_id: str | None = Field(None, description="The partner's lock or hold id; null without hold capability.")
    expires_at: datetime | None = None
    price: Money = Field(description="Line total at the partner.")


class ItemRejected(Reply):
    item_id: str = Field(examples=["item-1"])
    reason_code: RejectReason
    detail: str = ""
    partner_code: str | None = Field(None, description="The partner's own status or error code.")


class ItemConfirmed(Reply):
    item_id: str = Field(examples=["item-1"])
    confirmation_code: str = Field(examples=["OT-8K2M4Q"])
    partner_reference: str = Field(description="The partner's reservation or order id.")
    price: Money
    cancellation_policy: CancellationPolicy


class ItemCancelled(Reply):
    item_id: str = Field(examples=["item-1"])
    was_confirmed: bool = Field(description="False when only a hold (or nothing) was released.")
    refund: Money = Field(description="What the partner refunds under its policy.")
    fee: Money = Field(description="What the policy keeps.")


class Capabilities(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hold: bool = Field(description="The partner can hold inventory before booking.")
    api_book: bool = Field(description="Bookings go through the partner's API.")
    cancel: bool = Field(description="Bookings can be cancelled through the API.")
    refund_policy: Literal["per_item_policy", "none", "full"] = "per_item_policy"
    hold_ttl_seconds: int | None = Field(None, description="How long a hold lives at the partner.")


class ProviderAnnounced(Message):
    """A provider service says what it books and what it can do (booking_id is the provider name)."""

    provider: str = Field(examples=["opentable"])
    booking_types: list[str] = Field(examples=[["restaurant"]])
    capabilities: Capabilities
    commands_topic: str = Field(examples=["provider.opentable.commands.v1"])
    replies_topic: str = Field(examples=["provider.opentable.replies.v1"])


class ItemHoldLapsed(Message):
    """A hold expired at the partner before it was confirmed (found by the provider's sweeper)."""

    item_id: str = Field(examples=["item-1"])
    hold_id: str | None = Field(None, examples=["lock_5f2c"])
    expired_at: datetime
