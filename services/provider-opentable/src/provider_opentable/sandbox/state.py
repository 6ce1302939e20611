"""The sandbox's state: its in-memory booking rules (slot locks, reservations, cancellations,
inventory), what the edge middleware remembers, and the Sandbox that holds them all."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from .catalogue import Restaurant, build_catalogue
from .faults import FaultDice, Faults

REQUEST_LOG_LIMIT = 2000
MAX_PARTY_SIZE = 20
Clock = Callable[[], datetime]

DEFAULT_LOCK_TTL_SECONDS = 180.0

# Reservation states as OpenTable names them.
PENDING = "Pending"
CONFIRMED = "Confirmed"
SEATED = "Seated"
DONE = "Done"
NO_SHOW = "NoShow"
CANCELLED_WEB = "CancelledWeb"
CANCELLED_RESTAURANT = "CancelledRestaurant"
RESERVATION_STATES = (
    PENDING,
    CONFIRMED,
    SEATED,
    DONE,
    NO_SHOW,
    CANCELLED_WEB,
    CANCELLED_RESTAURANT,
)
CANCELLED_STATES = (CANCELLED_WEB, CANCELLED_RESTAURANT)
CANCELLABLE_STATES = (PENDING, CONFIRMED)

# Slot-lock states.
LOCK_ACTIVE = "Active"
LOCK_RELEASED = "Released"
LOCK_EXPIRED = "Expired"
LOCK_CONSUMED = "Consumed"  # turned into a reservation
LOCK_LOST = "Lost"  # its table went to someone else (the steal fault)


class SandboxError(Exception):
    """A business or input error, answered as {"error": {...}} with this status."""

    def __init__(
        self, status: int, code: str, message: str, field: str | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.extra = extra

    def body(self) -> dict:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        error.update(self.extra)
        return {"error": error}


def iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class SlotLock:
    id: str
    restaurant_id: str
    slot: datetime  # local, aware
    party_size: int
    table_size: int
    reservation_token: str
    created_at: datetime
    expires_at: datetime
    state: str = LOCK_ACTIVE
    reservation_id: str | None = None

    def as_json(self) -> dict:
        return {
            "lock_id": self.id,
            "restaurant_id": self.restaurant_id,
            "date_time": self.slot.isoformat(),
            "party_size": self.party_size,
            "table_size": self.table_size,
            "state": self.state,
            "reservation_token": self.reservation_token,
            "created_at": iso_utc(self.created_at),
            "expires_at": iso_utc(self.expires_at),
            "reservation_id": self.reservation_id,
        }


@dataclass(slots=True)
class Reservation:
    id: str
    confirmation_number: str
    restaurant: Restaurant
    slot: datetime
    party_size: int
    table_size: int
    state: str
    partner_reference: str | None
    guest: dict | None
    special_requests: str | None
    lock_id: str | None
    created_at: datetime
    updated_at: datetime
    source: str = "partner"  # or "other_channel": a booking someone else made
    cancelled_at: datetime | None = None
    cancellation_fee: int | None = None
    history: list[dict] = field(default_factory=list)

    @property
    def deposit(self) -> int:
        return self.restaurant.price_per_cover * self.party_size

    def as_json(self) -> dict:
        r = self.restaurant
        return {
            "reservation_id": self.id,
            "confirmation_number": self.confirmation_number,
            "restaurant_id": r.id,
            "restaurant_name": r.name,
            "date_time": self.slot.isoformat(),
            "party_size": self.party_size,
            "table_size": self.table_size,
            "state": self.state,
            "partner_reference": self.partner_reference,
            "source": self.source,
            "guest": self.guest,
            "special_requests": self.special_requests,
            "lock_id": self.lock_id,
            "deposit": {"amount": self.deposit, "currency": r.currency},
            "cancellation_policy": r.policy.as_json(),
            "cancellation_fee": (
                None
                if self.cancellation_fee is None
                else {"amount": self.cancellation_fee, "currency": r.currency}
            ),
            "created_at": iso_utc(self.created_at),
            "updated_at": iso_utc(self.updated_at),
            "cancelled_at": None if self.cancelled_at is None else iso_utc(self.cancelled_at),
        }


SlotKey = tuple[str, datetime, int]  # restaurant id, slot instant (UTC), table size


class Store:
    def __init__(
        self,
        catalogue: dict[str, Restaurant],
        dice: FaultDice,
        seed: int,
        clock: Callable[[], datetime],
    ) -> None:
        self.catalogue = catalogue
        self.dice = dice
        self._clock = clock
        self.clock_offset = timedelta(0)
        self._ids = random.Random(seed)
        self.locks: dict[str, SlotLock] = {}
        self.reservations: dict[str, Reservation] = {}
        self._holders: dict[SlotKey, list[SlotLock | Reservation]] = defaultdict(list)
        self._slot_guards: dict[tuple[str, datetime], asyncio.Lock] = {}

    # -- clock and ids --------------------------------------------------------------------

    def now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)  # a naive clock is read as UTC, never as server-local
        return now.astimezone(UTC) + self.clock_offset

    def _hex(self, n: int) -> str:
        return f"{self._ids.getrandbits(4 * n):0{n}x}"

    # -- lookups ---------------------------------------------------------------------------

    def restaurant(self, rid: str) -> Restaurant:
        try:
            return self.catalogue[rid]
        except KeyError:
            raise SandboxError(404, "restaurant_not_found", f"No restaurant {rid!r}.") from None

    def search(self, city: str | None, cuisine: str | None, q: str | None) -> list[Restaurant]:
        found = []
        for r in self.catalogue.values():
            if city and city.strip().casefold() != r.city.casefold():
                continue
            if cuisine and cuisine.strip().casefold() != r.cuisine.casefold():
                continue
            if q:
                text = f"{r.name} {r.cuisine} {r.neighbourhood} {r.address}".casefold()
                if not all(word in text for word in q.casefold().split()):
                    continue
            found.append(r)
        return found

    def to_local(self, r: Restaurant, value: datetime) -> datetime:
        """An aware datetime in the restaurant's zone; a naive one is read as local time."""
        if value.tzinfo is None:
            return value.replace(tzinfo=r.tz)
        return value.astimezone(r.tz)

    # -- inventory -------------------------------------------------------------------------

    def holds_table(self, holder: SlotLock | Reservation, now: datetime) -> bool:
        if isinstance(holder, SlotLock):
            if holder.state == LOCK_ACTIVE and holder.expires_at <= now:
                holder.state = LOCK_EXPIRED  # an expired lock gives its table back
            return holder.state == LOCK_ACTIVE
        return holder.state not in CANCELLED_STATES

    def tables_left(self, r: Restaurant, slot: datetime, size: int) -> int:
        now = self.now()
        key = (r.id, slot.astimezone(UTC), size)
        holders = self._holders.get(key, [])
        used = sum(1 for h in holders if self.holds_table(h, now))
        return max(0, r.tables.get(size, 0) - used)

    def availability(
        self,
        r: Restaurant,
        day: date,
        party_size: int,
        around: time | None,
        backward_minutes: int,
        forward_minutes: int,
    ) -> list[dict]:
        sizes = r.fitting_sizes(party_size)
        now = self.now()
        slots = []
        centre = None if around is None else datetime.combine(day, around, tzinfo=r.tz)
        for t in r.slot_times():
            slot = datetime.combine(day, t, tzinfo=r.tz)
            if centre is not None and not (
                centre - timedelta(minutes=backward_minutes)
                <= slot
                <= centre + timedelta(minutes=forward_minutes)
            ):
                continue
            left = 0 if slot <= now else sum(self.tables_left(r, slot, s) for s in sizes)
            slots.append(
                {"date_time": slot.isoformat(), "available": left > 0, "tables_left": left}
            )
        return slots

    def _guard(self, r: Restaurant, slot: datetime) -> asyncio.Lock:
        key = (r.id, slot.astimezone(UTC))
        guard = self._slot_guards.get(key)
        if guard is None:
            guard = self._slot_guards[key] = asyncio.Lock()
        return guard

    def set_tables(self, r: Restaurant, tables: dict[int, int]) -> None:
        r.tables = {size: count for size, count in tables.items() if count > 0}

    # -- slot locks ------------------------------------------------------------------------

    def _check_slot(self, r: Restaurant, when: datetime, party_size: int) -> datetime:
        slot = self.to_local(r, when)
        if not r.is_slot(slot):
            hours = ", ".join(f"{o:%H:%M}-{c:%H:%M}" for o, c in r.services)
            raise SandboxError(
                422,
                "invalid_slot",
                f"date_time must be a quarter hour within opening hours ({hours}, {r.time_zone}).",
                field="date_time",
            )
        if not r.fitting_sizes(party_size):
            raise SandboxError(
                409,
                "party_size_not_seatable",
                f"No table seats a party of {party_size} (largest table: {r.max_party_size()}).",
            )
        if slot <= self.now():
            raise SandboxError(409, "slot_in_past", "That slot has already started.")
        return slot

    async def lock_slot(self, rid: str, when: datetime, party_size: int) -> SlotLock:
        r = self.restaurant(rid)
        slot = self._check_slot(r, when, party_size)
        async with self._guard(r, slot):
            # Check and take happen with no await in between: two requests can never get
            # the same last table, and the guard keeps it so if an await is ever added.
            for size in r.fitting_sizes(party_size):
                if self.tables_left(r, slot, size) > 0:
                    break
            else:
                raise SandboxError(
                    409, "no_availability", "No table is left for that slot and party size."
                )
            now = self.now()
            ttl = self.dice.faults.lock_ttl_seconds or DEFAULT_LOCK_TTL_SECONDS
            lock = SlotLock(
                id=f"lk_{self._hex(16)}",
                restaurant_id=r.id,
                slot=slot,
                party_size=party_size,
                table_size=size,
                reservation_token=f"rt_{self._hex(24)}",
                created_at=now,
                expires_at=now + timedelta(seconds=ttl),
            )
            self.locks[lock.id] = lock
            self._holders[(r.id, slot.astimezone(UTC), size)].append(lock)
            return lock

    def _lock(self, rid: str, lock_id: str) -> SlotLock:
        self.restaurant(rid)
        lock = self.locks.get(lock_id)
        if lock is None or lock.restaurant_id != rid:
            raise SandboxError(410, "lock_not_found", f"No slot lock {lock_id!r} here.")
        self.holds_table(lock, self.now())  # refresh Active -> Expired
        return lock

    def release_lock(self, rid: str, lock_id: str) -> SlotLock:
        lock = self._lock(rid, lock_id)
        if lock.state == LOCK_CONSUMED:
            raise SandboxError(
                409,
                "lock_already_used",
                "That lock already became a reservation; cancel the reservation instead.",
                reservation_id=lock.reservation_id,
            )
        if lock.state == LOCK_ACTIVE:
            lock.state = LOCK_RELEASED
        return lock  # Released, Expired or Lost: the table is not held either way

    # -- reservations ----------------------------------------------------------------------

    def find_by_reference(self, partner_reference: str) -> list[Reservation]:
        return [r for r in self.reservations.values() if r.partner_reference == partner_reference]

    def reservation(self, reservation_id: str) -> Reservation:
        try:
            return self.reservations[reservation_id]
        except KeyError:
            raise SandboxError(
                404, "reservation_not_found", f"No reservation {reservation_id!r}."
            ) from None

    def _new_reservation(self, lock: SlotLock, **fields: Any) -> Reservation:
        now = self.now()
        res = Reservation(
            id=f"res_{self._hex(12)}",
            confirmation_number=str(self._ids.randrange(100_000_000, 1_000_000_000)),
            restaurant=self.catalogue[lock.restaurant_id],
            slot=lock.slot,
            party_size=lock.party_size,
            table_size=lock.table_size,
            created_at=now,
            updated_at=now,
            **fields,
        )
        res.history.append({"state": res.state, "at": iso_utc(now)})
        self.reservations[res.id] = res
        key = (lock.restaurant_id, lock.slot.astimezone(UTC), lock.table_size)
        self._holders[key].append(res)
        return res

    def make_reservation(
        self,
        rid: str,
        lock_id: str,
        partner_reference: str,
        guest: dict,
        special_requests: str | None,
        reservation_token: str | None,
    ) -> Reservation:
        lock = self._lock(rid, lock_id)
        if reservation_token is not None and reservation_token != lock.reservation_token:
            raise SandboxError(
                422,
                "invalid_reservation_token",
                "Does not match the lock.",
                field="reservation_token",
            )
        live = [
            r for r in self.find_by_reference(partner_reference) if r.state not in CANCELLED_STATES
        ]
        if live:
            raise SandboxError(
                409,
                "duplicate_partner_reference",
                "A live reservation already carries that partner_reference.",
                reservation_id=live[0].id,
            )
        if lock.state == LOCK_EXPIRED:
            raise SandboxError(410, "lock_expired", "The slot lock expired; lock the slot again.")
        if lock.state == LOCK_RELEASED:
            raise SandboxError(410, "lock_released", "The slot lock was released.")
        if lock.state == LOCK_CONSUMED:
            raise SandboxError(
                409,
                "lock_already_used",
                "That lock already became a reservation.",
                reservation_id=lock.reservation_id,
            )
        if lock.state == LOCK_LOST:
            raise SandboxError(409, "slot_taken", "The table was taken by another booking.")
        if self.dice.reject():
            lock.state = LOCK_LOST
            raise SandboxError(409, "slot_taken", "The table was taken by another booking.")
        if self.dice.steal():
            # Someone else (a walk-in, another channel) gets the locked table first.
            lock.state = LOCK_LOST
            self._new_reservation(
                lock,
                state=CONFIRMED,
                partner_reference=None,
                guest=None,
                special_requests=None,
                lock_id=None,
                source="other_channel",
            )
            raise SandboxError(409, "slot_taken", "The table was taken by another booking.")
        res = self._new_reservation(
            lock,
            state=CONFIRMED,
            partner_reference=partner_reference,
            guest=guest,
            special_requests=special_requests,
            lock_id=lock.id,
        )
        lock.state = LOCK_CONSUMED
        lock.reservation_id = res.id
        return res

    def cancel_reservation(self, reservation_id: str) -> Reservation:
        res = self.reservation(reservation_id)
        if res.state in CANCELLED_STATES:
            raise SandboxError(
                409,
                "already_cancelled",
                "The reservation is already cancelled.",
                reservation=res.as_json(),
            )
        if res.state not in CANCELLABLE_STATES:
            raise SandboxError(
                409,
                "not_cancellable",
                f"A reservation in state {res.state} cannot be cancelled.",
                reservation=res.as_json(),
            )
        now = self.now()
        hours_before = (res.slot - now).total_seconds() / 3600
        res.cancellation_fee = res.restaurant.policy.fee(res.deposit, hours_before)
        res.cancelled_at = now
        self._set_state(res, CANCELLED_WEB)
        return res

    def _set_state(self, res: Reservation, state: str) -> None:
        res.state = state
        res.updated_at = self.now()
        res.history.append({"state": state, "at": iso_utc(res.updated_at)})

    def force_state(self, reservation_id: str, state: str) -> Reservation:
        """Admin: what the restaurant does on its side (seat, no-show, cancel, confirm)."""
        res = self.reservation(reservation_id)
        if state not in RESERVATION_STATES:
            raise SandboxError(
                422, "invalid_state", f"state must be one of {RESERVATION_STATES}.", field="state"
            )
        self._set_state(res, state)
        return res


