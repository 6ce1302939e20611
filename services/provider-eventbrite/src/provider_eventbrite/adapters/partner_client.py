"""Async client for the Eventbrite partner API: v3 reads, partner-order writes, safe retries.

Rules it keeps:
- Retries (exponential backoff with jitter) only on 5xx, timeouts and connection errors; a 4xx
  is an answer and is never retried.
- Every write carries an X-Request-Id derived from the caller's idempotency key, so a retry (or a
  redelivered command) reuses it.
- After an ambiguous create_order (timeout or 5xx) it looks the order up by our partner_reference
  before writing again, so a ghost order is found, never doubled.
- Per client (one per partner): at most `max_concurrency` requests in flight and
  `rate_per_second` started; the rest queue.
- Business answers (sold out, hold expired, ...) come back as typed results with a reason code;
  the only exception for an outage is PartnerUnavailable, after the retries.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import RetryError

from booking_shared.http import path_segment
from booking_shared.partner_http import Ambiguous, PartnerTransport, deterministic_request_id
from booking_shared.provider_kit import PartnerUnavailable as KitPartnerUnavailable

from .partner_models import (
    Attendee,
    CancelQuote,
    CancelResult,
    Event,
    HoldResult,
    OrderResult,
    Price,
    Reason,
    Status,
    Ticket,
    TicketClass,
    Venue,
    money,
    normalise_status,
    parse_time,
    reason_for,
)

__all__ = [
    "Attendee",
    "CancelQuote",
    "CancelResult",
    "Event",
    "EventbriteClient",
    "HoldResult",
    "OrderResult",
    "PartnerError",
    "PartnerRequestError",
    "PartnerUnavailable",
    "Price",
    "Reason",
    "Status",
    "Ticket",
    "TicketClass",
    "Venue",
]

log = logging.getLogger(__name__)

# Request ids are uuid5(namespace, "<operation>:<idempotency key>"): stable across retries and
# restarts, distinct per operation so one command id can drive a hold and an order.
REQUEST_ID_NAMESPACE = uuid.UUID("5b0f3c1e-8a7d-4f43-9a53-0e1c2b7d9e41")


class PartnerError(Exception):
    """Base of the client's exceptions (bugs and outages; never business answers)."""


class PartnerUnavailable(PartnerError, KitPartnerUnavailable):
    """The partner did not answer usefully after all retries (5xx, timeouts, connection errors).

    Also the provider kit's PartnerUnavailable, so the shared command handlers catch it as is."""

    def __init__(self, operation: str, attempts: int, last: BaseException | int | None) -> None:
        what = f"HTTP {last}" if isinstance(last, int) else repr(last)
        super().__init__(f"eventbrite {operation}: unavailable after {attempts} attempts ({what})")
        self.operation, self.attempts, self.last = operation, attempts, last


class PartnerRequestError(PartnerError):
    """A read was refused with a 4xx we did not expect: a bug on our side or a contract change."""

    def __init__(self, operation: str, status: int, body: Any) -> None:
        super().__init__(f"eventbrite {operation}: HTTP {status}: {body!r}"[:500])
        self.operation, self.status, self.body = operation, status, body


