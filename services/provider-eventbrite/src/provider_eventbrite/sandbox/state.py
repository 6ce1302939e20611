"""The sandbox's in-memory state and rules: inventory, holds, orders, cancel quotes, idempotency."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .catalogue import TZ, Catalogue, Event, TicketClass, build_catalogue
from .faults import Faults

Clock = Callable[[], datetime]

DEFAULT_HOLD_TTL_SECONDS = 900.0
QUOTE_TTL_SECONDS = 600.0


def utc_now() -> datetime:
    return datetime.now(UTC)


class PartnerError(Exception):
    """A non-2xx answer of the partner contract: HTTP status, machine code, message, field."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            out["field"] = self.field
            out["errors"] = [{"field": self.field, "message": self.message}]
        out.update(self.extra)
        return out


@dataclass
class Hold:
    id: str
    event_id: str
    ticket_class_id: str
    quantity: int
    partner_reference: str
    unit_minor: int
    fee_minor: int
    created: datetime
    valid_until: datetime
    status: str = "HELD"  # HELD | RELEASED | EXPIRED | ORDERED | LOST
    ended_at: datetime | None = None
    order_id: str | None = None


@dataclass
class Order:
    id: str
    partner_reference: str
    hold_id: str
    event_id: str
    ticket_class_id: str
    quantity: int
    attendee_name: str
    attendee_email: str
    unit_minor: int
    fee_minor: int
    created: datetime
    tickets: list[dict[str, Any]]
    status: str = "CONFIRMED"  # CONFIRMED | CANCELLED
    changed: datetime | None = None
    refund_minor: int | None = None
    refund_percent: int | None = None
    cancelled_at: datetime | None = None

    @property
    def subtotal_minor(self) -> int:
        return self.unit_minor * self.quantity

    @property
    def fees_minor(self) -> int:
        return self.fee_minor * self.quantity

    @property
    def total_minor(self) -> int:
        return self.subtotal_minor + self.fees_minor


@dataclass
class Quote:
    id: str
    order_id: str
    refund_minor: int
    percent: int
    hours_before_start: float
    created: datetime
    valid_until: datetime

    @property
    def cancellable(self) -> bool:
        """Once the event has started an order cannot be cancelled (as Viator's NOT_CANCELLABLE)."""
        return self.hours_before_start > 0


@dataclass
class _Stored:
    fingerprint: str
    status: int
    body: Any


@dataclass
class Stats:
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    by_route: dict[str, int] = field(default_factory=dict)


class Idempotency:
    """Request-id dedupe: the first answer to a key is stored and replayed; concurrent twins wait."""

    def __init__(self) -> None:
        self.records: dict[str, _Stored] = {}
        self.inflight: dict[str, asyncio.Future[None]] = {}

    async def run(
        self, key: str, fingerprint: str, fn: Callable[[], Awaitable[tuple[int, Any]]]
    ) -> tuple[int, Any, bool]:
        """Return (status, body, replayed)."""
        while True:
            rec = self.records.get(key)
            if rec is not None:
                if rec.fingerprint != fingerprint:
                    raise PartnerError(
                        422,
                        "IDEMPOTENCY_KEY_REUSED",
                        "this request id was already used for a different request",
                        field="X-Request-Id",
                    )
                return rec.status, rec.body, True
            waiting = self.inflight.get(key)
            if waiting is None:
                break
            await asyncio.shield(waiting)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.inflight[key] = fut
        try:
            try:
                status, body = await fn()
            except PartnerError as exc:
                status, body = exc.status, exc.body()
            self.records[key] = _Stored(fingerprint, status, body)
            return status, body, False
        finally:
            self.inflight.pop(key, None)
            fut.set_result(None)


def fingerprint(method: str, path: str, body: bytes | str = b"") -> str:
    raw = body.encode() if isinstance(body, str) else body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + raw).hexdigest()