# -- what the edge middleware remembers -------------------------------------------------


@dataclass(slots=True)
class Answer:
    fingerprint: str
    done: asyncio.Event = field(default_factory=asyncio.Event)
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""


class EdgeState:
    """What the middleware remembers; cleared by /_admin/reset."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.requests: list[dict[str, Any]] = []

    def clear(self) -> None:
        self.answers.clear()
        self.requests.clear()

    def log(self, entry: dict[str, Any]) -> None:
        self.requests.append(entry)
        if len(self.requests) > REQUEST_LOG_LIMIT:
            del self.requests[: len(self.requests) - REQUEST_LOG_LIMIT]


# -- the sandbox -------------------------------------------------------------------------


class Sandbox:
    """Everything one sandbox instance holds; reset() puts it back as it started."""

    def __init__(self, seed: int, clock: Clock, faults: Faults) -> None:
        self.seed = seed
        self.clock = clock
        self.initial_faults = faults
        self.dice = FaultDice(faults.model_copy(deep=True), seed)
        self.edge = EdgeState()
        self.store = self._new_store()

    def _new_store(self) -> Store:
        return Store(build_catalogue(self.seed), self.dice, self.seed, self.clock)

    def reset(self) -> None:
        self.dice.reset(self.initial_faults.model_copy(deep=True), self.seed)
        self.edge.clear()
        self.store = self._new_store()
