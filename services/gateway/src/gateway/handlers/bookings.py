"""One-click booking: consent, the Idempotency-Key rules, the booking row and BookingRequested
in one transaction; then status, the SSE stream, the calendar and cancellation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from booking_shared import outbox
from booking_shared.contracts import (
    BookingCancellationRequested,
    BookingMode,
    BookingRequested,
    PaymentSource,
)
from booking_shared.contracts.topics import BOOKING_EVENTS
from booking_shared.money import Money, total
from booking_shared.sealed import seal
from gateway.adapters import postgres as db
from gateway.adapters.postgres import User
from gateway.domain import calendar, consent, idempotency, states
from gateway.domain.errors import (
    Conflict,
    ConsentRefused,
    FieldError,
    GuestDetailsRequired,
    IdempotencyKeyInFlight,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    NotFound,
    PaymentMethodRequired,
    RateLimited,
    UpstreamRejected,
    UpstreamUnavailable,
)
from gateway.domain.guest import GuestDetails, guest_issues
from gateway.domain.ids import new_id
from gateway.handlers import card_wait, limits, reconcile
from gateway.handlers.deps import ClientInfo, Deps
from gateway.handlers.payment_methods import choose_card
from gateway.handlers.quotes import lines_of, profile_guest, provider_needs
from gateway.metrics import BOOKINGS_REFUSED, BOOKINGS_REQUESTED, IDEMPOTENT_REPLAYS

log = logging.getLogger(__name__)

BOOKINGS_PATH = "/v1/bookings"
# The booking.events.v1 event that completes each final state (codes, reasons, refunds).
OUTCOME_EVENTS = {
    "CONFIRMED": "BookingConfirmed",
    "FAILED": "BookingFailed",
    "CANCELLED": "BookingCancelled",
    "PARTIALLY_CANCELLED": "BookingCancelled",
}


@dataclass(frozen=True)
class BookingCommand:
    quote_id: str
    mode: BookingMode
    confirm: bool
    payment_method_id: str | None = None
    guest: GuestDetails | None = None


@dataclass
class Answer:
    """An HTTP answer a use case decided, replayable for an Idempotency-Key."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    replayed: bool = False


# --- POST /v1/bookings ----------------------------------------------------------------------


async def request_booking(
    deps: Deps,
    user: User,
    cmd: BookingCommand,
    raw_key: str | None,
    body: dict[str, Any],
    client: ClientInfo,
) -> Answer:
    """The Idempotency-Key wrapper: 400 without a key, the first answer again for the same key and
    body, 422 for the same key and another body, 409 while the first request is still running."""
    key = idempotency.normalize(raw_key)
    problem = idempotency.key_problem(key)
    if problem:
        raise IdempotencyKeyMissing(problem, [FieldError("Idempotency-Key", problem)])
    assert key is not None
    fp = idempotency.fingerprint("POST", BOOKINGS_PATH, body)
    pool = deps.db()
    claim = await db.claim_key(
        pool,
        user.id,
        key,
        fp,
        deps.settings.idempotency_lock_s,
        deps.settings.idempotency_ttl_h * 3600,
    )
    if claim.kind == "mismatch":
        msg = "this Idempotency-Key was used with a different request body"
        raise IdempotencyKeyReused(msg, [FieldError("Idempotency-Key", msg)])
    if claim.kind == "in_flight":
        raise IdempotencyKeyInFlight(
            "a request with this Idempotency-Key is still being processed; retry shortly"
        )
    if claim.kind == "done":
        IDEMPOTENT_REPLAYS.inc()
        row = claim.row
        return Answer(
            row["response_status"],
            db.loads(row["response_body"]),
            db.loads(row["response_headers"]),
            True,
        )
    try:
        return await _book(deps, user, cmd, key, client)
    except BaseException:
        # Nothing was booked: free the key so that the corrected request can use it.
        await asyncio.shield(db.release_key(pool, user.id, key, fp))
        raise


