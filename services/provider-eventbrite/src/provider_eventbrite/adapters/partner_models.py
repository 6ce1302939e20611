"""What the Eventbrite partner client returns: normalised states, reason codes, small result types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from booking_shared.contracts.provider import RejectReason
from booking_shared.money import Money


class Status(StrEnum):
    """Our six states; each result keeps the partner's own word in `partner_status`."""

    HELD = "HELD"
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


class Reason(StrEnum):
    """Why a partner said no (the `reason` of a REJECTED result)."""

    SOLD_OUT = "sold_out"
    INSUFFICIENT_INVENTORY = "insufficient_inventory"
    HOLD_EXPIRED = "hold_expired"
    HOLD_NOT_FOUND = "hold_not_found"
    HOLD_ALREADY_ORDERED = "hold_already_ordered"
    NOT_ON_SALE = "not_on_sale"
    SALES_ENDED = "sales_ended"
    NOT_FOUND = "not_found"
    INVALID_REQUEST = "invalid_request"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    QUOTE_EXPIRED = "quote_expired"
    ALREADY_CANCELLED = "already_cancelled"
    NOT_CANCELLABLE = "not_cancellable"
    RATE_LIMITED = "rate_limited"


_STATUS = {
    **dict.fromkeys(["HELD", "ON_HOLD", "RESERVED"], Status.HELD),
    **dict.fromkeys(
        ["PENDING", "PENDING_CONFIRMATION", "PROCESSING", "ON_REQUEST"], Status.PENDING
    ),
    **dict.fromkeys(["CONFIRMED", "PLACED", "COMPLETED", "ORDERED"], Status.CONFIRMED),
    **dict.fromkeys(
        [
            "REJECTED",
            "DECLINED",
            "SOLD_OUT",
            "INSUFFICIENT_INVENTORY",
            "HOLD_EXPIRED",
            "HOLD_NOT_FOUND",
            "NOT_YET_ON_SALE",
            "SALES_ENDED",
            "LOST",
        ],
        Status.REJECTED,
    ),
    **dict.fromkeys(
        ["CANCELLED", "CANCELED", "RELEASED", "EXPIRED", "REFUNDED", "VOID", "DELETED"],
        Status.CANCELLED,
    ),
    **dict.fromkeys(["FAILED", "ERROR", "ABANDONED"], Status.FAILED),
}

_REASON = {
    "SOLD_OUT": Reason.SOLD_OUT,
    "INSUFFICIENT_INVENTORY": Reason.INSUFFICIENT_INVENTORY,
    "HOLD_EXPIRED": Reason.HOLD_EXPIRED,
    "HOLD_NOT_FOUND": Reason.HOLD_NOT_FOUND,
    "HOLD_ALREADY_ORDERED": Reason.HOLD_ALREADY_ORDERED,
    "NOT_YET_ON_SALE": Reason.NOT_ON_SALE,
    "SALES_ENDED": Reason.SALES_ENDED,
    "EVENT_NOT_FOUND": Reason.NOT_FOUND,
    "TICKET_CLASS_NOT_FOUND": Reason.NOT_FOUND,
    "ORDER_NOT_FOUND": Reason.NOT_FOUND,
    "NOT_FOUND": Reason.NOT_FOUND,
    "VALIDATION_ERROR": Reason.INVALID_REQUEST,
    "MISSING_REQUEST_ID": Reason.INVALID_REQUEST,
    "ARGUMENTS_ERROR": Reason.INVALID_REQUEST,
    "IDEMPOTENCY_KEY_REUSED": Reason.IDEMPOTENCY_CONFLICT,
    "QUOTE_EXPIRED": Reason.QUOTE_EXPIRED,
    "ALREADY_CANCELLED": Reason.ALREADY_CANCELLED,
    "NOT_CANCELLABLE": Reason.NOT_CANCELLABLE,
    "RATE_LIMITED": Reason.RATE_LIMITED,
}