class Sandbox:
    """Everything the sandbox knows. All mutations run on one event loop, guarded per ticket class."""

    def __init__(
        self, seed: int = 42, clock: Clock | None = None, faults: Faults | None = None
    ) -> None:
        self.seed = seed
        self._base_clock: Clock = clock or utc_now
        self.initial_faults = faults or Faults()
        # Ids never repeat across resets, so a stale id from before a reset is simply unknown.
        self._ids = itertools.count(1)
        self.reset()

    # ---- lifecycle -------------------------------------------------------------------------

    def reset(self) -> None:
        self.clock_offset = 0.0
        today = self._base_clock().astimezone(TZ).date()
        self.catalogue: Catalogue = build_catalogue(self.seed, today)
        self.holds: dict[str, Hold] = {}
        self._active: dict[str, Hold] = {}
        self.pending: dict[str, int] = dict.fromkeys(self.catalogue.ticket_classes, 0)
        self.orders: dict[str, Order] = {}
        self.orders_by_ref: dict[str, str] = {}
        self.quotes: dict[str, Quote] = {}
        self.locks: dict[str, asyncio.Lock] = {
            t: asyncio.Lock() for t in self.catalogue.ticket_classes
        }
        self.idempotency = Idempotency()
        self.faults = self.initial_faults.model_copy(deep=True)
        self.fault_rng = random.Random(
            self.faults.seed if self.faults.seed is not None else self.seed
        )
        self.stats = Stats()
        self.stolen: list[dict[str, Any]] = []

    def now(self) -> datetime:
        return self._base_clock().astimezone(UTC) + timedelta(seconds=self.clock_offset)

    def new_id(self, prefix: str) -> str:
        n = next(self._ids)
        salt = hashlib.sha256(f"{self.seed}:{prefix}:{n}".encode()).hexdigest()[:8]
        return f"{prefix}{n:06d}{salt}"

    # ---- inventory --------------------------------------------------------------------------

    def expire_holds(self) -> None:
        """Lazy expiry: called on every access, returns expired holds' tickets to the pool."""
        now = self.now()
        for hold in [h for h in self._active.values() if h.valid_until <= now]:
            self._end_hold(hold, "EXPIRED", hold.valid_until)

    def _end_hold(self, hold: Hold, status: str, when: datetime) -> None:
        hold.status, hold.ended_at = status, when
        self._active.pop(hold.id, None)
        self.pending[hold.ticket_class_id] -= hold.quantity

    def available(self, tc: TicketClass) -> int:
        return max(0, tc.capacity - tc.quantity_sold - self.pending[tc.id])

    def on_sale_status(self, tc: TicketClass) -> str:
        now = self.now()
        if now < tc.sales_start:
            return "NOT_YET_ON_SALE"
        if now >= tc.sales_end:
            return "SALES_ENDED"
        if self.available(tc) <= 0:
            return "SOLD_OUT"
        return "AVAILABLE"

    def event(self, event_id: str) -> Event | None:
        return self.catalogue.events.get(event_id)

    # ---- holds ------------------------------------------------------------------------------

    async def create_hold(
        self, event_id: str, ticket_class_id: str, quantity: int, partner_reference: str
    ) -> Hold:
        event = self.event(event_id)
        if event is None:
            raise PartnerError(404, "EVENT_NOT_FOUND", f"no event {event_id}", field="event_id")
        tc = self.catalogue.ticket_classes.get(ticket_class_id)
        if tc is None or tc.event_id != event_id:
            raise PartnerError(
                404,
                "TICKET_CLASS_NOT_FOUND",
                f"event {event_id} has no ticket class {ticket_class_id}",
                field="ticket_class_id",
            )
        if quantity > tc.maximum_quantity_per_order:
            raise PartnerError(
                422,
                "VALIDATION_ERROR",
                f"quantity must be at most {tc.maximum_quantity_per_order}",
                field="quantity",
            )
        async with self.locks[tc.id]:
            self.expire_holds()
            status = self.on_sale_status(tc)
            if status in ("NOT_YET_ON_SALE", "SALES_ENDED"):
                raise PartnerError(409, status, f"ticket class {tc.id} is {status.lower()}")
            left = self.available(tc)
            if left <= 0:
                raise PartnerError(
                    409, "SOLD_OUT", f"ticket class {tc.id} is sold out", extra={"available": 0}
                )
            if left < quantity:
                raise PartnerError(
                    409,
                    "INSUFFICIENT_INVENTORY",
                    f"only {left} tickets left in class {tc.id}",
                    extra={"available": left},
                )
            now = self.now()
            ttl = self.faults.hold_ttl_seconds or DEFAULT_HOLD_TTL_SECONDS
            hold = Hold(
                id=self.new_id("hold_"),
                event_id=event_id,
                ticket_class_id=tc.id,
                quantity=quantity,
                partner_reference=partner_reference,
                unit_minor=tc.cost_minor,
                fee_minor=tc.fee_minor,
                created=now,
                valid_until=now + timedelta(seconds=ttl),
            )
            self.holds[hold.id] = hold
            self._active[hold.id] = hold
            self.pending[tc.id] += quantity
            return hold

    def get_hold(self, hold_id: str) -> Hold:
        self.expire_holds()
        hold = self.holds.get(hold_id)
        if hold is None:
            raise PartnerError(404, "HOLD_NOT_FOUND", f"no hold {hold_id}")
        return hold

    async def release_hold(self, hold_id: str) -> Hold:
        hold = self.get_hold(hold_id)
        async with self.locks[hold.ticket_class_id]:
            self.expire_holds()
            if hold.status == "ORDERED":
                raise PartnerError(
                    409,
                    "HOLD_ALREADY_ORDERED",
                    f"hold {hold_id} became order {hold.order_id}; cancel the order",
                    extra={"order_id": hold.order_id},
                )
            if hold.status == "HELD":
                self._end_hold(hold, "RELEASED", self.now())
            return hold  # RELEASED, EXPIRED or LOST: nothing is held any more

    # ---- orders -----------------------------------------------------------------------------

    async def create_order(
        self, hold_id: str, partner_reference: str, name: str, email: str
    ) -> tuple[Order, bool]:
        """Return (order, created); an existing order with this reference is returned as is."""
        if (oid := self.orders_by_ref.get(partner_reference)) is not None:
            return self.orders[oid], False
        self.expire_holds()
        hold = self.holds.get(hold_id)
        if hold is None:
            raise PartnerError(409, "HOLD_NOT_FOUND", f"no hold {hold_id}")
        async with self.locks[hold.ticket_class_id]:
            if (oid := self.orders_by_ref.get(partner_reference)) is not None:
                return self.orders[oid], False
            self.expire_holds()
            if hold.status == "EXPIRED":
                raise PartnerError(
                    409, "HOLD_EXPIRED", f"hold {hold_id} expired at {iso(hold.valid_until)}"
                )
            if hold.status == "ORDERED":
                raise PartnerError(
                    409,
                    "HOLD_ALREADY_ORDERED",
                    f"hold {hold_id} already became order {hold.order_id}",
                    extra={"order_id": hold.order_id},
                )
            if hold.status == "LOST":
                raise PartnerError(409, "SOLD_OUT", "the tickets were sold to someone else")
            if hold.status != "HELD":
                raise PartnerError(
                    409, "HOLD_NOT_FOUND", f"hold {hold_id} was {hold.status.lower()}"
                )
            tc = self.catalogue.ticket_classes[hold.ticket_class_id]
            now = self.now()
            rate = self.faults.confirm_reject_rate
            if rate and self.fault_rng.random() < rate:
                self._end_hold(hold, "LOST", now)
                raise PartnerError(409, "SOLD_OUT", "the tickets were sold to someone else")
            if self.faults.steal_next_confirm:
                # Someone else buys the held tickets and the rest of the class between hold and order.
                self.faults.steal_next_confirm = False
                self._end_hold(hold, "LOST", now)
                taken = self.available(tc)
                tc.quantity_sold += taken
                self.stolen.append(
                    {
                        "ticket_class_id": tc.id,
                        "quantity": taken,
                        "hold_id": hold.id,
                        "at": iso(now),
                    }
                )
                raise PartnerError(409, "SOLD_OUT", "the tickets were sold to someone else")
            order_id = str(1_000_000_000 + next(self._ids))
            tickets = [
                {
                    "ticket_id": f"{order_id}-{k + 1}",
                    "barcode": hashlib.sha256(f"{order_id}:{k}".encode()).hexdigest()[:18].upper(),
                    "ticket_class_id": tc.id,
                    "ticket_class_name": tc.name,
                    "status": "VALID",
                }
                for k in range(hold.quantity)
            ]
            order = Order(
                id=order_id,
                partner_reference=partner_reference,
                hold_id=hold.id,
                event_id=hold.event_id,
                ticket_class_id=tc.id,
                quantity=hold.quantity,
                attendee_name=name,
                attendee_email=email,
                unit_minor=hold.unit_minor,
                fee_minor=hold.fee_minor,
                created=now,
                changed=now,
                tickets=tickets,
            )
            self._end_hold(hold, "ORDERED", now)
            hold.order_id = order_id
            tc.quantity_sold += hold.quantity
            self.orders[order_id] = order
            self.orders_by_ref[partner_reference] = order_id
            return order, True

    def get_order(self, order_id: str) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise PartnerError(404, "ORDER_NOT_FOUND", f"no order {order_id}")
        return order

    def order_by_reference(self, partner_reference: str) -> Order | None:
        oid = self.orders_by_ref.get(partner_reference)
        return self.orders[oid] if oid else None

    # ---- cancellation -----------------------------------------------------------------------

    def quote(self, order_id: str) -> Quote:
        order = self.get_order(order_id)
        if order.status == "CANCELLED":
            raise PartnerError(
                409,
                "ALREADY_CANCELLED",
                f"order {order_id} is already cancelled",
                extra={"refund_amount_minor": order.refund_minor},
            )
        event = self.catalogue.events[order.event_id]
        now = self.now()
        hours = (event.start_utc - now).total_seconds() / 3600
        percent = event.refund_policy.percent_at(hours) if hours > 0 else 0
        q = Quote(
            id=self.new_id("cq_"),
            order_id=order_id,
            refund_minor=order.total_minor * percent // 100,
            percent=percent,
            hours_before_start=hours,
            created=now,
            valid_until=now + timedelta(seconds=QUOTE_TTL_SECONDS),
        )
        self.quotes[q.id] = q
        return q

    async def cancel(self, order_id: str, quote_id: str | None) -> tuple[Order, bool]:
        """Return (order, newly_cancelled). A cancelled order is returned unchanged."""
        order = self.get_order(order_id)
        async with self.locks[order.ticket_class_id]:
            if order.status == "CANCELLED":
                return order, False
            if quote_id is not None:
                q = self.quotes.get(quote_id)
                if q is None or q.order_id != order_id:
                    raise PartnerError(
                        422,
                        "VALIDATION_ERROR",
                        f"no cancel quote {quote_id} for order {order_id}",
                        field="cancel_quote_id",
                    )
                if q.valid_until <= self.now():
                    raise PartnerError(409, "QUOTE_EXPIRED", f"cancel quote {quote_id} expired")
            else:
                q = self.quote(order_id)
            if not q.cancellable or not self.quote(order_id).cancellable:
                raise PartnerError(
                    409,
                    "NOT_CANCELLABLE",
                    f"order {order_id} cannot be cancelled: the event has started",
                )
            now = self.now()
            order.status, order.changed, order.cancelled_at = "CANCELLED", now, now
            order.refund_minor, order.refund_percent = q.refund_minor, q.percent
            for t in order.tickets:
                t["status"] = "VOID"
            self.catalogue.ticket_classes[order.ticket_class_id].quantity_sold -= order.quantity
            return order, True


def iso(dt: datetime, ms: bool = False) -> str:
    """UTC ISO 8601 with a Z, as Eventbrite writes it; `ms` keeps milliseconds (hold expiries)."""
    dt = dt.astimezone(UTC)
    if ms:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