async def _book(
    deps: Deps, user: User, cmd: BookingCommand, key: str, client: ClientInfo
) -> Answer:
    pool = deps.db()
    quote = await db.get_quote(pool, cmd.quote_id, user.id)
    if quote is None:
        raise NotFound("quote", "quote_id")
    now = deps.clock()
    if quote["expires_at"] <= now:
        raise Conflict("quote-expired", "the quote has expired; ask for a new one", "quote_id")
    if (existing := await db.booking_for_quote(pool, quote["id"])) is not None:
        raise _already_booked(existing)

    lines = lines_of(quote)
    unavailable = [ln for ln in lines if not ln.available]
    to_book = [ln for ln in lines if ln.available]
    if not to_book or (cmd.mode == "all_or_nothing" and unavailable):
        names = ", ".join(f"{ln.item_id} ({ln.reason})" for ln in unavailable)
        raise Conflict(
            "items-unavailable",
            f"these items cannot be booked: {names}"
            + ("; book best_effort or re-quote" if to_book else ""),
            "quote_id",
            items=[ln.item_id for ln in unavailable],
        )
    # Before consent, the card and the saga: a guest a partner would refuse never gets a table
    # held or a card authorized. The quote's lines carry what each provider declared.
    guest = cmd.guest or profile_guest(user)
    if issues := guest_issues(guest, provider_needs(to_book)):
        fields = ", ".join(dict.fromkeys(i.field for i in issues))
        BOOKINGS_REFUSED.labels("guest_details_missing").inc()
        raise GuestDetailsRequired(
            f"the partners would refuse this guest: {fields}"
            + (
                ""
                if guest.source == "request"
                else "; send them as `guest` or set them with PATCH /v1/me"
            ),
            [FieldError(i.field, i.message) for i in issues],
            issues=[i.view() for i in issues],
        )
    amount = total([ln.price for ln in to_book if ln.price is not None], quote["currency"])
    types = {ln.booking_type for ln in to_book}
    try:
        granted = consent.check(user.preferences, amount, types, cmd.confirm)
    except consent.Refusal as refusal:
        for r in refusal.decision.reasons:
            BOOKINGS_REFUSED.labels(r.code).inc()
        raise _refused(refusal) from None

    active = await db.count_active(pool, user.id, states.FINAL)
    if active >= deps.settings.max_active_bookings:
        raise RateLimited(f"you have {active} bookings in progress; wait until one finishes", 5)

    choice = await choose_card(deps, user, cmd.payment_method_id)
    card = choice.card
    if card is None and not choice.deferred:
        msg = "no payment method on file: add a card (POST /v1/payment-methods) before booking"
        raise PaymentMethodRequired(msg, [FieldError("payment_method_id", msg)])

    booking_id = new_id("bk")
    request: dict[str, Any] = {
        "booking_id": booking_id,
        "user_id": user.id,
        "quote_id": quote["id"],
        "items": [ln.item for ln in to_book],
        "total": amount,
        "mode": cmd.mode,
        "guest": seal(guest.contact(), deps.settings.guest_data_key),
        "requested_at": now,
    }
    # Without a card yet (deferred), the request waits for it (card_wait.py): no saga starts,
    # nothing is held or charged, until the payment service names the card.
    message = (
        BookingRequested(
            **request,
            payment=PaymentSource(customer_id=choice.customer_id, payment_method_id=card.id),
        )
        if card is not None
        else None
    )
    location = f"{BOOKINGS_PATH}/{booking_id}"
    body = {
        "booking_id": booking_id,
        "state": states.INITIAL,
        "quote_id": quote["id"],
        "mode": cmd.mode,
        "total": amount.model_dump(),
        "payment_method_id": card.id if card else None,
        "consent": {"basis": granted.basis, "recorded_at": now.isoformat()},
        "links": _links(booking_id),
    }
    headers = {"Location": location}
    items_summary = [
        {
            "item_id": ln.item_id,
            "title": ln.title,
            "booking_type": ln.booking_type,
            "provider": ln.provider,
            "start_time": ln.start_time.isoformat(),
            "price": ln.price.model_dump() if ln.price else None,
        }
        for ln in to_book
    ]
    try:
        async with pool.acquire() as conn, conn.transaction():
            await limits.take_or_refuse(deps, conn, user.id, limits.BOOKINGS)
            await db.insert_booking(
                conn,
                id=booking_id,
                user_id=user.id,
                quote_id=quote["id"],
                mode=cmd.mode,
                state=states.INITIAL,
                total_minor=amount.amount_minor,
                currency=amount.currency,
                payment_method_id=card.id if card else None,
                items=items_summary,
            )
            await db.insert_consent(
                conn,
                booking_id=booking_id,
                user_id=user.id,
                quote_id=quote["id"],
                amount_minor=amount.amount_minor,
                currency=amount.currency,
                mode=cmd.mode,
                basis=granted.basis,
                confirmed_explicitly=cmd.confirm,
                preferences=user.preferences.model_dump(mode="json"),
                decision=granted.decision.model_dump(mode="json"),
                user_agent=(client.user_agent or "")[:500] or None,
                ip=client.ip,
            )
            await db.add_timeline(
                conn,
                booking_id,
                "BookingRequested",
                states.INITIAL,
                {
                    "total": amount.model_dump(),
                    "mode": cmd.mode,
                    "items": [ln.item_id for ln in to_book],
                },
                now,
                schema=deps.settings.db_schema,
            )
            if message is not None:
                env = await outbox.enqueue(
                    conn,
                    BOOKING_EVENTS,
                    message,
                    producer=deps.settings.service_name,
                    schema=deps.settings.db_schema,
                )
                await reconcile.remember(conn, BOOKING_EVENTS, message, env)
            else:
                await card_wait.wait_for_card(
                    conn, request, choice.customer_id, cmd.payment_method_id
                )
            await db.complete_key(conn, user.id, key, 202, body, headers, booking_id)
    except asyncpg.UniqueViolationError:
        existing = await db.booking_for_quote(pool, quote["id"])
        raise _already_booked(existing or "") from None
    BOOKINGS_REQUESTED.labels(granted.basis).inc()
    log.info(
        "booking requested",
        extra={"booking_id": booking_id, "basis": granted.basis, "card_deferred": card is None},
    )
    return Answer(202, body, headers)