def _body(resp: httpx.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {"message": resp.text[:500]}
    return data if isinstance(data, dict) else {"data": data}


def _utc(dt: datetime) -> str:
    if dt.tzinfo is None:
        raise ValueError("datetimes sent to Eventbrite must be timezone-aware")
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventbriteClient(PartnerTransport):
    """One per partner account. Use as `async with EventbriteClient(...) as eb:` or call aclose()."""

    partner = "eventbrite"

    def __init__(
        self,
        base_url: str,
        timeout: float = 5.0,
        max_retries: int = 3,
        max_concurrency: int = 10,
        rate_per_second: float | None = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        burst: float | None = None,
        backoff_base: float = 0.1,
        backoff_max: float = 2.0,
        token: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        headers = {
            "Accept": "application/json",
            "User-Agent": "one-click-booking/provider-eventbrite",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        super().__init__(
            base_url.rstrip("/"),
            timeout,
            max_retries,
            max_concurrency,
            rate_per_second,
            transport,
            burst=burst,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            headers=headers,
            rng=rng,
        )

    @staticmethod
    def request_id(operation: str, idempotency_key: str) -> str:
        """The X-Request-Id a write carries: the same for every retry of the same command."""
        if not idempotency_key:
            raise ValueError("an idempotency key is required for every write")
        return deterministic_request_id(REQUEST_ID_NAMESPACE, operation, idempotency_key)

    # ---- how an outage reads (the limits and the retry loop are PartnerTransport's) ----------

    def _attempt_failed(
        self, operation: str, path: str, attempt: int, attempts: int, last: BaseException | int
    ) -> None:
        log.warning(
            "eventbrite %s attempt %d/%d failed: %r",
            operation,
            attempt,
            attempts,
            last,
            extra={"operation": operation, "path": path},
        )

    def _unavailable(
        self, operation: str, attempts: int, last: BaseException | int | None
    ) -> PartnerUnavailable:
        return PartnerUnavailable(operation, attempts, last)

    # ---- reads (Eventbrite API v3 shapes) -----------------------------------------------------

    async def search_events(
        self,
        q: str | None = None,
        *,
        start_after: datetime | None = None,
        start_before: datetime | None = None,
        expand: Sequence[str] = ("venue", "ticket_classes"),
        page_size: int = 50,
        max_pages: int = 20,
    ) -> list[Event]:
        """Events whose start lies in [start_after, start_before], following pagination."""
        params: dict[str, Any] = {"page_size": page_size}
        if q:
            params["q"] = q
        if start_after:
            params["start_date.range_start"] = _utc(start_after)
        if start_before:
            params["start_date.range_end"] = _utc(start_before)
        if expand:
            params["expand"] = ",".join(expand)
        events: list[Event] = []
        for _ in range(max_pages):
            resp = await self._call("search_events", "GET", "/v3/events/search/", params=params)
            data = self._read_ok("search_events", resp)
            events.extend(Event.from_v3(e) for e in data.get("events", []))
            pagination = data.get("pagination") or {}
            if not pagination.get("has_more_items") or not pagination.get("continuation"):
                break
            params = {**params, "continuation": pagination["continuation"]}
        return events

    async def get_event(
        self, event_id: str, expand: Sequence[str] = ("venue", "ticket_classes")
    ) -> Event | None:
        params = {"expand": ",".join(expand)} if expand else None
        resp = await self._call(
            "get_event", "GET", f"/v3/events/{path_segment(event_id)}/", params=params
        )
        if resp.status_code == 404:
            return None
        return Event.from_v3(self._read_ok("get_event", resp))

    async def get_venue(self, venue_id: str) -> Venue | None:
        resp = await self._call("get_venue", "GET", f"/v3/venues/{path_segment(venue_id)}/")
        if resp.status_code == 404:
            return None
        return Venue.from_v3(self._read_ok("get_venue", resp))

    async def ticket_classes(self, event_id: str) -> list[TicketClass]:
        """All ticket classes of an event; an unknown event has none."""
        out: list[TicketClass] = []
        params: dict[str, Any] = {}
        while True:
            resp = await self._call(
                "ticket_classes",
                "GET",
                f"/v3/events/{path_segment(event_id)}/ticket_classes/",
                params=params,
            )
            if resp.status_code == 404:
                return out
            data = self._read_ok("ticket_classes", resp)
            out.extend(TicketClass.from_v3(t) for t in data.get("ticket_classes", []))
            pagination = data.get("pagination") or {}
            if not pagination.get("has_more_items") or not pagination.get("continuation"):
                return out
            params = {"continuation": pagination["continuation"]}

    @staticmethod
    def _read_ok(operation: str, resp: httpx.Response) -> dict[str, Any]:
        if resp.status_code != 200:
            raise PartnerRequestError(operation, resp.status_code, _body(resp))
        return _body(resp)

    # ---- writes (partner-order contract) ------------------------------------------------------

    async def hold(
        self,
        event_id: str,
        ticket_class_id: str,
        quantity: int,
        partner_reference: str,
        *,
        idempotency_key: str,
    ) -> HoldResult:
        headers = {"X-Request-Id": self.request_id("hold", idempotency_key)}
        body = {
            "event_id": event_id,
            "ticket_class_id": ticket_class_id,
            "quantity": quantity,
            "partner_reference": partner_reference,
        }
        resp = await self._call("hold", "POST", "/partner/v1/holds", json=body, headers=headers)
        data = _body(resp)
        if resp.status_code in (200, 201):
            return self._hold_result(data, resp.status_code)
        return HoldResult(
            status=Status.REJECTED,
            partner_status=str(data.get("code") or resp.status_code),
            reason=reason_for(data.get("code"), resp.status_code),
            message=data.get("message"),
            available=data.get("available"),
            http_status=resp.status_code,
            raw=data,
        )

    async def release_hold(self, hold_id: str, *, idempotency_key: str) -> HoldResult:
        """Give the tickets back. An unknown, expired or lost hold holds nothing: CANCELLED too."""
        headers = {"X-Request-Id": self.request_id("release_hold", idempotency_key)}
        resp = await self._call(
            "release_hold", "DELETE", f"/partner/v1/holds/{path_segment(hold_id)}", headers=headers
        )
        data = _body(resp)
        if resp.status_code == 200:
            return replace(self._hold_result(data, 200), status=Status.CANCELLED)
        code = str(data.get("code") or resp.status_code)
        reason = reason_for(data.get("code"), resp.status_code)
        status = Status.CANCELLED if reason == Reason.HOLD_NOT_FOUND else Status.REJECTED
        return HoldResult(
            status=status,
            partner_status=code,
            reason=reason,
            hold_id=hold_id,
            message=data.get("message"),
            http_status=resp.status_code,
            raw=data,
        )

    async def create_order(
        self,
        hold_id: str,
        partner_reference: str,
        attendee: Attendee | Mapping[str, str],
        *,
        idempotency_key: str,
    ) -> OrderResult:
        """Turn a hold into an order. Ghost-safe: after an ambiguous attempt, look up first."""
        if not isinstance(attendee, Attendee):
            attendee = Attendee(name=attendee["name"], email=attendee["email"])
        headers = {"X-Request-Id": self.request_id("create_order", idempotency_key)}
        body = {
            "hold_id": hold_id,
            "partner_reference": partner_reference,
            "attendee": {"name": attendee.name, "email": attendee.email},
        }
        attempts = self.max_retries + 1

        def ambiguous(attempt: int, last: BaseException | int) -> None:
            log.warning(
                "eventbrite create_order attempt %d/%d ambiguous: %r",
                attempt,
                attempts,
                last,
                extra={"partner_reference": partner_reference},
            )

        try:
            async for attempt in self._retrying("create_order", "/partner/v1/orders", ambiguous):
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        # Only an ambiguous attempt leads here: look for its ghost before writing.
                        found = await self._lookup_once(partner_reference)
                        if found is not None:
                            log.warning(
                                "eventbrite create_order: found order %s by reference after an "
                                "ambiguous attempt",
                                found.order_id,
                                extra={"partner_reference": partner_reference},
                            )
                            return replace(found, recovered=True)
                    resp = await self._attempt(
                        "POST",
                        "/partner/v1/orders",
                        operation="create_order",
                        json=body,
                        headers=headers,
                    )
        except RetryError as gave_up:
            last = gave_up.last_attempt.exception()
            try:
                found = await self._lookup_once(partner_reference)
            except Ambiguous:
                found = None
            if found is not None:
                return replace(found, recovered=True)
            raise PartnerUnavailable(
                "create_order", attempts, last.last if isinstance(last, Ambiguous) else last
            ) from last
        return self._order_answer(resp)

    async def cancel_quote(self, order_id: str) -> CancelQuote:
        resp = await self._call(
            "cancel_quote", "GET", f"/partner/v1/orders/{path_segment(order_id)}/cancel_quote"
        )
        data = _body(resp)
        if resp.status_code == 200:
            return CancelQuote(
                order_id=str(data.get("order_id") or order_id),
                cancellable=bool(data.get("cancellable", True)),
                partner_status=str(data.get("status") or "QUOTED"),
                quote_id=data.get("cancel_quote_id"),
                refund=money(data.get("refund_amount")),
                refund_percent=data.get("refund_percent"),
                order_total=money(data.get("order_total")),
                valid_until=parse_time(data.get("valid_until")),
                message=data.get("message"),
                raw=data,
            )
        return CancelQuote(
            order_id=order_id,
            cancellable=False,
            partner_status=str(data.get("code") or resp.status_code),
            reason=reason_for(data.get("code"), resp.status_code),
            message=data.get("message"),
            raw=data,
        )

    async def cancel_order(
        self, order_id: str, *, idempotency_key: str, cancel_quote_id: str | None = None
    ) -> CancelResult:
        headers = {"X-Request-Id": self.request_id("cancel_order", idempotency_key)}
        body = {"cancel_quote_id": cancel_quote_id} if cancel_quote_id else {}
        resp = await self._call(
            "cancel_order",
            "POST",
            f"/partner/v1/orders/{path_segment(order_id)}/cancel",
            json=body,
            headers=headers,
        )
        data = _body(resp)
        if resp.status_code == 200:
            partner_status = str(data.get("status") or "")
            return CancelResult(
                status=normalise_status(partner_status),
                partner_status=partner_status,
                order_id=str(data.get("order_id") or order_id),
                refund=money(data.get("refund_amount")),
                refund_percent=data.get("refund_percent"),
                already_cancelled=bool(data.get("already_cancelled")),
                raw=data,
            )
        return CancelResult(
            status=Status.REJECTED,
            partner_status=str(data.get("code") or resp.status_code),
            order_id=order_id,
            reason=reason_for(data.get("code"), resp.status_code),
            message=data.get("message"),
            raw=data,
        )

    async def find_order_by_reference(self, partner_reference: str) -> OrderResult | None:
        """The order we placed under this reference, if the partner has one (ghost detection)."""
        resp = await self._call(
            "find_order_by_reference",
            "GET",
            "/partner/v1/orders",
            params={"partner_reference": partner_reference},
        )
        return self._lookup_answer(resp)

    async def get_order(self, order_id: str) -> OrderResult | None:
        resp = await self._call("get_order", "GET", f"/partner/v1/orders/{path_segment(order_id)}")
        if resp.status_code == 404:
            return None
        return self._order_result(self._read_ok("get_order", resp), 200)

    # ---- parsing ------------------------------------------------------------------------------

    async def _lookup_once(self, partner_reference: str) -> OrderResult | None:
        resp = await self._attempt(
            "GET",
            "/partner/v1/orders",
            operation="find_order_by_reference",
            params={"partner_reference": partner_reference},
        )
        return self._lookup_answer(resp)

    def _lookup_answer(self, resp: httpx.Response) -> OrderResult | None:
        data = self._read_ok("find_order_by_reference", resp)
        orders = data.get("orders") or []
        return self._order_result(orders[0], 200) if orders else None

    def _order_answer(self, resp: httpx.Response) -> OrderResult:
        data = _body(resp)
        if resp.status_code in (200, 201):
            return self._order_result(data, resp.status_code)
        return OrderResult(
            status=Status.REJECTED,
            partner_status=str(data.get("code") or resp.status_code),
            reason=reason_for(data.get("code"), resp.status_code),
            message=data.get("message"),
            order_id=data.get("order_id"),
            http_status=resp.status_code,
            raw=data,
        )

    @staticmethod
    def _hold_result(d: Mapping[str, Any], http_status: int) -> HoldResult:
        partner_status = str(d.get("status") or "")
        return HoldResult(
            status=normalise_status(partner_status),
            partner_status=partner_status,
            hold_id=d.get("hold_id"),
            valid_until=parse_time(d.get("validUntil")),
            quantity=d.get("quantity"),
            price=Price.from_partner(d.get("price")),
            http_status=http_status,
            raw=d,
        )

    @staticmethod
    def _order_result(d: Mapping[str, Any], http_status: int) -> OrderResult:
        partner_status = str(d.get("status") or "")
        cancellation = d.get("cancellation") or {}
        return OrderResult(
            status=normalise_status(partner_status),
            partner_status=partner_status,
            order_id=d.get("order_id"),
            partner_reference=d.get("partner_reference"),
            hold_id=d.get("hold_id"),
            event_id=d.get("event_id"),
            ticket_class_id=d.get("ticket_class_id"),
            quantity=d.get("quantity"),
            price=Price.from_partner(d.get("price")),
            tickets=tuple(
                Ticket(
                    ticket_id=str(t.get("ticket_id")),
                    barcode=t.get("barcode"),
                    ticket_class_id=t.get("ticket_class_id"),
                    partner_status=t.get("status"),
                )
                for t in d.get("tickets") or []
            ),
            refund=money(cancellation.get("refund_amount")),
            http_status=http_status,
            raw=d,
        )
