"""OpenTablePort: the provider kit's PartnerPort over the OpenTable partner client.

Hold = a slot lock, confirm = make reservation with the lock, release = give the lock back,
cancel = cancel the reservation (the partner keeps the fee its policy names). Prices are the
restaurant's deposit per cover times the party size; money never leaves as a float.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, time
from time import monotonic
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
from booking_shared.provider_kit import PartnerUnavailable as KitPartnerUnavailable
from booking_shared.sealed import GuestContact

from ..domain.rules import PolicyTerms, refund_and_fee, reject_reason
from .partner_client import (
    Guest,
    OpenTableClient,
    PartnerUnavailable,
    ReservationResult,
    Restaurant,
    Status,
)

log = logging.getLogger(__name__)

PROVIDER = "opentable"
SLOTS_PER_RESTAURANT = 3  # a search shows a spread of restaurants, not one restaurant's whole day
LUNCH_ENDS = time(17, 0)
CANCELLABLE_STATES = ("Pending", "Confirmed")  # the partner's states a cancel can still change

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PHONE_PATTERN = r"^\+?[0-9][0-9 ()\-]{5,19}$"
# What the partner's make-reservation call refuses (a 400 after the slot lock and the card
# hold): every guest needs a first and a last name, an email and a phone. Declared in the
# capabilities so that the gateway refuses such a booking before anything is held.
GUEST_REQUIREMENTS = GuestRequirements(
    fields=[
        GuestFieldRule(field="first_name", max_length=100),
        GuestFieldRule(field="last_name", max_length=100),
        GuestFieldRule(
            field="email", max_length=254, pattern=EMAIL_PATTERN, hint="an email address"
        ),
        GuestFieldRule(
            field="phone",
            pattern=PHONE_PATTERN,
            hint="6 to 20 digits, spaces, dashes or parentheses, starting with a digit or +",
        ),
    ]
)


@contextlib.asynccontextmanager
async def _partner_calls() -> AsyncIterator[None]:
    """The client's outage error becomes the kit's: the kit decides what an outage means."""
    try:
        yield
    except PartnerUnavailable as exc:
        raise KitPartnerUnavailable(str(exc)) from exc


def _terms(restaurant: Restaurant) -> PolicyTerms:
    p = restaurant.cancellation_policy
    return PolicyTerms(p.free_until_hours_before, p.late_fee_percent, p.description)


def _unit_price(restaurant: Restaurant) -> Money:
    return Money(
        amount_minor=restaurant.price_per_cover.amount, currency=restaurant.price_per_cover.currency
    )


def _guest(contact: GuestContact) -> Guest:
    # Trimmed, as GUEST_REQUIREMENTS measures them.
    return Guest(
        first_name=contact.first_name.strip(),
        last_name=contact.last_name.strip(),
        email=contact.email.strip(),
        phone=contact.phone.strip(),
    )


def item_id_for(restaurant_id: str, start: datetime) -> str:
    """A search item's id: the restaurant and the local slot, e.g. ot:rest_001:2026-12-05T20:00."""
    return f"ot:{restaurant_id}:{start.strftime('%Y-%m-%dT%H:%M')}"