def _already_booked(booking_id: str) -> Conflict:
    return Conflict(
        "quote-already-booked",
        f"this quote is already booked as {booking_id}",
        "quote_id",
        booking_id=booking_id,
        booking=f"{BOOKINGS_PATH}/{booking_id}",
    )


def _refused(refusal: consent.Refusal) -> ConsentRefused:
    reasons = refusal.decision.reasons
    if refusal.needs_confirmation:
        detail = "this booking needs your explicit confirmation (confirm: true)"
        errors = [
            FieldError("confirm", r.message)
            for r in reasons
            if r.code != "booking_type_not_allowed"
        ]
    else:
        detail = "your booking preferences do not allow this booking"
        errors = [
            FieldError("quote_id", r.message)
            for r in reasons
            if r.code == "booking_type_not_allowed"
        ]
    return ConsentRefused(detail, errors, reasons=[r.model_dump() for r in reasons])


def _links(booking_id: str) -> dict[str, str]:
    base = f"{BOOKINGS_PATH}/{booking_id}"
    return {
        "self": base,
        "events": f"{base}/events",
        "calendar": f"{base}/calendar.ics",
        "cancel_quote": f"{base}/cancel-quote",
        "cancel": f"{base}/cancel",
    }


# --- status ---------------------------------------------------------------------------------


async def _mine(deps: Deps, user: User, booking_id: str) -> asyncpg.Record:
    row = await db.get_booking(deps.db(), booking_id, user.id)
    if row is None:
        raise NotFound("booking", "booking_id")
    return row


def _money(minor: int | None, currency: str) -> dict[str, Any] | None:
    return None if minor is None else {"amount_minor": minor, "currency": currency}


def _m(value: Any) -> dict[str, Any] | None:
    """A Money-shaped value from another service, or None."""
    if isinstance(value, dict) and "amount_minor" in value and "currency" in value:
        return {"amount_minor": value["amount_minor"], "currency": value["currency"]}
    return None


