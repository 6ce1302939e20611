"""The provider kit's PartnerPort over the Eventbrite client: holds, orders, cancels, search, quotes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from booking_shared.contracts import (
    BookingItem,
    CancellationPolicy,
    Capabilities,
    GuestFieldRule,
    GuestRequirements,
)
from booking_shared.money import Money
from booking_shared.provider_kit import (
    CancelOutcome,
    ConfirmOutcome,
    HoldOutcome,
    Offer,
    QuoteLine,
    SearchQuery,
)
from booking_shared.sealed import GuestContact
from provider_eventbrite.domain import rules

from .partner_client import (
    Attendee,
    CancelQuote,
    Event,
    EventbriteClient,
    PartnerError,
    Reason,
    Status,
    TicketClass,
)
from .partner_models import contract_reason

log = logging.getLogger(__name__)

DEFAULT_HOLD_TTL_SECONDS = 900  # the partner's hold lifetime (the sandbox's default)
MAX_CACHED_EVENTS = 2000
ATTENDEE_NAME_MAX = 200
# The partner's order takes one attendee name (1-200 characters) and an email; no phone.
# A longer name (a 100-character first and last name) is shortened here rather than refused:
# the ticket still finds its holder, and the declaration says so.
GUEST_REQUIREMENTS = GuestRequirements(
    fields=[
        GuestFieldRule(field="full_name", max_length=ATTENDEE_NAME_MAX, too_long="truncated"),
        GuestFieldRule(
            field="email",
            max_length=254,
            pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
            hint="an email address",
        ),
    ]
)


def attendee_name(guest: GuestContact) -> str:
    """First and last name as one, at most ATTENDEE_NAME_MAX characters."""
    name = " ".join(p for p in (guest.first_name.strip(), guest.last_name.strip()) if p)
    return name[:ATTENDEE_NAME_MAX].rstrip()


class CancelFailed(PartnerError):
    """The partner refused to cancel an order we hold as confirmed: needs an operator."""


class EventbritePort:
    """Implements booking_shared.provider_kit.PartnerPort for Eventbrite (events, ticket classes).

    Prices are what the buyer pays at the partner: per ticket the face value plus Eventbrite's
    service fee (`cost + fee` of the ticket class, its `actual_cost`), so an item's line total,
    the hold's price and the order's total are the same amount, and a refund is a share of it."""

    name = "eventbrite"
    booking_types = ["event"]

    def __init__(
        self,
        client: EventbriteClient,
        *,
        timezone: str = "Europe/Lisbon",
        hold_ttl_seconds: int = DEFAULT_HOLD_TTL_SECONDS,
        event_ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.timezone = timezone
        self.capabilities = Capabilities(
            hold=True,
            api_book=True,
            cancel=True,
            refund_policy="per_item_policy",
            hold_ttl_seconds=hold_ttl_seconds,
            guest_requirements=GUEST_REQUIREMENTS,
        )
        self._event_ttl = event_ttl_seconds
        self._clock = clock
        self._events: dict[str, tuple[float, Event]] = {}

    async def close(self) -> None:
        await self.client.aclose()

    # ---- events (cached: name, start, refund policy change rarely) ----------------------------

    async def _event(self, event_id: str, *, fresh: bool = False) -> Event | None:
        hit = self._events.get(event_id)
        if hit is not None and not fresh and self._clock() - hit[0] < self._event_ttl:
            return hit[1]
        event = await self.client.get_event(event_id, expand=("venue", "ticket_classes"))
        if event is not None:
            self._remember(event)
        return event

    def _remember(self, event: Event) -> None:
        self._events.pop(event.id, None)
        self._events[event.id] = (self._clock(), event)
        while len(self._events) > MAX_CACHED_EVENTS:  # oldest first (dicts keep insertion order)
            self._events.pop(next(iter(self._events)))

    def _policy(self, event: Event | None) -> CancellationPolicy:
        if event is None:
            return rules.cancellation_policy(None, datetime.now(UTC))
        return rules.cancellation_policy(event.refund_policy, event.start)

    # ---- commands ------------------------------------------------------------------------------

    async def hold(self, item: BookingItem, *, key: str, reference: str) -> HoldOutcome:
        if not item.event_id or not item.ticket_class_id:
            return HoldOutcome(ok=False, reason_code="invalid_item", detail="not an event item")
        held = await self.client.hold(
            item.event_id,
            item.ticket_class_id,
            item.units,
            rules.partner_reference(reference),
            idempotency_key=key,
        )
        if held.status is not Status.HELD:
            return HoldOutcome(
                ok=False,
                reason_code=contract_reason(held.reason),
                detail=held.message or f"the partner answered {held.partner_status}",
                partner_status=held.partner_status,
            )
        price = held.price.total if held.price and held.price.total else None
        return HoldOutcome(
            ok=True,
            price=price,
            hold_id=held.hold_id,
            expires_at=held.valid_until,
            partner_status=held.partner_status,
        )

    async def confirm(
        self,
        item: BookingItem,
        hold_id: str | None,
        guest: GuestContact,
        *,
        key: str,
        reference: str,
    ) -> ConfirmOutcome:
        if not hold_id or not item.event_id:
            return ConfirmOutcome(ok=False, reason_code="hold_expired", detail="no hold to confirm")
        # Read the event (for its refund policy) before writing, so that a read outage fails the
        # command before any effect rather than after the order exists.
        event = await self._event(item.event_id)
        order = await self.client.create_order(
            hold_id,
            rules.partner_reference(reference),
            Attendee(name=attendee_name(guest), email=guest.email.strip()),
            idempotency_key=key,
        )
        if order.recovered:
            log.warning(
                "eventbrite order %s found by reference after a lost answer",
                order.order_id,
                extra={"partner_reference": reference},
            )
        if order.status is Status.CONFIRMED and order.order_id:
            return ConfirmOutcome(
                ok=True,
                confirmation_code=order.order_id,
                partner_reference=order.order_id,
                price=order.price.total if order.price else None,
                policy=self._policy(event),
                partner_status=order.partner_status,
            )
        return ConfirmOutcome(
            ok=False,
            reason_code=contract_reason(order.reason) if order.reason else "slot_unavailable",
            detail=order.message or f"the partner answered {order.partner_status}",
            partner_status=order.partner_status,
        )

    async def release(self, item: BookingItem, hold_id: str, *, key: str) -> None:
        released = await self.client.release_hold(hold_id, idempotency_key=key)
        if released.status is Status.CANCELLED:
            return
        if released.reason == Reason.HOLD_ALREADY_ORDERED:
            # The hold became an order whose answer we never recorded (a crash between the partner's
            # commit and ours). Nothing may stay booked for a cancelled item: cancel that order.
            order_id = released.raw.get("order_id")
            log.warning("released hold %s had become order %s; cancelling it", hold_id, order_id)
            if order_id:
                out = await self._cancel_order(str(order_id), key=key)
                if not out.cancelled:  # an order nobody asked for that stands: an operator's job
                    raise CancelFailed(
                        f"eventbrite order {order_id} (from hold {hold_id}): {out.detail}"
                    )
                return
        raise PartnerError(
            f"eventbrite release of hold {hold_id}: {released.partner_status} {released.message}"
        )

    async def cancel(self, item: BookingItem, partner_reference: str, *, key: str) -> CancelOutcome:
        return await self._cancel_order(partner_reference, key=key)

    async def _cancel_order(self, order_id: str, *, key: str) -> CancelOutcome:
        quote = await self.client.cancel_quote(order_id)
        for _ in range(2):
            if self._refuses(quote.cancellable, quote.reason, quote.partner_status):
                return await self._refused(
                    order_id, quote.order_total, quote.partner_status, quote.message
                )
            if not quote.cancellable:
                return await self._already_cancelled(order_id, quote)
            # One request id per quote: a retry of this call repeats the same body, and a redelivered
            # command quotes again first, which says ALREADY_CANCELLED if an earlier try committed.
            done = await self.client.cancel_order(
                order_id, idempotency_key=f"{key}:{quote.quote_id}", cancel_quote_id=quote.quote_id
            )
            if done.ok:
                total = quote.order_total or done.refund
                assert total is not None
                refund, fee = rules.fee_kept(total, done.refund)
                return CancelOutcome(refund=refund, fee=fee, partner_status=done.partner_status)
            if done.reason == Reason.NOT_CANCELLABLE:  # it became so between quote and cancel
                return await self._refused(
                    order_id, quote.order_total, done.partner_status, done.message
                )
            if done.reason != Reason.QUOTE_EXPIRED:
                raise CancelFailed(
                    f"eventbrite cancel of order {order_id}: {done.partner_status} {done.message}"
                )
            quote = await self.client.cancel_quote(order_id)
        raise CancelFailed(f"eventbrite cancel of order {order_id}: cancel quotes keep expiring")

    @staticmethod
    def _refuses(cancellable: bool, reason: str | None, partner_status: str) -> bool:
        """The partner's definite no (the event has started, the order is closed): a quote that
        says NOT_CANCELLABLE. Anything else that is not a quote says nothing about the order."""
        return reason == Reason.NOT_CANCELLABLE or (
            not cancellable and reason is None and partner_status.upper() == "NOT_CANCELLABLE"
        )

    async def _refused(
        self, order_id: str, total: Money | None, partner_status: str, message: str | None
    ) -> CancelOutcome:
        if total is None:
            order = await self.client.get_order(order_id)
            total = order.price.total if order and order.price else None
        log.warning("eventbrite order %s not cancellable: %s", order_id, partner_status)
        return CancelOutcome.refused(
            total or Money.zero("XXX"),
            partner_status,
            message or f"the partner will not cancel order {order_id} ({partner_status})",
        )

    async def _already_cancelled(self, order_id: str, quote: CancelQuote) -> CancelOutcome:
        if quote.reason != Reason.ALREADY_CANCELLED:
            raise CancelFailed(
                f"eventbrite order {order_id} cannot be cancelled: {quote.partner_status} {quote.message}"
            )
        order = await self.client.get_order(order_id)
        if order is None or order.price is None or order.price.total is None:
            raise CancelFailed(f"eventbrite order {order_id} is cancelled but cannot be read")
        refund, fee = rules.fee_kept(order.price.total, order.refund)
        return CancelOutcome(refund=refund, fee=fee, partner_status=order.partner_status)

    async def cancel_quote(self, item: BookingItem, partner_reference: str) -> CancelOutcome:
        quote = await self.client.cancel_quote(partner_reference)
        if self._refuses(quote.cancellable, quote.reason, quote.partner_status):
            return await self._refused(
                partner_reference, quote.order_total, quote.partner_status, quote.message
            )
        if not quote.cancellable:
            return await self._already_cancelled(partner_reference, quote)
        total = quote.order_total or quote.refund
        assert total is not None
        refund, fee = rules.fee_kept(total, quote.refund)
        return CancelOutcome(refund=refund, fee=fee, partner_status=quote.partner_status)

    # ---- search and quotes ---------------------------------------------------------------------

    async def search(self, query: SearchQuery) -> list[Offer]:
        tz = ZoneInfo(self.timezone)
        start_after = start_before = None
        if query.on is not None:
            # A day in the city's time; with a time, events starting from then on that day.
            start_after = datetime.combine(query.on, _hhmm(query.time) or dtime(0, 0), tzinfo=tz)
            start_before = datetime.combine(query.on + timedelta(days=1), dtime(0, 0), tzinfo=tz)
        events = await self.client.search_events(
            query.q or None,
            start_after=start_after,
            start_before=start_before,
            expand=("venue", "ticket_classes"),
            page_size=min(50, max(10, query.limit)),
            max_pages=max(1, -(-query.limit // 10)),
        )
        offers: list[Offer] = []
        for event in events:
            self._remember(event)
            if (
                query.on is None
                and query.time
                and event.start.astimezone(tz).strftime("%H:%M") < query.time
            ):
                continue
            for tc in event.ticket_classes or ():
                offer = self._offer(event, tc, query.quantity)
                if offer is not None:
                    offers.append(offer)
                if len(offers) >= query.limit:
                    return offers
        return offers

    def _offer(self, event: Event, tc: TicketClass, quantity: int) -> Offer | None:
        unit = rules.unit_price(tc.cost, tc.fee)
        if unit is None:
            return None  # a donation or a class without a price: not bookable here
        tz = ZoneInfo(event.timezone or self.timezone)
        item = BookingItem(
            id=rules.item_id(event.id, tc.id),
            title=f"{event.name} — {tc.name}" if tc.name else event.name,
            category=rules.category(event.category_id),
            start_time=event.start.astimezone(tz),
            cost=unit,
            event_id=event.id,
            ticket_class_id=tc.id,
            quantity=quantity,
        )
        left = tc.available
        venue = event.venue
        return Offer(
            item=item,
            price=rules.times(unit, quantity),
            timezone=event.timezone or self.timezone,
            cancellation_policy=self._policy(event),
            available=tc.on_sale and (left is None or left >= quantity),
            details={
                "event_name": event.name,
                "ticket_class": tc.name,
                "on_sale_status": tc.on_sale_status,
                "tickets_left": left,
                "face_value": tc.cost.model_dump() if tc.cost else None,
                "fee": tc.fee.model_dump() if tc.fee else None,
                "end_time": event.end.astimezone(tz).isoformat() if event.end else None,
                "url": event.url,
                "refund_policy": (event.refund_policy or {}).get("policy_type"),
                "venue": None
                if venue is None
                else {
                    "id": venue.id,
                    "name": venue.name,
                    "address": venue.address,
                    "latitude": venue.latitude,
                    "longitude": venue.longitude,
                },
            },
        )

    async def quote(self, item: BookingItem) -> QuoteLine:
        if not item.event_id or not item.ticket_class_id:
            return QuoteLine(item_id=item.id, available=False, reason="invalid_item")
        event = await self._event(item.event_id, fresh=True)  # availability must be current
        if event is None:
            return QuoteLine(item_id=item.id, available=False, reason="not_found")
        tc = next((t for t in event.ticket_classes or () if t.id == item.ticket_class_id), None)
        if tc is None:
            return QuoteLine(item_id=item.id, available=False, reason="not_found")
        unit = rules.unit_price(tc.cost, tc.fee)
        if unit is None:
            return QuoteLine(item_id=item.id, available=False, reason="not_found")
        quantity = item.units
        left = tc.available
        reason = None
        if tc.on_sale_status == "SOLD_OUT" or left == 0:
            reason = "sold_out"
        elif not tc.on_sale:
            reason = "slot_unavailable"
        elif left is not None and left < quantity:
            reason = "insufficient_inventory"
        elif tc.maximum_quantity_per_order and quantity > tc.maximum_quantity_per_order:
            reason = "invalid_item"
        return QuoteLine(
            item_id=item.id,
            available=reason is None,
            unit_price=unit,
            price=rules.times(unit, quantity),
            cancellation_policy=self._policy(event),
            reason=reason,
        )


def _hhmm(raw: str | None) -> dtime | None:
    if not raw:
        return None
    hours, minutes = raw.split(":")
    return dtime(int(hours), int(minutes))


__all__ = ["CancelFailed", "EventbritePort"]