class OpenTablePort:
    """One per process; owns the partner client (its connection pool and limits)."""

    name = PROVIDER
    booking_types = ["restaurant"]

    def __init__(
        self,
        client: OpenTableClient,
        *,
        timezone: str = "Europe/Lisbon",
        hold_ttl_seconds: int = 180,
        catalogue_ttl_s: float = 300.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
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
        self._clock = clock
        self._catalogue_ttl_s = catalogue_ttl_s
        self._restaurants: dict[str, tuple[float, Restaurant]] = {}

    # -- catalogue (price and policy per restaurant, cached) --------------------------------

    async def _restaurant(self, restaurant_id: str) -> Restaurant | None:
        cached = self._restaurants.get(restaurant_id)
        if cached is not None and monotonic() - cached[0] < self._catalogue_ttl_s:
            return cached[1]
        restaurant = await self.client.get_restaurant(restaurant_id)
        if restaurant is not None:
            self._remember([restaurant])
        return restaurant

    def _remember(self, restaurants: Iterable[Restaurant]) -> None:
        now = monotonic()
        for r in restaurants:
            self._restaurants[r.id] = (now, r)

    @staticmethod
    def _problem(item: BookingItem) -> str | None:
        if not item.venue_id:  # an event item: tickets, not covers
            return "an OpenTable item needs a venue_id (the restaurant id)"
        return None

    # -- the booking flow ---------------------------------------------------------------------

    async def hold(self, item: BookingItem, *, key: str, reference: str) -> HoldOutcome:
        if problem := self._problem(item):
            return HoldOutcome(ok=False, reason_code="invalid_item", detail=problem)
        assert item.venue_id is not None
        async with _partner_calls():
            restaurant = await self._restaurant(item.venue_id)
            if restaurant is None:
                return HoldOutcome(
                    ok=False,
                    reason_code="not_found",
                    detail=f"no restaurant {item.venue_id}",
                    partner_status="restaurant_not_found",
                )
            lock = await self.client.lock_slot(
                item.venue_id, item.start_time, item.units, idempotency_key=key
            )
        if not lock.ok:
            return HoldOutcome(
                ok=False,
                reason_code=reject_reason(lock.reason),
                detail=lock.detail or "",
                partner_status=lock.partner_status,
            )
        unit = _unit_price(restaurant)
        return HoldOutcome(
            ok=True,
            price=Money(amount_minor=unit.amount_minor * item.units, currency=unit.currency),
            hold_id=lock.lock_id,
            expires_at=lock.expires_at,
            partner_status=lock.partner_status,
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
        if problem := self._problem(item):
            return ConfirmOutcome(ok=False, reason_code="invalid_item", detail=problem)
        if not hold_id:
            return ConfirmOutcome(
                ok=False, reason_code="hold_expired", detail="no slot lock to book with"
            )
        assert item.venue_id is not None
        async with _partner_calls():
            booked = await self.client.make_reservation(
                item.venue_id, hold_id, reference, _guest(guest), idempotency_key=key
            )
            if booked.ok:
                if booked.recovered:
                    log.warning(
                        "reservation found by reference after an unanswered write",
                        extra={
                            "partner_reference": reference,
                            "reservation_id": booked.reservation_id,
                        },
                    )
                return ConfirmOutcome(
                    ok=True,
                    confirmation_code=booked.confirmation_number,
                    partner_reference=booked.reservation_id,
                    price=await self._deposit(item, booked),
                    policy=await self._policy(item, booked),
                    partner_status=booked.partner_status,
                )
            reason = reject_reason(booked.reason)
            if reason == "invalid_item":
                # The lock is still ours and would sit on the table until it expires: give it back.
                await self._release_quietly(
                    item.venue_id, hold_id, key=f"{key}:release-after-refusal"
                )
        return ConfirmOutcome(
            ok=False,
            reason_code=reason,
            detail=booked.detail or "",
            partner_status=booked.partner_status,
        )

    async def release(self, item: BookingItem, hold_id: str, *, key: str) -> None:
        if not item.venue_id:
            return
        async with _partner_calls():
            released = await self.client.release_lock(item.venue_id, hold_id, idempotency_key=key)
            if released.status is Status.CANCELLED:
                return
            if released.reservation_id:
                # The lock became a reservation whose answer we never recorded (a confirm that
                # committed unseen): cancelling it is the only way to leave nothing active.
                log.warning(
                    "released lock had become a reservation; cancelling it",
                    extra={"lock_id": hold_id, "reservation_id": released.reservation_id},
                )
                await self.client.cancel_reservation(
                    released.reservation_id, idempotency_key=f"{key}:cancel"
                )
                return
        log.warning(
            "slot lock not released",
            extra={"lock_id": hold_id, "partner_status": released.partner_status},
        )

    async def _release_quietly(self, restaurant_id: str, lock_id: str, *, key: str) -> None:
        try:
            await self.client.release_lock(restaurant_id, lock_id, idempotency_key=key)
        except PartnerUnavailable as exc:  # the lock expires on its own anyway
            log.warning(
                "could not release a refused lock", extra={"lock_id": lock_id, "error": str(exc)}
            )

    async def cancel(self, item: BookingItem, partner_reference: str, *, key: str) -> CancelOutcome:
        async with _partner_calls():
            result = await self.client.cancel_reservation(partner_reference, idempotency_key=key)
            deposit = await self._deposit(item, result)
        if result.status is Status.CANCELLED:
            # A restaurant's own cancellation charges nothing; a cancellation by us carries its fee.
            fee = result.cancellation_fee.amount if result.cancellation_fee else 0
            return self._split(deposit, fee, result.partner_status)
        if result.reason == "reservation_not_found":
            log.warning(
                "cancelled a reservation the partner does not know",
                extra={"reservation_id": partner_reference},
            )
            return self._split(deposit, 0, "reservation_not_found")
        if result.reason == "not_cancellable":
            # Seated, Done, NoShow: a definite no. The reservation stands, nothing comes back,
            # and the saga hears it as ItemRejected(not_cancellable), not as a cancellation.
            log.warning(
                "reservation not cancellable",
                extra={
                    "reservation_id": partner_reference,
                    "partner_status": result.partner_status,
                },
            )
            return CancelOutcome.refused(
                deposit,
                result.partner_status,
                result.detail or f"the reservation is {result.partner_status}",
            )
        # Anything else (401, 403, an unknown code) says nothing about the booking: never record
        # a cancellation that did not happen. Retried, then dead-lettered for an operator.
        raise KitPartnerUnavailable(
            f"cancel of {partner_reference} refused: {result.partner_status} {result.detail or ''}".strip()
        )

    async def cancel_quote(self, item: BookingItem, partner_reference: str) -> CancelOutcome:
        """The partner has no quote call: apply the reservation's own policy to our clock."""
        async with _partner_calls():
            found = await self.client.get_reservation(partner_reference)
            deposit = await self._deposit(item, found)
            if found is None:
                return self._split(deposit, 0, "reservation_not_found")
            if found.status is Status.CANCELLED:
                fee = found.cancellation_fee.amount if found.cancellation_fee else 0
                return self._split(deposit, fee, found.partner_status)
            if found.partner_status not in CANCELLABLE_STATES:  # Seated, Done, NoShow: nothing back
                return CancelOutcome.refused(
                    deposit, found.partner_status, f"the reservation is {found.partner_status}"
                )
            terms = await self._terms(item, found)
        start = found.date_time or item.start_time
        fee = terms.fee(deposit.amount_minor, start, self._clock()) if terms else 0
        return self._split(deposit, fee, found.partner_status)

    @staticmethod
    def _split(deposit: Money, fee_minor: int, partner_status: str | None) -> CancelOutcome:
        refund, fee = refund_and_fee(deposit.amount_minor, fee_minor)
        return CancelOutcome(
            refund=Money(amount_minor=refund, currency=deposit.currency),
            fee=Money(amount_minor=fee, currency=deposit.currency),
            partner_status=partner_status,
        )

    async def _deposit(self, item: BookingItem, result: ReservationResult | None) -> Money:
        if result is not None and result.deposit is not None:
            return Money(amount_minor=result.deposit.amount, currency=result.deposit.currency)
        restaurant = await self._restaurant(item.venue_id) if item.venue_id else None
        unit = _unit_price(restaurant) if restaurant else item.cost
        return Money(amount_minor=unit.amount_minor * item.units, currency=unit.currency)

    async def _terms(self, item: BookingItem, result: ReservationResult) -> PolicyTerms | None:
        raw = result.raw.get("cancellation_policy") if result.raw else None
        if isinstance(raw, dict):
            return PolicyTerms.from_partner(raw)
        restaurant = await self._restaurant(item.venue_id) if item.venue_id else None
        return _terms(restaurant) if restaurant else None

    async def _policy(
        self, item: BookingItem, result: ReservationResult
    ) -> CancellationPolicy | None:
        terms = await self._terms(item, result)
        if terms is None:
            return None
        return terms.policy(result.date_time or item.start_time, self._clock())

    # -- search and quote ----------------------------------------------------------------------

    async def search(self, query: SearchQuery) -> list[Offer]:
        tz = ZoneInfo(self.timezone)
        day = query.on or datetime.now(tz).date()
        async with _partner_calls():
            restaurants = await self.client.search(q=query.q, limit=100)
            self._remember(restaurants)
            seatable = [r for r in restaurants if r.max_party_size >= query.party_size][
                : query.limit
            ]
            availabilities = await asyncio.gather(
                *(
                    self.client.availability(r.id, day, query.party_size, time=query.time)
                    for r in seatable
                )
            )
        now = self._clock()
        wanted = _minutes(query.time) if query.time else None
        per_restaurant: list[list[Offer]] = []
        for restaurant, availability in zip(seatable, availabilities, strict=True):
            slots = availability.available_slots()
            if wanted is not None:
                slots.sort(
                    key=lambda s: (
                        abs(_minutes(s.date_time.strftime("%H:%M")) - wanted),
                        s.date_time,
                    )
                )
            offers = [
                self._offer(
                    restaurant, s.date_time, query.party_size, now, tables_left=s.tables_left
                )
                for s in slots[:SLOTS_PER_RESTAURANT]
            ]
            if offers:
                per_restaurant.append(offers)
        # Round robin: every restaurant's best slot first, then their second best...
        spread = [
            offers[rank]
            for rank in range(SLOTS_PER_RESTAURANT)
            for offers in per_restaurant
            if rank < len(offers)
        ]
        return spread[: query.limit]

    def _offer(
        self,
        restaurant: Restaurant,
        start: datetime,
        party_size: int,
        now: datetime,
        *,
        tables_left: int | None = None,
    ) -> Offer:
        unit = _unit_price(restaurant)
        local = start.astimezone(ZoneInfo(restaurant.time_zone))
        item = BookingItem(
            id=item_id_for(restaurant.id, local),
            title=f"{'Lunch' if local.time() < LUNCH_ENDS else 'Dinner'} at {restaurant.name}",
            category="lunch" if local.time() < LUNCH_ENDS else "dinner",
            start_time=local,
            cost=unit,
            venue_id=restaurant.id,
            party_size=party_size,
        )
        terms = _terms(restaurant)
        return Offer(
            item=item,
            price=item.line_total(),
            timezone=restaurant.time_zone,
            cancellation_policy=terms.policy(local, now),
            available=True,
            details={
                "restaurant_name": restaurant.name,
                "cuisine": restaurant.cuisine,
                "neighbourhood": restaurant.neighbourhood,
                "address": restaurant.address,
                "price_band": restaurant.price_band,
                "deposit_per_cover": unit.model_dump(),
                "tables_left": tables_left,
                "free_until_hours_before": terms.free_until_hours_before,
                "late_fee_percent": terms.late_fee_percent,
            },
        )

    async def quote(self, item: BookingItem) -> QuoteLine:
        if problem := self._problem(item):
            return QuoteLine(item_id=item.id, available=False, reason=f"invalid_item: {problem}")
        assert item.venue_id is not None
        async with _partner_calls():
            restaurant = await self._restaurant(item.venue_id)
            if restaurant is None:
                return QuoteLine(item_id=item.id, available=False, reason="not_found")
            local = item.start_time.astimezone(ZoneInfo(restaurant.time_zone))
            availability = await self.client.availability(
                restaurant.id, local.date(), item.units, time=local.strftime("%H:%M")
            )
        unit = _unit_price(restaurant)
        price = Money(amount_minor=unit.amount_minor * item.units, currency=unit.currency)
        policy = _terms(restaurant).policy(local, self._clock())
        slot = next((s for s in availability.slots if s.date_time == local), None)
        if item.units > restaurant.max_party_size:
            reason: str | None = "invalid_item: no table seats a party that size"
        elif slot is None:
            reason = "invalid_item: not a bookable slot (quarter hours within opening hours)"
        elif not slot.available:
            reason = "slot_unavailable"
        else:
            reason = None
        return QuoteLine(
            item_id=item.id,
            available=reason is None,
            unit_price=unit,
            price=price,
            cancellation_policy=policy,
            reason=reason,
        )

    async def close(self) -> None:
        await self.client.aclose()


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


__all__ = ["GUEST_REQUIREMENTS", "OpenTablePort", "item_id_for"]