def summary_view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "booking_id": row["id"],
        "state": row["state"],
        "mode": row["mode"],
        "quote_id": row["quote_id"],
        "total": _money(row["total_minor"], row["currency"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "links": _links(row["id"]),
    }


def booking_view(row: asyncpg.Record, saga: dict[str, Any] | None, source: str) -> dict[str, Any]:
    """The gateway's projection, completed by the orchestrator's saga when it answered."""
    cur = row["currency"]
    confirmed = {c["item_id"]: c for c in db.loads(row["confirmed_items"])}
    failed = {f.get("item_id"): f for f in db.loads(row["failure_reasons"])}
    refunds = {r["item_id"]: r for r in db.loads(row["refunds"])}
    saga_items = {i.get("item_id"): i for i in (saga or {}).get("items", []) if isinstance(i, dict)}
    items = []
    for it in db.loads(row["items"]):
        iid = it["item_id"]
        s = saga_items.get(iid, {})
        status = s.get("status")
        if status is None:
            if iid in refunds:
                status = "NOT_CANCELLABLE" if _not_cancellable(refunds[iid]) else "CANCELLED"
            elif iid in confirmed:
                status = "CONFIRMED"
            elif iid in failed:
                status = "FAILED"
            else:
                status = "PENDING"
        items.append(
            {
                **it,
                "status": status,
                "confirmation_code": s.get("confirmation_code")
                or confirmed.get(iid, {}).get("confirmation_code"),
                "hold_expires_at": s.get("hold_expires_at"),
                "refund": _m(s.get("refund")) or _m(refunds.get(iid, {}).get("refunded")),
                "failure": failed.get(iid),
                "cancellation": _item_cancellation(status, s, refunds.get(iid))
                if row["cancellation_requested_at"] or iid in refunds
                else None,
            }
        )
    pay = (saga or {}).get("payment") or {}
    state = row["state"]
    return {
        **summary_view(row),
        "items": items,
        "payment": {
            "payment_method_id": row["payment_method_id"],
            "held": _m(pay.get("authorized")),
            "captured": _m(pay.get("captured")) or _money(row["amount_captured_minor"], cur),
            "refunded": _m(pay.get("refunded")) or _money(row["amount_refunded_minor"], cur),
            "capture_before": pay.get("capture_before"),
            "client_secret": pay.get("client_secret") if state == "ACTION_REQUIRED" else None,
        },
        "failure_reasons": [f for f in failed.values()],
        "cancellation": {
            "requested_at": row["cancellation_requested_at"],
            "reason": row["cancellation_reason"],
            "refunds": [r for r in refunds.values() if not _not_cancellable(r)],
            "partial": any(_not_cancellable(r) for r in refunds.values())
            or any(i["status"] == "NOT_CANCELLABLE" for i in items),
        }
        if row["cancellation_requested_at"] or refunds
        else None,
        "saga": {
            "source": source,
            "state": (saga or {}).get("state"),
            "paused": (saga or {}).get("paused"),
        },
    }


def _not_cancellable(outcome: dict[str, Any]) -> bool:
    return outcome.get("outcome") == "not_cancellable"


def _item_cancellation(
    status: str, saga_item: dict[str, Any], outcome: dict[str, Any] | None
) -> dict[str, Any] | None:
    """What the cancellation did to one item: cancelled (refund, fee) or not_cancellable (why),
    from the saga when it answered, else from BookingCancelled."""
    if status == "CANCELLED" and (saga_item.get("refund") or outcome):
        return {
            "outcome": "cancelled",
            "refund": _m(saga_item.get("refund")) or _m((outcome or {}).get("refunded")),
            "fee": _m(saga_item.get("fee")) or _m((outcome or {}).get("fee")),
            "reason_code": None,
            "detail": "",
        }
    if status == "NOT_CANCELLABLE":
        failure = saga_item.get("failure") or {}
        return {
            "outcome": "not_cancellable",
            "refund": None,
            "fee": None,
            "reason_code": failure.get("code")
            or (outcome or {}).get("reason_code")
            or "not_cancellable",
            "detail": failure.get("detail") or (outcome or {}).get("detail") or "",
        }
    return None


async def get_booking(deps: Deps, user: User, booking_id: str) -> dict[str, Any]:
    row = await _mine(deps, user, booking_id)
    saga, source = await _saga(deps, booking_id)
    return booking_view(row, saga, source)


async def _saga(deps: Deps, booking_id: str) -> tuple[dict[str, Any] | None, str]:
    try:
        saga = await deps.orchestrator.get_saga(
            booking_id, timeout_s=deps.settings.status_timeout_s
        )
    except (UpstreamUnavailable, UpstreamRejected):
        return None, "unavailable"
    # The booking views below are JSON built from the saga's JSON (the contract checked it).
    return (saga.model_dump(mode="json"), "orchestrator") if saga else (None, "not_found")


async def list_bookings(
    deps: Deps, user: User, limit: int, cursor: str | None, state: str | None
) -> dict[str, Any]:
    """Newest first. The cursor is the id of the last booking of the previous page: any
    well-formed id is a cursor, and one that is not among the user's bookings is 404, as ids are."""
    after = None
    if cursor:
        after = await db.booking_position(deps.db(), cursor, user.id)
        if after is None:
            raise NotFound("booking", "cursor")
    rows = await db.list_bookings(deps.db(), user.id, limit + 1, after, state)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [summary_view(r) for r in rows],
        "next_cursor": rows[-1]["id"] if more and rows else None,
    }


# --- the SSE stream ---------------------------------------------------------------------------


