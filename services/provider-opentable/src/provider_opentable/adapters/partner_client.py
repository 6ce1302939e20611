"""Async client for the OpenTable-style partner API: retries, idempotent writes, limits, normalised states.

Rules it keeps:
- Retries (exponential backoff with jitter) only on 5xx, timeouts and connection errors; a 4xx
  is an answer and is never retried.
- Every write carries an X-Request-Id derived from the caller's idempotency key, so a retry,
  here or by the caller later with the same key, is the same request to the partner.
- After a timeout or 5xx on make_reservation the client looks the reservation up by our
  partner_reference before writing again: a write that committed unseen is found, not repeated.
- Business answers (slot gone, hold expired, table taken) are results with status REJECTED
  and a reason code; PartnerUnavailable is raised only when retries are exhausted.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

import httpx
from tenacity import RetryError

from booking_shared.http import path_segment
from booking_shared.partner_http import Ambiguous, PartnerTransport, deterministic_request_id

logger = logging.getLogger(__name__)

PARTNER = "opentable"
_REQUEST_ID_NAMESPACE = uuid.UUID("6f1d3c2e-0a53-5b7e-9a1c-0e7a0b1e5a11")


class Status(StrEnum):
    """Provider-neutral states; the partner's own word is kept beside it as partner_status."""

    HELD = "HELD"
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


RESERVATION_STATES: dict[str, Status] = {
    "Pending": Status.PENDING,
    "Confirmed": Status.CONFIRMED,
    "Seated": Status.CONFIRMED,
    "Done": Status.CONFIRMED,
    "NoShow": Status.CONFIRMED,  # the booking stood; the guest did not come
    "Cancelled": Status.CANCELLED,
    "CancelledWeb": Status.CANCELLED,
    "CancelledRestaurant": Status.CANCELLED,
}
LOCK_STATES: dict[str, Status] = {
    "Active": Status.HELD,
    "Consumed": Status.CONFIRMED,
    "Released": Status.CANCELLED,
    "Expired": Status.REJECTED,
    "Lost": Status.REJECTED,
}
# Partner error codes -> our reason codes (the partner's code stays in partner_status).
REASONS: dict[str, str] = {
    "no_availability": "slot_unavailable",
    "slot_in_past": "slot_unavailable",
    "party_size_not_seatable": "party_size_unsupported",
    "slot_taken": "slot_taken",
    "lock_expired": "hold_expired",
    "lock_released": "hold_released",
    "lock_not_found": "hold_not_found",
    "lock_already_used": "hold_already_used",
    "duplicate_partner_reference": "duplicate_reference",
    "restaurant_not_found": "restaurant_not_found",
    "reservation_not_found": "reservation_not_found",
    "already_cancelled": "already_cancelled",
    "not_cancellable": "not_cancellable",
    "invalid_request": "invalid_request",
    "invalid_slot": "invalid_request",
    "invalid_reservation_token": "invalid_request",
    "request_id_reused": "invalid_request",
}
_LIVE = (Status.PENDING, Status.CONFIRMED)


def normalise_reservation_state(state: str | None) -> Status:
    # An unknown state is surfaced as FAILED for an operator to look at, never guessed.
    return RESERVATION_STATES.get(state or "", Status.FAILED)


def normalise_lock_state(state: str | None) -> Status:
    return LOCK_STATES.get(state or "", Status.FAILED)


# -- errors ------------------------------------------------------------------------------


class PartnerUnavailable(Exception):
    """The partner could not be reached or kept failing (5xx/timeouts) after every retry."""

    def __init__(self, operation: str, attempts: int, last_error: str) -> None:
        super().__init__(f"{PARTNER} {operation} failed after {attempts} attempt(s): {last_error}")
        self.operation = operation
        self.attempts = attempts
        self.last_error = last_error


