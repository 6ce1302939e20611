"""provider.<name>.commands.v1 / .replies.v1: one contract for every provider service."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
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

    summary: str = Field(
        examples=["Free cancellation until 24 h before; then 100% of the deposit."]
    )
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
    hold_id: str | None = Field(
        None, description="The partner's lock or hold id; null without hold capability."
    )
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


GuestField = Literal["first_name", "last_name", "full_name", "email", "phone"]
GUEST_FIELDS: tuple[str, ...] = ("first_name", "last_name", "full_name", "email", "phone")


class GuestFieldRule(BaseModel):
    """What the partner accepts for one guest detail. Lengths count characters (code points)
    of the trimmed value; `full_name` is first_name and last_name joined by one space."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: GuestField = Field(examples=["last_name"])
    required: bool = Field(True, description="The partner refuses a booking without it.")
    min_length: int | None = Field(None, ge=1, examples=[1])
    max_length: int | None = Field(None, ge=1, examples=[100])
    pattern: str | None = Field(
        None,
        description="A regular expression the whole trimmed value must match (Python re).",
        examples=[r"^\+?[0-9][0-9 ()\-]{5,19}$"],
    )
    too_long: Literal["refused", "truncated"] = Field(
        "refused",
        description="refused: the partner refuses a longer value; truncated: the provider "
        "shortens it to max_length itself, so a longer value books.",
    )
    hint: str = Field("", max_length=200, description="What the pattern allows, for people.")


@dataclass(frozen=True)
class GuestProblem:
    """One guest detail a partner would refuse: which, why (a code), and a sentence."""

    field: str
    code: Literal["missing", "too_short", "too_long", "invalid_format"]
    message: str


class GuestRequirements(BaseModel):
    """The guest details a partner needs, as data: the gateway checks a guest against them
    before anything is held or authorized, and the provider again before it writes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: list[GuestFieldRule] = Field(default_factory=list)

    def problems(self, guest: Mapping[str, str | None]) -> list[GuestProblem]:
        """What the partner would refuse in `guest` (first_name, last_name, email, phone)."""
        first = (guest.get("first_name") or "").strip()
        last = (guest.get("last_name") or "").strip()
        values = {k: (guest.get(k) or "").strip() for k in GUEST_FIELDS}
        values["full_name"] = " ".join(p for p in (first, last) if p)
        out: list[GuestProblem] = []
        for rule in self.fields:
            value = values[rule.field]
            if not value:
                if rule.required:
                    out.append(
                        GuestProblem(rule.field, "missing", f"{_LABELS[rule.field]} is required")
                    )
                continue
            if rule.min_length is not None and len(value) < rule.min_length:
                out.append(
                    GuestProblem(rule.field, "too_short", f"at least {rule.min_length} characters")
                )
            if (
                rule.max_length is not None
                and len(value) > rule.max_length
                and rule.too_long == "refused"
            ):
                out.append(
                    GuestProblem(rule.field, "too_long", f"at most {rule.max_length} characters")
                )
            if rule.pattern is not None and re.fullmatch(rule.pattern, value) is None:
                out.append(
                    GuestProblem(
                        rule.field, "invalid_format", rule.hint or f"must match {rule.pattern}"
                    )
                )
        return out


_LABELS = {
    "first_name": "a given name (first_name)",
    "last_name": "a family name (last_name)",
    "full_name": "a name",
    "email": "an email address",
    "phone": "a phone number",
}


class Capabilities(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hold: bool = Field(description="The partner can hold inventory before booking.")
    api_book: bool = Field(description="Bookings go through the partner's API.")
    cancel: bool = Field(description="Bookings can be cancelled through the API.")
    refund_policy: Literal["per_item_policy", "none", "full"] = "per_item_policy"
    hold_ttl_seconds: int | None = Field(None, description="How long a hold lives at the partner.")
    guest_requirements: GuestRequirements | None = Field(
        None,
        description="The guest details the partner needs and the limits it enforces; "
        "null: the provider declares none (any sealed guest contact is sent as is).",
    )


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