async def follow_booking(
    deps: Deps, user: User, booking_id: str, after_id: int = 0
) -> AsyncIterator[dict[str, Any]]:
    """Every state change of the booking (the timeline), from after_id, until a final state.
    Raises NotFound before the first event when the booking is not the user's."""
    await _mine(deps, user, booking_id)
    return _follow(deps, booking_id, after_id)


async def _follow(deps: Deps, booking_id: str, after_id: int) -> AsyncIterator[dict[str, Any]]:
    pool = deps.db()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deps.settings.sse_max_s
    last = after_id
    settled_since: float | None = None
    with deps.signals.subscribe(booking_id) as wake:
        while True:
            wake.clear()
            # State first, then rows: a final state's own row committed with it, so it is read too.
            state, has_outcome = await db.state_and_outcome(pool, booking_id, OUTCOME_EVENTS.get)
            rows = await db.timeline_after(pool, booking_id, last)
            has_outcome = has_outcome or any(r["type"] == OUTCOME_EVENTS.get(state) for r in rows)
            if states.is_final(state):
                settled_since = settled_since if settled_since is not None else loop.time()
            else:
                settled_since = None
            # A final saga state may come before the event with the codes or reasons (another
            # topic): wait a little for it, so that the stream ends with the whole story.
            done = settled_since is not None and (
                has_outcome or loop.time() - settled_since >= deps.settings.sse_outcome_grace_s
            )
            for i, r in enumerate(rows):
                last = r["id"]
                yield await _event(deps, r, final=done and i == len(rows) - 1)
            if done and not rows:
                yield {
                    "id": None,
                    "event": "end",
                    "data": {"booking_id": booking_id, "state": state, "final": True},
                }
            if done or loop.time() > deadline:
                return
            try:
                await asyncio.wait_for(wake.wait(), deps.settings.sse_poll_interval_s)
            except TimeoutError:
                pass


async def _event(deps: Deps, r: asyncpg.Record, final: bool) -> dict[str, Any]:
    data = {
        "booking_id": r["booking_id"],
        "state": r["state"],
        "type": r["type"],
        "at": r["occurred_at"].isoformat(),
        "details": db.loads(r["data"]),
        "final": final,
    }
    if r["state"] == "ACTION_REQUIRED":
        data["client_secret"] = await client_secret(deps, r["booking_id"])
    return {"id": r["id"], "event": "state", "data": data}


async def client_secret(deps: Deps, booking_id: str) -> str | None:
    """The PaymentIntent's client_secret for 3-D Secure: the orchestrator's, else the payment service's."""
    saga, _ = await _saga(deps, booking_id)
    secret = ((saga or {}).get("payment") or {}).get("client_secret")
    if secret:
        return secret
    try:
        payment = await deps.payment.get_payment(booking_id)
    except (UpstreamUnavailable, UpstreamRejected):
        return None
    return payment.client_secret if payment is not None else None


# --- calendar --------------------------------------------------------------------------------


async def booking_calendar(deps: Deps, user: User, booking_id: str) -> str:
    row = await _mine(deps, user, booking_id)
    if row["state"] != states.CONFIRMED:
        raise Conflict(
            "booking-not-confirmed", f"the booking is {row['state']}, not CONFIRMED", "booking_id"
        )
    confirmed = {c["item_id"]: c for c in db.loads(row["confirmed_items"])}
    failed = {f.get("item_id") for f in db.loads(row["failure_reasons"])}
    if not confirmed:
        saga, _ = await _saga(deps, booking_id)
        for it in (saga or {}).get("items", []):
            if isinstance(it, dict) and it.get("status") == "CONFIRMED":
                confirmed[it["item_id"]] = {"confirmation_code": it.get("confirmation_code")}
    items = []
    for it in db.loads(row["items"]):
        iid = it["item_id"]
        if (confirmed and iid not in confirmed) or iid in failed:
            continue
        items.append(
            calendar.CalendarItem(
                item_id=iid,
                title=it["title"],
                start=datetime.fromisoformat(it["start_time"]),
                minutes=deps.settings.calendar_default_minutes.get(it["booking_type"], 120),
                confirmation_code=confirmed.get(iid, {}).get("confirmation_code"),
                provider=it["provider"],
            )
        )
    stamp = row["confirmed_at"] or row["created_at"]
    return calendar.render(booking_id, items, stamp, deps.settings.calendar_domain)


# --- cancellation ----------------------------------------------------------------------------


