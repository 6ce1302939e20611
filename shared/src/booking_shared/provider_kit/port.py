"""What a provider service implements for its partner: the PartnerPort and its results."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from booking_shared.contracts import BookingItem, CancellationPolicy, Capabilities
from booking_shared.contracts.provider import RejectReason
from booking_shared.money import Money
from booking_shared.sealed import GuestContact

Status = str  # HELD | PENDING | CONFIRMED | REJECTED | CANCELLED | FAILED


class PartnerUnavailable(Exception):
    """The partner did not answer after retries (an outage, not a business answer)."""


@dataclass(frozen=True)
class HoldOutcome:
    ok: bool
    price: Money | None = None
    hold_id: str | None = None
    expires_at: datetime | None = None
    reason_code: RejectReason | None = None  # set when not ok
    detail: str = ""
    partner_status: str | None = None


@dataclass(frozen=True)
class ConfirmOutcome:
    ok: bool
    confirmation_code: str | None = None
    partner_reference: str | None = None
    price: Money | None = None
    policy: CancellationPolicy | None = None
    reason_code: RejectReason | None = None
    detail: str = ""
    partner_status: str | None = None


@dataclass(frozen=True)
class CancelOutcome:
    refund: Money
    fee: Money
    partner_status: str | None = None
    # False: the partner definitely refused (past its window, seated, used, order closed). The
    # booking stands; the kit answers ItemRejected(not_cancellable), a business answer, not an
    # outage. Anything that says nothing about the booking must raise PartnerUnavailable instead.
    cancelled: bool = True
    detail: str = ""

    @classmethod
    def refused(cls, kept: Money, partner_status: str | None, detail: str) -> CancelOutcome:
        """The partner will not cancel: nothing comes back, the whole price is kept."""
        return cls(
            refund=Money.zero(kept.currency),
            fee=kept,
            partner_status=partner_status,
            cancelled=False,
            detail=detail,
        )


@dataclass(frozen=True)
class SearchQuery:
    on: date | None = None
    q: str | None = None
    party_size: int = 2
    quantity: int = 1
    time: str | None = None
    limit: int = 20


@dataclass(frozen=True)
class Offer:
    """A bookable item in the booking flow's shape, with price and policy."""

    item: BookingItem
    price: Money
    timezone: str
    cancellation_policy: CancellationPolicy
    available: bool = True
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QuoteLine:
    item_id: str
    available: bool
    unit_price: Money | None = None
    price: Money | None = None
    cancellation_policy: CancellationPolicy | None = None
    reason: str | None = None


class PartnerPort(Protocol):
    """The partner's API as the booking flow needs it. `key` is an idempotency key derived from
    our command id (a retry reuses it); `reference` is our id for the booking at the partner."""

    name: str
    booking_types: list[str]
    capabilities: Capabilities
    timezone: str

    async def hold(self, item: BookingItem, *, key: str, reference: str) -> HoldOutcome: ...

    async def confirm(
        self,
        item: BookingItem,
        hold_id: str | None,
        guest: GuestContact,
        *,
        key: str,
        reference: str,
    ) -> ConfirmOutcome: ...

    async def release(self, item: BookingItem, hold_id: str, *, key: str) -> None: ...

    async def cancel(
        self, item: BookingItem, partner_reference: str, *, key: str
    ) -> CancelOutcome: ...

    async def cancel_quote(self, item: BookingItem, partner_reference: str) -> CancelOutcome: ...

    async def search(self, query: SearchQuery) -> list[Offer]: ...

    async def quote(self, item: BookingItem) -> QuoteLine: ...

    async def close(self) -> None: ...