# Our reasons in the provider-neutral reply contract's words (contracts.provider.RejectReason).
_CONTRACT_REASON: dict[Reason, RejectReason] = {
    Reason.SOLD_OUT: "sold_out",
    Reason.INSUFFICIENT_INVENTORY: "insufficient_inventory",
    Reason.HOLD_EXPIRED: "hold_expired",
    Reason.HOLD_NOT_FOUND: "hold_expired",  # a hold the partner no longer knows has lapsed
    Reason.HOLD_ALREADY_ORDERED: "slot_taken",
    Reason.NOT_ON_SALE: "slot_unavailable",
    Reason.SALES_ENDED: "slot_unavailable",
    Reason.NOT_FOUND: "not_found",
    Reason.INVALID_REQUEST: "invalid_item",
    Reason.IDEMPOTENCY_CONFLICT: "invalid_item",
    Reason.QUOTE_EXPIRED: "not_cancellable",
    Reason.ALREADY_CANCELLED: "not_cancellable",
    Reason.NOT_CANCELLABLE: "not_cancellable",
    Reason.RATE_LIMITED: "partner_unavailable",
}


def contract_reason(reason: str | None) -> RejectReason:
    """Our reason code as an ItemRejected.reason_code; an unknown one becomes slot_unavailable."""
    if reason is None:
        return "slot_unavailable"
    try:
        return _CONTRACT_REASON[Reason(reason)]
    except ValueError:
        return "slot_unavailable"


def normalise_status(partner_status: str | None) -> Status:
    """Map a partner state to ours; anything unknown is FAILED (and keeps its raw value)."""
    return _STATUS.get((partner_status or "").upper(), Status.FAILED)


def reason_for(code: str | None, http_status: int | None = None) -> str:
    """Map a partner error code to our reason code; an unknown code is kept, lower-cased."""
    if code and code.upper() in _REASON:
        return _REASON[code.upper()].value
    if http_status == 404:
        return Reason.NOT_FOUND.value
    if http_status == 429:
        return Reason.RATE_LIMITED.value
    if http_status in (400, 422):
        return Reason.INVALID_REQUEST.value
    return (code or f"http_{http_status}").lower()


def money(obj: Mapping[str, Any] | None) -> Money | None:
    """Read Eventbrite's cost object ({currency, value (minor units), major_value, display})."""
    if not obj or obj.get("value") is None:
        return None
    return Money(amount_minor=int(obj["value"]), currency=str(obj["currency"]))


def parse_time(raw: str | None) -> datetime | None:
    return datetime.fromisoformat(raw) if raw else None