def _bookable_items(row: asyncpg.Record) -> list[dict[str, Any]]:
    failed = {f.get("item_id") for f in db.loads(row["failure_reasons"])}
    return [it for it in db.loads(row["items"]) if it["item_id"] not in failed]


async def cancel_quote(deps: Deps, user: User, booking_id: str) -> dict[str, Any]:
    row = await _mine(deps, user, booking_id)
    if row["state"] != states.CONFIRMED:
        raise Conflict(
            "booking-not-confirmed", f"the booking is {row['state']}, not CONFIRMED", "booking_id"
        )
    items = _bookable_items(row)

    async def one(it: dict[str, Any]) -> dict[str, Any]:
        provider = deps.providers.get(it["provider"])
        if provider is None:
            raise UpstreamUnavailable(it["provider"])
        return (await provider.cancel_quote(booking_id, it["item_id"])).model_dump(mode="json")

    answers = await asyncio.gather(*(one(it) for it in items), return_exceptions=True)
    out, missing = [], set()
    refund = Money.zero(row["currency"])
    fee = Money.zero(row["currency"])
    for it, ans in zip(items, answers, strict=True):
        if isinstance(ans, BaseException):
            if not isinstance(ans, UpstreamUnavailable | UpstreamRejected):
                log.warning("cancel quote failed", extra={"error": repr(ans)})
            missing.add(it["provider"])
            out.append({"item_id": it["item_id"], "title": it["title"], "available": False})
            continue
        r, f = _m(ans.get("refund")), _m(ans.get("fee"))
        if r and r["currency"] == refund.currency:
            refund = refund + Money.model_validate(r)
        if f and f["currency"] == fee.currency:
            fee = fee + Money.model_validate(f)
        out.append(
            {
                "item_id": it["item_id"],
                "title": it["title"],
                "available": True,
                "cancellable": ans.get("cancellable", True),
                "refund": r,
                "fee": f,
                "policy": ans.get("policy"),
            }
        )
    return {
        "booking_id": booking_id,
        "items": out,
        "total_refund": refund.model_dump(),
        "total_fee": fee.model_dump(),
        "missing_providers": sorted(missing),
    }


async def request_cancellation(deps: Deps, user: User, booking_id: str, reason: str) -> Answer:
    """CONFIRMED -> BookingCancellationRequested through the outbox (once); 409 otherwise."""
    async with deps.db().acquire() as conn, conn.transaction():
        row = await db.get_booking(conn, booking_id, user.id, for_update=True)
        if row is None:
            raise NotFound("booking", "booking_id")
        body = {
            "booking_id": booking_id,
            "state": states.CANCELLATION_REQUESTED,
            "links": _links(booking_id),
        }
        headers = {"Location": f"{BOOKINGS_PATH}/{booking_id}"}
        if row["cancellation_requested_at"] is not None and row["state"] in (
            states.CANCELLATION_REQUESTED,
            "CANCELLING",
        ):
            # Asking again when nothing answered the first request (lost, dead-lettered): send it
            # again, at most once per RECONCILE_AFTER_S. The saga ignores a second cancellation.
            await reconcile.resend_if_quiet(
                conn,
                booking_id,
                reconcile.CANCELLATION,
                deps.settings.reconcile_after_s,
                deps.settings.service_name,
                deps.settings.db_schema,
            )
            return Answer(202, {**body, "state": row["state"]}, headers, replayed=True)
        if row["state"] != states.CONFIRMED:
            raise Conflict(
                "booking-not-confirmed",
                f"only a CONFIRMED booking can be cancelled; this one is {row['state']}",
                "booking_id",
            )
        now = deps.clock()
        saga_state, outcome = row["saga_state"], states.CANCELLATION_REQUESTED
        await db.update_booking(
            conn,
            booking_id,
            {
                "outcome": outcome,
                "state": states.display(saga_state, outcome),
                "cancellation_requested_at": now,
                "cancellation_reason": reason or None,
            },
        )
        await db.add_timeline(
            conn,
            booking_id,
            "BookingCancellationRequested",
            states.CANCELLATION_REQUESTED,
            {"reason": reason},
            now,
            schema=deps.settings.db_schema,
        )
        cancellation = BookingCancellationRequested(
            booking_id=booking_id, requested_by=user.id, reason=reason
        )
        env = await outbox.enqueue(
            conn,
            BOOKING_EVENTS,
            cancellation,
            producer=deps.settings.service_name,
            schema=deps.settings.db_schema,
        )
        await reconcile.remember(conn, BOOKING_EVENTS, cancellation, env)
    return Answer(202, body, headers)