class PartnerRequestError(Exception):
    """A read the partner refused (4xx other than 'not found'): a bug on our side, not an outage."""

    def __init__(self, status_code: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message
        self.field = field


# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Money:
    amount: int  # minor units
    currency: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> Money | None:
        if not raw:
            return None
        return cls(int(raw["amount"]), str(raw["currency"]))


@dataclass(frozen=True, slots=True)
class Guest:
    first_name: str
    last_name: str
    email: str
    phone: str


@dataclass(frozen=True, slots=True)
class CancellationPolicy:
    free_until_hours_before: int
    late_fee_percent: int
    description: str


@dataclass(frozen=True, slots=True)
class Restaurant:
    id: str
    name: str
    cuisine: str
    neighbourhood: str
    city: str
    time_zone: str
    address: str
    price_band: str
    price_per_cover: Money
    cancellation_policy: CancellationPolicy
    max_party_size: int

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Restaurant:
        policy = raw["cancellation_policy"]
        price = Money.parse(raw["price_per_cover"])
        if price is None:
            raise ValueError(f"restaurant {raw['id']}: price_per_cover is empty")
        return cls(
            id=raw["id"],
            name=raw["name"],
            cuisine=raw["cuisine"],
            neighbourhood=raw["neighbourhood"],
            city=raw["city"],
            time_zone=raw["time_zone"],
            address=raw["address"],
            price_band=raw["price_band"],
            price_per_cover=price,
            cancellation_policy=CancellationPolicy(
                int(policy["free_until_hours_before"]),
                int(policy["late_fee_percent"]),
                str(policy.get("description", "")),
            ),
            max_party_size=int(raw["max_party_size"]),
        )


@dataclass(frozen=True, slots=True)
class Slot:
    date_time: datetime  # local, with its UTC offset
    available: bool
    tables_left: int


@dataclass(frozen=True, slots=True)
class Availability:
    restaurant_id: str
    date: date
    party_size: int
    time_zone: str
    slots: tuple[Slot, ...]

    def available_slots(self) -> list[Slot]:
        return [s for s in self.slots if s.available]


@dataclass(frozen=True, slots=True)
class HoldResult:
    """A slot lock (HELD), or why there is none (REJECTED + reason), or a released lock."""

    status: Status
    partner_status: str  # the lock state ("Active"...) or the partner's error code
    restaurant_id: str
    lock_id: str | None = None
    reservation_token: str | None = None
    expires_at: datetime | None = None
    date_time: datetime | None = None
    party_size: int | None = None
    reason: str | None = None
    detail: str | None = None
    reservation_id: str | None = None  # set once the lock became a reservation (Consumed)

    @property
    def ok(self) -> bool:
        return self.status is Status.HELD


@dataclass(frozen=True, slots=True)
class ReservationResult:
    """A reservation as the partner holds it, or why the partner refused the write."""

    status: Status
    partner_status: str  # the reservation state ("Confirmed"...) or the partner's error code
    reservation_id: str | None = None
    confirmation_number: str | None = None
    partner_reference: str | None = None
    restaurant_id: str | None = None
    date_time: datetime | None = None
    party_size: int | None = None
    deposit: Money | None = None
    cancellation_fee: Money | None = None
    reason: str | None = None
    detail: str | None = None
    recovered: bool = False  # found by partner_reference after an unanswered write
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status in _LIVE

    @classmethod
    def parse(cls, raw: Mapping[str, Any], **overrides: Any) -> ReservationResult:
        state = raw.get("state")
        values: dict[str, Any] = dict(
            status=normalise_reservation_state(state),
            partner_status=str(state or ""),
            reservation_id=raw.get("reservation_id"),
            confirmation_number=raw.get("confirmation_number"),
            partner_reference=raw.get("partner_reference"),
            restaurant_id=raw.get("restaurant_id"),
            date_time=_parse_dt(raw.get("date_time")),
            party_size=raw.get("party_size"),
            deposit=Money.parse(raw.get("deposit")),
            cancellation_fee=Money.parse(raw.get("cancellation_fee")),
            raw=raw,
        )
        values.update(overrides)
        return cls(**values)


def _parse_dt(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None  # echoed back from a refused request: not worth an exception


def _error_of(resp: httpx.Response) -> dict[str, Any]:
    try:
        error = resp.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if not isinstance(error, dict):
        return {"code": f"http_{resp.status_code}", "message": resp.text[:200]}
    return error


def _describe(last: BaseException | int | None) -> str:
    """How an unanswered attempt reads in logs and in PartnerUnavailable.last_error."""
    if last is None:
        return ""
    return f"HTTP {last}" if isinstance(last, int) else f"{type(last).__name__}: {last}"


def _rejection_status(resp: httpx.Response) -> Status:
    # 404/409/410/422 are the partner saying no; anything else (401, 403, 400...) is us broken.
    return Status.REJECTED if resp.status_code in (404, 409, 410, 422) else Status.FAILED


def _reason(code: str, resp: httpx.Response) -> str:
    if code in REASONS:
        return REASONS[code]
    return "slot_unavailable" if resp.status_code == 409 else "partner_error"


# -- the client --------------------------------------------------------------------------


class OpenTableClient(PartnerTransport):
    """One instance per partner account: it owns the connection pool and the limits.

    OpenTableClient(base_url, timeout=5.0, max_retries=3, max_concurrency=10,
    rate_per_second=20.0, transport=None, *, burst=None, backoff_base=0.1, backoff_max=2.0,
    headers=None, rng=None): PartnerTransport's constructor, as is.
    """

    partner = "opentable"

    @staticmethod
    def request_id_for(operation: str, idempotency_key: str) -> str:
        """The X-Request-Id of a write: the same key and operation always give the same id."""
        return deterministic_request_id(_REQUEST_ID_NAMESPACE, operation, idempotency_key)

    # -- how an outage reads (the limits and the retry loop are PartnerTransport's) -------------

    def _attempt_failed(
        self, operation: str, path: str, attempt: int, attempts: int, last: BaseException | int
    ) -> None:
        logger.warning(
            "partner call failed",
            extra={
                "partner": PARTNER,
                "operation": operation,
                "attempt": attempt,
                "error": _describe(last),
            },
        )

    def _unavailable(
        self, operation: str, attempts: int, last: BaseException | int | None
    ) -> PartnerUnavailable:
        return PartnerUnavailable(operation, attempts, _describe(last))

    def _write_headers(self, operation: str, idempotency_key: str) -> dict[str, str]:
        return {"X-Request-Id": self.request_id_for(operation, idempotency_key)}

    @staticmethod
    def _raise_for_read(resp: httpx.Response) -> None:
        if resp.status_code >= 400:
            e = _error_of(resp)
            raise PartnerRequestError(
                resp.status_code, e.get("code", ""), e.get("message", ""), e.get("field")
            )

    # -- reads --------------------------------------------------------------------------

    async def search(
        self,
        city: str | None = None,
        cuisine: str | None = None,
        q: str | None = None,
        limit: int = 50,
    ) -> list[Restaurant]:
        params = {k: v for k, v in {"city": city, "cuisine": cuisine, "q": q}.items() if v}
        params["limit"] = str(limit)
        resp = await self._call("search", "GET", "/v1/restaurants", params=params)
        self._raise_for_read(resp)
        return [Restaurant.parse(r) for r in resp.json()["restaurants"]]

    async def get_restaurant(self, restaurant_id: str) -> Restaurant | None:
        resp = await self._call(
            "get_restaurant", "GET", f"/v1/restaurants/{path_segment(restaurant_id)}"
        )
        if resp.status_code == 404:
            return None
        self._raise_for_read(resp)
        return Restaurant.parse(resp.json())

    async def availability(
        self,
        restaurant_id: str,
        date: date | str,
        party_size: int,
        time: time | str | None = None,
    ) -> Availability:
        params: dict[str, str] = {"date": str(date), "party_size": str(party_size)}
        if time is not None:
            params["time"] = time if isinstance(time, str) else time.strftime("%H:%M")
        resp = await self._call(
            "availability",
            "GET",
            f"/v1/restaurants/{path_segment(restaurant_id)}/availability",
            params=params,
        )
        self._raise_for_read(resp)
        body = resp.json()
        return Availability(
            restaurant_id=body["restaurant_id"],
            date=datetime.strptime(body["date"], "%Y-%m-%d").date(),
            party_size=int(body["party_size"]),
            time_zone=body["time_zone"],
            slots=tuple(
                Slot(
                    datetime.fromisoformat(s["date_time"]),
                    bool(s["available"]),
                    int(s["tables_left"]),
                )
                for s in body["slots"]
            ),
        )

    async def get_reservation(self, reservation_id: str) -> ReservationResult | None:
        resp = await self._call(
            "get_reservation", "GET", f"/v1/reservations/{path_segment(reservation_id)}"
        )
        if resp.status_code == 404:
            return None
        self._raise_for_read(resp)
        return ReservationResult.parse(resp.json())

    async def list_reservations_by_reference(
        self, partner_reference: str
    ) -> list[ReservationResult]:
        resp = await self._call(
            "find_reservation",
            "GET",
            "/v1/reservations",
            params={"partner_reference": partner_reference},
        )
        self._raise_for_read(resp)
        return [ReservationResult.parse(r) for r in resp.json()["reservations"]]

    async def find_reservation_by_reference(
        self, partner_reference: str
    ) -> ReservationResult | None:
        """Our booking at the partner, by our own reference: a live one first, else the latest."""
        found = await self.list_reservations_by_reference(partner_reference)
        if not found:
            return None
        live = [r for r in found if r.status in _LIVE]
        return (live or found)[-1]

    # -- writes -------------------------------------------------------------------------

    async def lock_slot(
        self,
        restaurant_id: str,
        date_time: datetime | str,
        party_size: int,
        *,
        idempotency_key: str,
    ) -> HoldResult:
        when = date_time if isinstance(date_time, str) else date_time.isoformat()
        resp = await self._call(
            "lock_slot",
            "POST",
            f"/v1/restaurants/{path_segment(restaurant_id)}/slot_locks",
            json={"date_time": when, "party_size": party_size},
            headers=self._write_headers("lock_slot", idempotency_key),
        )
        if resp.status_code in (200, 201):
            return self._hold(resp.json())
        e = _error_of(resp)
        return HoldResult(
            status=_rejection_status(resp),
            partner_status=e.get("code", ""),
            restaurant_id=restaurant_id,
            date_time=_parse_dt(when),
            party_size=party_size,
            reason=_reason(e.get("code", ""), resp),
            detail=e.get("message"),
        )

    @staticmethod
    def _hold(raw: Mapping[str, Any], **overrides: Any) -> HoldResult:
        values: dict[str, Any] = dict(
            status=normalise_lock_state(raw.get("state")),
            partner_status=str(raw.get("state") or ""),
            restaurant_id=raw["restaurant_id"],
            lock_id=raw.get("lock_id"),
            reservation_token=raw.get("reservation_token"),
            expires_at=_parse_dt(raw.get("expires_at")),
            date_time=_parse_dt(raw.get("date_time")),
            party_size=raw.get("party_size"),
            reservation_id=raw.get("reservation_id"),
        )
        values.update(overrides)
        return HoldResult(**values)

    async def release_lock(
        self, restaurant_id: str, lock_id: str, *, idempotency_key: str
    ) -> HoldResult:
        """Give a held table back. A lock already gone (released, expired, unknown) is CANCELLED too."""
        resp = await self._call(
            "release_lock",
            "DELETE",
            f"/v1/restaurants/{path_segment(restaurant_id)}/slot_locks/{path_segment(lock_id)}",
            headers=self._write_headers("release_lock", idempotency_key),
        )
        if resp.status_code == 200:
            raw = resp.json()
            return self._hold(raw, status=Status.CANCELLED)
        e = _error_of(resp)
        code = e.get("code", "")
        if code == "lock_not_found":
            return HoldResult(
                Status.CANCELLED, code, restaurant_id, lock_id=lock_id, reason="hold_not_found"
            )
        return HoldResult(
            status=_rejection_status(resp),
            partner_status=code,
            restaurant_id=restaurant_id,
            lock_id=lock_id,
            reason=_reason(code, resp),
            detail=e.get("message"),
            # lock_already_used names the reservation the lock became: the caller may cancel it.
            reservation_id=e.get("reservation_id"),
        )

    async def make_reservation(
        self,
        restaurant_id: str,
        lock_id: str,
        partner_reference: str,
        guest: Guest | Mapping[str, str],
        special_requests: str | None = None,
        *,
        idempotency_key: str,
        reservation_token: str | None = None,
    ) -> ReservationResult:
        """Turn a slot lock into a reservation, exactly once, whatever the network does."""
        body: dict[str, Any] = {
            "lock_id": lock_id,
            "partner_reference": partner_reference,
            "guest": asdict(guest) if isinstance(guest, Guest) else dict(guest),
        }
        if special_requests:
            body["special_requests"] = special_requests
        if reservation_token:
            body["reservation_token"] = reservation_token
        headers = self._write_headers("make_reservation", idempotency_key)
        path = f"/v1/restaurants/{path_segment(restaurant_id)}/reservations"

        def unanswered(attempt: int, last: BaseException | int) -> None:
            logger.warning(
                "partner reservation write unanswered",
                extra={
                    "partner": PARTNER,
                    "partner_reference": partner_reference,
                    "attempt": attempt,
                    "error": _describe(last),
                },
            )

        try:
            async for attempt in self._retrying("make_reservation", path, unanswered):
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        # The last write may have committed with its answer lost: look first.
                        found = await self._live_by_reference(partner_reference)
                        if found is not None:
                            return found
                    resp = await self._attempt(
                        "POST", path, operation="make_reservation", json=body, headers=headers
                    )
        except RetryError as gave_up:
            last = gave_up.last_attempt.exception()
            found = await self._live_by_reference(partner_reference)
            if found is not None:
                return found
            raise PartnerUnavailable(
                "make_reservation",
                self.max_retries + 1,
                _describe(last.last if isinstance(last, Ambiguous) else last),
            ) from last
        return await self._reservation_answer(resp, restaurant_id, partner_reference)

    async def _live_by_reference(self, partner_reference: str) -> ReservationResult | None:
        found = await self.find_reservation_by_reference(partner_reference)
        if found is not None and found.status in _LIVE:
            return replace(found, recovered=True)
        return None

    async def _reservation_answer(
        self, resp: httpx.Response, restaurant_id: str, partner_reference: str
    ) -> ReservationResult:
        if resp.status_code in (200, 201):
            return ReservationResult.parse(resp.json())
        e = _error_of(resp)
        code = e.get("code", "")
        if code in ("duplicate_partner_reference", "lock_already_used"):
            # Our own earlier write may be the one that used the lock: if so, that is our answer.
            found = await self._live_by_reference(partner_reference)
            if found is not None:
                return found
        return ReservationResult(
            status=_rejection_status(resp),
            partner_status=code,
            partner_reference=partner_reference,
            restaurant_id=restaurant_id,
            reason=_reason(code, resp),
            detail=e.get("message"),
        )

    async def cancel_reservation(
        self, reservation_id: str, *, idempotency_key: str, reason: str | None = None
    ) -> ReservationResult:
        """Cancel; the result carries the fee the partner's policy charged (cancellation_fee)."""
        resp = await self._call(
            "cancel_reservation",
            "POST",
            f"/v1/reservations/{path_segment(reservation_id)}/cancel",
            json={"reason": reason} if reason else {},
            headers=self._write_headers("cancel_reservation", idempotency_key),
        )
        if resp.status_code == 200:
            return ReservationResult.parse(resp.json())
        e = _error_of(resp)
        code = e.get("code", "")
        current = e.get("reservation")
        if code == "already_cancelled" and isinstance(current, Mapping):
            return ReservationResult.parse(current, reason="already_cancelled")
        if isinstance(current, Mapping):
            return ReservationResult.parse(
                current,
                status=_rejection_status(resp),
                reason=_reason(code, resp),
                detail=e.get("message"),
            )
        return ReservationResult(
            status=_rejection_status(resp),
            partner_status=code,
            reservation_id=reservation_id,
            reason=_reason(code, resp),
            detail=e.get("message"),
        )