def _raw() -> Any:
    return field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Venue:
    id: str
    name: str
    address: str
    city: str | None
    country: str | None
    latitude: float | None
    longitude: float | None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_v3(cls, d: Mapping[str, Any]) -> Venue:
        addr = d.get("address") or {}
        lat, lon = (
            d.get("latitude") or addr.get("latitude"),
            d.get("longitude") or addr.get("longitude"),
        )
        return cls(
            id=str(d["id"]),
            name=d.get("name") or "",
            address=addr.get("localized_address_display") or addr.get("address_1") or "",
            city=addr.get("city"),
            country=addr.get("country"),
            latitude=float(lat) if lat is not None else None,
            longitude=float(lon) if lon is not None else None,
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class TicketClass:
    id: str
    event_id: str
    name: str
    cost: Money | None
    fee: Money | None
    capacity: int | None
    quantity_sold: int
    quantity_pending: int
    on_sale_status: str  # Eventbrite's own: AVAILABLE, SOLD_OUT, NOT_YET_ON_SALE, ...
    maximum_quantity_per_order: int | None
    raw: Mapping[str, Any] = _raw()

    @property
    def available(self) -> int | None:
        """Tickets neither sold nor held, if the partner says how many exist."""
        if self.capacity is None:
            return None
        return max(0, self.capacity - self.quantity_sold - self.quantity_pending)

    @property
    def on_sale(self) -> bool:
        return self.on_sale_status == "AVAILABLE"

    @classmethod
    def from_v3(cls, d: Mapping[str, Any]) -> TicketClass:
        cap = d.get("quantity_total", d.get("capacity"))
        return cls(
            id=str(d["id"]),
            event_id=str(d.get("event_id") or ""),
            name=d.get("display_name") or d.get("name") or "",
            cost=money(d.get("cost")),
            fee=money(d.get("fee")),
            capacity=int(cap) if cap is not None else None,
            quantity_sold=int(d.get("quantity_sold") or 0),
            quantity_pending=int(d.get("quantity_pending") or 0),
            on_sale_status=str(d.get("on_sale_status") or "UNKNOWN"),
            maximum_quantity_per_order=d.get("maximum_quantity_per_order"),
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    name: str
    start: datetime  # aware, UTC
    end: datetime | None
    timezone: str
    start_local: str  # the venue's wall time, as Eventbrite writes it
    venue_id: str | None
    currency: str | None
    url: str | None
    partner_status: str  # live, started, ended, canceled, ...
    category_id: str | None
    refund_policy: Mapping[str, Any] | None
    venue: Venue | None = None
    ticket_classes: tuple[TicketClass, ...] | None = None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_v3(cls, d: Mapping[str, Any]) -> Event:
        start, end = d.get("start") or {}, d.get("end") or {}
        tcs = d.get("ticket_classes")
        return cls(
            id=str(d["id"]),
            name=(d.get("name") or {}).get("text") or "",
            start=datetime.fromisoformat(start["utc"]),
            end=parse_time(end.get("utc")),
            timezone=start.get("timezone") or "UTC",
            start_local=start.get("local") or "",
            venue_id=d.get("venue_id"),
            currency=d.get("currency"),
            url=d.get("url"),
            partner_status=str(d.get("status") or ""),
            category_id=d.get("category_id"),
            refund_policy=d.get("refund_policy"),
            venue=Venue.from_v3(d["venue"]) if d.get("venue") else None,
            ticket_classes=tuple(TicketClass.from_v3(t) for t in tcs) if tcs is not None else None,
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class Price:
    quantity: int
    unit_price: Money | None
    fees: Money | None
    subtotal: Money | None
    total: Money | None

    @classmethod
    def from_partner(cls, d: Mapping[str, Any] | None) -> Price | None:
        if not d:
            return None
        return cls(
            quantity=int(d.get("quantity") or 0),
            unit_price=money(d.get("unit_price")),
            fees=money(d.get("fees")),
            subtotal=money(d.get("subtotal")),
            total=money(d.get("total")),
        )


@dataclass(frozen=True, slots=True)
class Attendee:
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class Ticket:
    ticket_id: str
    barcode: str | None
    ticket_class_id: str | None
    partner_status: str | None


@dataclass(frozen=True, slots=True)
class HoldResult:
    """HELD with a hold id and expiry, or REJECTED with a reason (or CANCELLED after a release)."""

    status: Status
    partner_status: str
    reason: str | None = None
    message: str | None = None
    hold_id: str | None = None
    valid_until: datetime | None = None
    quantity: int | None = None
    price: Price | None = None
    available: int | None = None  # what is left, when the partner says (insufficient inventory)
    http_status: int | None = None
    raw: Mapping[str, Any] = _raw()

    @property
    def ok(self) -> bool:
        return self.status is Status.HELD


@dataclass(frozen=True, slots=True)
class OrderResult:
    """CONFIRMED (or PENDING/CANCELLED as the partner reports it), or REJECTED with a reason."""

    status: Status
    partner_status: str
    reason: str | None = None
    message: str | None = None
    order_id: str | None = None
    partner_reference: str | None = None
    hold_id: str | None = None
    event_id: str | None = None
    ticket_class_id: str | None = None
    quantity: int | None = None
    price: Price | None = None
    tickets: tuple[Ticket, ...] = ()
    refund: Money | None = None
    recovered: bool = False  # found by our reference after an ambiguous write (timeout or 5xx)
    http_status: int | None = None
    raw: Mapping[str, Any] = _raw()

    @property
    def ok(self) -> bool:
        return self.status is Status.CONFIRMED


@dataclass(frozen=True, slots=True)
class CancelQuote:
    """What cancelling now would refund, per the event's policy and the partner's clock."""

    order_id: str
    cancellable: bool
    partner_status: str
    quote_id: str | None = None
    refund: Money | None = None
    refund_percent: int | None = None
    order_total: Money | None = None
    valid_until: datetime | None = None
    reason: str | None = None
    message: str | None = None
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class CancelResult:
    status: Status  # CANCELLED or REJECTED
    partner_status: str
    order_id: str
    refund: Money | None = None
    refund_percent: int | None = None
    already_cancelled: bool = False
    reason: str | None = None
    message: str | None = None
    raw: Mapping[str, Any] = _raw()

    @property
    def ok(self) -> bool:
        return self.status is Status.CANCELLED
