"""The payment use cases: AuthorizePayment, CapturePayment, VoidPayment, RefundPayment, and the
Stripe webhook events that move a payment on.

Every command follows one shape, so that each has one Stripe effect however often it arrives:
1. lock the booking (a resend waits for the first delivery to finish), then look the command up:
   answered before -> publish the stored reply again, no Stripe call;
2. refusals that need no Stripe call (over-capture, over-refund, nothing held) are answered at once;
3. otherwise record the attempt in its own committed transaction, then call Stripe;
   if an earlier attempt was recorded but never answered (the process died after Stripe
   acted, before our commit), reconcile with Stripe's state first instead of calling again;
4. store the new payment state, the reply (commands) and the reply message (outbox) in the
   handler's transaction.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg

from booking_shared import killpoint, outbox, tracing
from booking_shared.contracts import (
    AuthorizePayment,
    CapturePayment,
    Command,
    Envelope,
    PaymentActionRequired,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PaymentFailed,
    PaymentRefunded,
    PaymentVoided,
    RefundPayment,
    Reply,
    VoidPayment,
)
from booking_shared.contracts.envelope import new_traceparent
from booking_shared.db import Connection
from booking_shared.logs import booking_id_var
from booking_shared.messaging import Handling
from booking_shared.money import Money
from payment.adapters import repository as repo
from payment.config import Settings
from payment.domain.gateway import (
    COMMAND_ID_KEY,
    ActionRequired,
    Authorized,
    Captured,
    Declined,
    IntentSnapshot,
    PaymentGateway,
    PaymentGatewayError,
    PaymentRefused,
    Refunded,
    StripeRequestFailed,
    Voided,
    WebhookEvent,
)
from payment.domain.payment import (
    Payment,
    Status,
    capture_refusal,
    hold_expiry,
    is_forward,
    refund_refusal,
    refunded_of_charge,
    status_of_intent,
)

log = logging.getLogger(__name__)

# Intent states in which money is (or may soon be) held, so a stray intent must be canceled.
# A chaos run's kill point (booking_shared.killpoint): the process dies after Stripe acted and
# before the transaction that records it commits; the command's redelivery reconciles.
AFTER_STRIPE_CALL = "payment.after_stripe_call"
_HOLDING = frozenset({"requires_capture", "requires_action", "requires_confirmation"})


@dataclass
class Deps:
    """What the use cases need, built once in bootstrap."""

    gateway: PaymentGateway
    pool: asyncpg.Pool
    settings: Settings
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # A command's attempt is committed before its Stripe call, on a connection of its own,
    # while the handler's transaction holds one from `pool`. From a pool apart, so that
    # commands handled at once (booking_shared.lanes) never wait on each other's connections:
    # with one pool, as many handlers as the pool has connections would each hold one and wait
    # for a second, for ever.
    attempts: asyncpg.Pool | None = None

    @property
    def attempt_pool(self) -> asyncpg.Pool:
        return self.attempts or self.pool

    @property
    def replies(self) -> str:
        return self.settings.replies_topic


@dataclass(frozen=True)
class Refusal:
    """Stripe (or our own check) said this cannot be done: becomes a PaymentFailed reply."""

    code: str
    message: str = ""


_ANSWERED = object()


# --- the shared shape ----------------------------------------------------------------------


async def _begin(h: Handling, deps: Deps) -> Any:
    """Lock the booking and look the command up: _ANSWERED (its stored reply was published
    again), None (new), or the 'started' row of an attempt that never finished."""
    cmd = h.message_as(Command)
    await repo.lock_booking(h.conn, cmd.booking_id)
    row = await repo.get_command(h.conn, cmd.command_id)
    if row is not None and row["status"] == "done":
        reply = repo.stored_reply(row)
        log.info(
            "command answered before; publishing the same reply again",
            extra={"command_id": str(row["command_id"]), "reply": row["reply_type"]},
        )
        await h.publish(deps.replies, reply)
        return _ANSWERED
    if row is not None:
        log.warning(
            "an earlier attempt of this command never finished; reconciling with Stripe",
            extra={
                "command_id": str(row["command_id"]),
                "kind": row["kind"],
                "attempts": row["attempts"],
            },
        )
        await repo.bump_attempt(deps.attempt_pool, row["command_id"])
    return row


async def _attempt(
    h: Handling, deps: Deps, kind: str, request: dict[str, Any], intent_id: str | None = None
) -> None:
    cmd = h.message_as(Command)
    await repo.record_attempt(
        deps.attempt_pool,
        command_id=cmd.command_id,
        booking_id=cmd.booking_id,
        kind=kind,
        request=request,
        envelope=h.envelope,
        payment_intent_id=intent_id,
    )


async def _answer(
    h: Handling, deps: Deps, kind: str, request: dict[str, Any], reply: Reply, intent_id: str | None
) -> None:
    await repo.finish_command(
        h.conn,
        command_id=reply.command_id,
        booking_id=reply.booking_id,
        kind=kind,
        request=request,
        envelope=h.envelope,
        reply=reply,
        payment_intent_id=intent_id,
    )
    await h.publish(deps.replies, reply)
    log.info("payment command answered", extra={"kind": kind, "reply": reply.type_name()})


async def _store(
    conn: Connection,
    before: Payment | None,
    after: Payment,
    cause: str,
    detail: str | None = None,
) -> None:
    await repo.save_payment(conn, after)
    if (
        before is None
        or before.status != after.status
        or before.payment_intent_id != after.payment_intent_id
    ):
        await repo.add_history(conn, before, after, cause, detail)


def _is_outage(exc: StripeRequestFailed) -> bool:
    # A bad or revoked key is an outage of ours, not the customer's answer: retry, then DLQ.
    return exc.http_status in (None, 401, 403)


def _refusal(exc: PaymentGatewayError) -> Refusal:
    if isinstance(exc, StripeRequestFailed):
        return Refusal(exc.stripe_code or "stripe_request_failed", exc.message)
    return Refusal(exc.code, exc.message)


def _money(amount: int, currency: str) -> Money:
    return Money(amount_minor=amount, currency=currency)


# --- AuthorizePayment ----------------------------------------------------------------------


async def authorize_payment(h: Handling, deps: Deps) -> None:
    """Hold the exact total on the saved card (manual capture, off-session)."""
    cmd = h.message_as(AuthorizePayment)
    started = await _begin(h, deps)
    if started is _ANSWERED:
        return
    request = {
        "customer_id": cmd.customer_id,
        "payment_method_id": cmd.payment_method_id,
        "amount": cmd.amount.model_dump(),
    }
    current = await repo.get_payment(h.conn, cmd.booking_id)
    authorized_at = deps.now()
    if started is None:
        early = _authorize_without_stripe(cmd, current)
        if early is not None:
            await _answer(
                h, deps, "authorize", request, early, current.payment_intent_id if current else None
            )
            return
        await _attempt(h, deps, "authorize", request)
        if (
            current is not None
            and current.status == Status.REQUIRES_ACTION
            and current.payment_intent_id
        ):
            # The person never finished 3-D Secure and the saga asks again: one live intent only.
            await _release(
                deps,
                current.payment_intent_id,
                f"{cmd.command_id}:replace:{current.payment_intent_id}",
            )
        result = await _stripe_authorize(deps, cmd)
    else:
        result, authorized_at = await _reconcile_authorize(deps, cmd, authorized_at)

    payment, reply = _authorization(cmd, result, authorized_at, deps.settings)
    await _store(h.conn, current, payment, f"command:authorize:{cmd.command_id}")
    await _answer(h, deps, "authorize", request, reply, payment.payment_intent_id)


def _authorize_without_stripe(cmd: AuthorizePayment, current: Payment | None) -> Reply | None:
    """A new authorize for a booking that already holds or took money gets no second hold."""
    if cmd.amount.amount_minor <= 0:
        return PaymentFailed(
            booking_id=cmd.booking_id,
            command_id=cmd.command_id,
            operation="authorize",
            code="invalid_amount",
            message="the amount must be positive",
        )
    if current is None or current.authorize_command_id == cmd.command_id:
        return None
    if current.status == Status.AUTHORIZED:
        same = (
            current.amount_authorized == cmd.amount.amount_minor
            and current.currency == cmd.amount.currency
            and current.payment_method_id == cmd.payment_method_id
        )
        if same and current.payment_intent_id and current.capture_before:
            return PaymentAuthorized(
                booking_id=cmd.booking_id,
                command_id=cmd.command_id,
                payment_intent_id=current.payment_intent_id,
                amount_capturable=_money(current.amount_authorized, current.currency),
                capture_before=current.capture_before,
            )
        return PaymentFailed(
            booking_id=cmd.booking_id,
            command_id=cmd.command_id,
            operation="authorize",
            code="already_authorized",
            message=f"the booking already holds {current.amount_authorized} {current.currency}; void it first",
        )
    if current.status in (Status.CAPTURED, Status.REFUNDED):
        return PaymentFailed(
            booking_id=cmd.booking_id,
            command_id=cmd.command_id,
            operation="authorize",
            code="already_captured",
            message="the booking's payment was already captured",
        )
    return None


async def _stripe_authorize(
    deps: Deps, cmd: AuthorizePayment
) -> Authorized | Declined | ActionRequired | Refusal:
    try:
        result = await deps.gateway.authorize(
            cmd.customer_id,
            cmd.payment_method_id,
            cmd.amount.amount_minor,
            cmd.amount.currency,
            str(cmd.command_id),
            {COMMAND_ID_KEY: str(cmd.command_id), "booking_id": cmd.booking_id},
        )
        killpoint.reached(AFTER_STRIPE_CALL)  # Stripe acted; nothing of it is committed yet
        return result
    except StripeRequestFailed as exc:
        if _is_outage(exc):
            raise
        log.error("Stripe refused the authorization request", extra={"error": exc.message})
        return _refusal(exc)
    except PaymentRefused as exc:
        return _refusal(exc)


async def _reconcile_authorize(
    deps: Deps, cmd: AuthorizePayment, now: datetime
) -> tuple[Authorized | Declined | ActionRequired | Refusal, datetime]:
    """An earlier attempt may have created an intent before the process died: find it by the
    command id in its metadata instead of creating a second one."""
    found = list(await deps.gateway.list_intents_by_command(cmd.customer_id, str(cmd.command_id)))
    if not found:
        log.info("the earlier attempt never reached Stripe; authorizing now")
        return await _stripe_authorize(deps, cmd), now
    best, extras = found[0], found[1:]
    for extra in extras:  # possible only where idempotency keys are ignored (localstripe)
        if extra.status in _HOLDING:
            log.warning(
                "releasing a duplicate hold of one command", extra={"intent": extra.intent_id}
            )
            await _release(deps, extra.intent_id, f"{cmd.command_id}:duplicate:{extra.intent_id}")
    authorized_at = best.created_at or now
    outcome = best.authorization_outcome()
    if outcome is not None:
        log.info(
            "found the earlier attempt's intent",
            extra={"intent": best.intent_id, "status": best.status},
        )
        return outcome, authorized_at
    if best.status == "canceled":
        code = (
            "authorization_expired"
            if best.cancellation_reason == "automatic"
            else "intent_canceled"
        )
        return Refusal(code, f"{best.intent_id} was canceled"), authorized_at
    if best.status == "succeeded":
        return Refusal("already_captured", f"{best.intent_id} was captured"), authorized_at
    # processing / requires_confirmation: Stripe has not decided yet; let the router try again.
    raise RuntimeError(f"{best.intent_id} is still {best.status}; reconcile again later")


async def _release(deps: Deps, intent_id: str, key: str) -> None:
    """Cancel a stray intent; the key names the intent, since Stripe refuses one key on two URLs."""
    try:
        await deps.gateway.cancel(intent_id, key)
    except PaymentRefused as exc:
        log.warning("could not release a hold", extra={"intent": intent_id, "code": exc.code})


def _authorization(
    cmd: AuthorizePayment,
    result: Authorized | Declined | ActionRequired | Refusal,
    at: datetime,
    settings: Settings,
) -> tuple[Payment, Reply]:
    base = Payment(
        booking_id=cmd.booking_id,
        customer_id=cmd.customer_id,
        payment_method_id=cmd.payment_method_id,
        authorize_command_id=cmd.command_id,
        currency=cmd.amount.currency,
        amount_requested=cmd.amount.amount_minor,
        status=Status.FAILED,
    )
    ids: dict[str, Any] = {"booking_id": cmd.booking_id, "command_id": cmd.command_id}
    if isinstance(result, Authorized):
        capture_before, source = hold_expiry(
            result.capture_before, at, settings.authorization_window
        )
        payment = base.moved(
            Status.AUTHORIZED,
            payment_intent_id=result.intent_id,
            amount_authorized=result.amount_capturable,
            capture_before=capture_before,
            capture_before_source=source,
        )
        return payment, PaymentAuthorized(
            **ids,
            payment_intent_id=result.intent_id,
            amount_capturable=_money(result.amount_capturable, cmd.amount.currency),
            capture_before=capture_before,
        )
    if isinstance(result, ActionRequired):
        payment = base.moved(
            Status.REQUIRES_ACTION,
            payment_intent_id=result.intent_id,
            client_secret=result.client_secret,
        )
        return payment, PaymentActionRequired(
            **ids, payment_intent_id=result.intent_id, client_secret=result.client_secret
        )
    if isinstance(result, Declined):
        payment = base.moved(
            Status.DECLINED, payment_intent_id=result.intent_id, decline_code=result.decline_code
        )
        return payment, PaymentDeclined(
            **ids, decline_code=result.decline_code, message=result.message[:500]
        )
    payment = base.moved(Status.FAILED, failure_code=result.code)
    return payment, PaymentFailed(
        **ids, operation="authorize", code=result.code, message=result.message[:500]
    )


# --- CapturePayment ------------------------------------------------------------------------


async def capture_payment(h: Handling, deps: Deps) -> None:
    """Take all or part of the held money; never more than was authorized."""
    cmd = h.message_as(CapturePayment)
    started = await _begin(h, deps)
    if started is _ANSWERED:
        return
    request = {"amount": cmd.amount.model_dump() if cmd.amount else None}
    current = await repo.get_payment(h.conn, cmd.booking_id)
    amount = cmd.amount.amount_minor if cmd.amount else None
    intent_id = current.payment_intent_id if current else None
    ids: dict[str, Any] = {"booking_id": cmd.booking_id, "command_id": cmd.command_id}

    refused = capture_refusal(current, amount, cmd.amount.currency if cmd.amount else None)
    reply: Reply
    if refused is not None:
        reply = PaymentFailed(
            **ids,
            operation="capture",
            code=refused,
            message=_capture_message(refused, current, amount),
        )
        await _answer(h, deps, "capture", request, reply, intent_id)
        return
    assert current is not None and intent_id is not None
    if current.status in (Status.CAPTURED, Status.REFUNDED):
        # Captured before (another command id): the answer is what was taken, not a second capture.
        reply = PaymentCaptured(
            **ids, amount_captured=_money(current.amount_captured, current.currency)
        )
        await _answer(h, deps, "capture", request, reply, intent_id)
        return

    outcome: Captured | Refusal | None = None
    if started is None:
        await _attempt(h, deps, "capture", request, intent_id)
    else:
        snap = await deps.gateway.get_intent(intent_id)
        if snap.status == "succeeded":
            outcome = Captured(
                intent_id=intent_id, amount_captured=snap.amount_received, currency=snap.currency
            )
    if outcome is None:
        outcome = await _stripe_call(deps.gateway.capture(intent_id, amount, str(cmd.command_id)))

    after: Payment | None
    if isinstance(outcome, Captured):
        after = current.moved(Status.CAPTURED, amount_captured=outcome.amount_captured)
        await _store(h.conn, current, after, f"command:capture:{cmd.command_id}")
        reply = PaymentCaptured(
            **ids, amount_captured=_money(outcome.amount_captured, current.currency)
        )
    else:
        after = _after_refusal(current, outcome.code)
        if after is not None:
            await _store(h.conn, current, after, f"command:capture:{cmd.command_id}", outcome.code)
        reply = PaymentFailed(
            **ids, operation="capture", code=outcome.code, message=outcome.message[:500]
        )
    await _answer(h, deps, "capture", request, reply, intent_id)


def _capture_message(code: str, payment: Payment | None, amount: int | None) -> str:
    if code == "capture_exceeds_authorized" and payment is not None:
        return f"capture of {amount} refused: only {payment.amount_authorized} is authorized"
    return {
        "not_authorized": "nothing is authorized for this booking",
        "authorization_expired": "the authorization lapsed",
        "intent_canceled": "the hold was released",
        "currency_mismatch": "the currency differs from the authorization's",
        "invalid_amount": "the amount must be positive",
    }.get(code, code)


def _after_refusal(payment: Payment, code: str) -> Payment | None:
    """What a refusal from Stripe tells us about the payment's real state."""
    if code == "authorization_expired" and is_forward(payment.status, Status.EXPIRED):
        return payment.moved(Status.EXPIRED, failure_code=code)
    if code == "intent_canceled" and is_forward(payment.status, Status.VOIDED):
        return payment.moved(Status.VOIDED, failure_code=code)
    return None


async def _stripe_call(call: Any) -> Any:
    """Await a gateway call; refusals come back as `Refusal`, outages propagate."""
    try:
        result = await call
        killpoint.reached(AFTER_STRIPE_CALL)  # Stripe acted; nothing of it is committed yet
        return result
    except StripeRequestFailed as exc:
        if _is_outage(exc):
            raise
        log.error("Stripe refused the request", extra={"error": exc.message})
        return _refusal(exc)
    except PaymentRefused as exc:
        return _refusal(exc)


# --- VoidPayment ---------------------------------------------------------------------------


async def void_payment(h: Handling, deps: Deps) -> None:
    """Release the hold. Voiding what is already released, or was never held, is PaymentVoided."""
    cmd = h.message_as(VoidPayment)
    started = await _begin(h, deps)
    if started is _ANSWERED:
        return
    request: dict[str, Any] = {}
    ids: dict[str, Any] = {"booking_id": cmd.booking_id, "command_id": cmd.command_id}
    current = await repo.get_payment(h.conn, cmd.booking_id)
    intent_id = current.payment_intent_id if current else None
    unfinished = await repo.unfinished_authorizations(h.conn, cmd.booking_id)
    holds = bool(
        current and intent_id and current.status in (Status.AUTHORIZED, Status.REQUIRES_ACTION)
    )
    if current is not None and current.status in (Status.CAPTURED, Status.REFUNDED):
        reply: Reply = PaymentFailed(
            **ids,
            operation="void",
            code="already_captured",
            message="the payment was captured; refund it instead",
        )
        await _answer(h, deps, "void", request, reply, intent_id)
        return
    if (holds or unfinished) and started is None:
        await _attempt(h, deps, "void", request, intent_id)

    # An authorize whose process died before answering may have left a hold that no row shows
    # yet: release it, and answer that command, so that its redelivery places no hold after this.
    for row in unfinished:
        await _release_unfinished_authorization(h, deps, row, cmd.command_id)

    if not holds:
        await _answer(h, deps, "void", request, PaymentVoided(**ids), intent_id)
        return
    assert current is not None and intent_id is not None
    outcome: Voided | Refusal | None = None
    if started is not None:
        snap = await deps.gateway.get_intent(intent_id)
        if snap.status == "canceled":
            outcome = Voided(intent_id=intent_id)
    if outcome is None:
        outcome = await _stripe_call(deps.gateway.cancel(intent_id, str(cmd.command_id)))
    if isinstance(outcome, Voided):
        after = current.moved(Status.VOIDED)
        await _store(h.conn, current, after, f"command:void:{cmd.command_id}")
        reply = PaymentVoided(**ids)
    else:
        reply = PaymentFailed(
            **ids, operation="void", code=outcome.code, message=outcome.message[:500]
        )
    await _answer(h, deps, "void", request, reply, intent_id)


async def _release_unfinished_authorization(
    h: Handling, deps: Deps, row: asyncpg.Record, void_id: uuid.UUID
) -> None:
    request = (
        json.loads(row["request"]) if isinstance(row["request"], str) else dict(row["request"])
    )
    command_id = str(row["command_id"])
    for snap in await deps.gateway.list_intents_by_command(request["customer_id"], command_id):
        if snap.status in _HOLDING:
            log.warning(
                "releasing the hold of an authorize that never finished",
                extra={"intent": snap.intent_id},
            )
            await _release(deps, snap.intent_id, f"{void_id}:release:{snap.intent_id}")
    reply = PaymentFailed(
        booking_id=row["booking_id"],
        command_id=row["command_id"],
        operation="authorize",
        code="voided",
        message="the payment was voided before this authorization finished",
    )
    await repo.finish_command(
        h.conn,
        command_id=row["command_id"],
        booking_id=row["booking_id"],
        kind="authorize",
        request=request,
        envelope=h.envelope,
        reply=reply,
        payment_intent_id=None,
    )


# --- RefundPayment -------------------------------------------------------------------------


async def refund_payment(h: Handling, deps: Deps) -> None:
    """Give back part of what was captured; refunds never add up to more than that."""
    cmd = h.message_as(RefundPayment)
    started = await _begin(h, deps)
    if started is _ANSWERED:
        return
    request = {"amount": cmd.amount.model_dump(), "reason": cmd.reason}
    ids: dict[str, Any] = {"booking_id": cmd.booking_id, "command_id": cmd.command_id}
    current = await repo.get_payment(h.conn, cmd.booking_id)
    intent_id = current.payment_intent_id if current else None
    refused = refund_refusal(current, cmd.amount.amount_minor, cmd.amount.currency)
    if refused is not None:
        message = (
            f"refund of {cmd.amount.amount_minor} refused: {current.refundable} is left to refund"
            if refused == "refund_exceeds_captured" and current
            else refused.replace("_", " ")
        )
        await _answer(
            h,
            deps,
            "refund",
            request,
            PaymentFailed(**ids, operation="refund", code=refused, message=message),
            intent_id,
        )
        return
    assert current is not None and intent_id is not None
    if started is None:
        await _attempt(h, deps, "refund", request, intent_id)
    # A repeated call with the same key is the reconciliation: the gateway finds the refund an
    # earlier attempt made (Stripe's idempotency, and our own mark on the refund's metadata).
    outcome = await _stripe_call(
        deps.gateway.refund(intent_id, cmd.amount.amount_minor, str(cmd.command_id))
    )
    if isinstance(outcome, Refunded):
        after = current.with_refunds(outcome.total_refunded)
        await _store(h.conn, current, after, f"command:refund:{cmd.command_id}")
        reply: Reply = PaymentRefunded(
            **ids,
            amount_refunded=_money(outcome.amount, current.currency),
            total_refunded=_money(outcome.total_refunded, current.currency),
            refund_id=outcome.refund_id,
        )
    else:
        reply = PaymentFailed(
            **ids, operation="refund", code=outcome.code, message=outcome.message[:500]
        )
    await _answer(h, deps, "refund", request, reply, intent_id)


# --- Stripe webhooks -----------------------------------------------------------------------

HANDLED_EVENTS = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.amount_capturable_updated",
        "payment_intent.requires_action",
        "charge.refunded",
        "charge.dispute.created",
    }
)


async def handle_stripe_event(deps: Deps, event: WebhookEvent) -> str:
    """Apply one verified Stripe event, once (dedupe by event id, in the same transaction as its
    effect). Returns what happened: applied, duplicate, ignored, unknown_payment, stale, no_change."""
    obj = event.data_object
    created = datetime.fromtimestamp(event.created, UTC) if event.created else None
    async with deps.pool.acquire() as conn, conn.transaction():
        if not await repo.claim_event(conn, event.id, event.type, _id(obj.get("id")), created):
            log.info(
                "webhook event seen before; ignored",
                extra={"event_id": event.id, "type": event.type},
            )
            return "duplicate"
        booking_id, outcome = None, "ignored"
        if event.type in HANDLED_EVENTS:
            booking_id, outcome = await _apply_event(conn, deps, event)
        await repo.settle_event(conn, event.id, booking_id, outcome)
    log.info(
        "webhook event handled",
        extra={"event_id": event.id, "type": event.type, "outcome": outcome},
    )
    return outcome


def _id(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


async def _apply_event(conn: Connection, deps: Deps, event: WebhookEvent) -> tuple[str | None, str]:
    obj = event.data_object
    if event.type.startswith("payment_intent."):
        intent_id = _id(obj.get("id"))
        hint = (obj.get("metadata") or {}).get("booking_id")
    else:
        intent_id = _id(obj.get("payment_intent"))
        hint = None
    booking_id = (await repo.booking_of_intent(conn, intent_id) if intent_id else None) or hint
    payment = None
    if booking_id:
        booking_id_var.set(booking_id)
        await repo.lock_booking(conn, booking_id)
        payment = await repo.get_payment(conn, booking_id)
        if payment is not None and payment.payment_intent_id != intent_id:
            payment = None  # an older intent of this booking, replaced since
    cause = f"webhook:{event.type}:{event.id}"

    if event.type == "charge.dispute.created":
        return booking_id, await _record_dispute(conn, event, payment, booking_id, intent_id, cause)
    if payment is None:
        log.info(
            "webhook event for a payment we do not hold; ignored",
            extra={"event_id": event.id, "intent": intent_id},
        )
        return booking_id, "unknown_payment"
    if event.type == "charge.refunded":
        if payment.status not in (Status.CAPTURED, Status.REFUNDED):
            return booking_id, "stale"
        after = payment.with_refunds(refunded_of_charge(obj, payment.amount_captured))
        if after == payment:
            return booking_id, "no_change"
        await _store(conn, payment, after, cause)
        return booking_id, "applied"
    return booking_id, await _apply_intent_event(
        conn, deps, payment, deps.gateway.intent_from_object(obj), cause
    )


async def _apply_intent_event(
    conn: Connection, deps: Deps, payment: Payment, snap: IntentSnapshot, cause: str
) -> str:
    """Move the payment to what the intent says, forward only; answer a parked saga."""
    target = status_of_intent(snap.status, snap.cancellation_reason, bool(snap.last_error_code))
    if target is None or target == payment.status:
        return "no_change"
    if not is_forward(payment.status, target):
        log.info(
            "late or out-of-order webhook: the payment has moved on",
            extra={"status": payment.status.value, "event_says": target.value},
        )
        return "stale"
    was_waiting = payment.status == Status.REQUIRES_ACTION
    ids: dict[str, Any] = {
        "booking_id": payment.booking_id,
        "command_id": payment.authorize_command_id,
    }
    answer: Reply | None = None
    if target == Status.AUTHORIZED:
        capture_before = snap.capture_before
        if capture_before is None:
            capture_before = await _capture_before_from_stripe(deps, snap.intent_id)
        capture_before, source = hold_expiry(
            capture_before, deps.now(), deps.settings.authorization_window
        )
        amount = snap.amount_capturable or payment.amount_requested
        after = payment.moved(
            Status.AUTHORIZED,
            amount_authorized=amount,
            capture_before=capture_before,
            capture_before_source=source,
        )
        answer = PaymentAuthorized(
            **ids,
            payment_intent_id=snap.intent_id,
            amount_capturable=_money(amount, payment.currency),
            capture_before=capture_before,
        )
    elif target == Status.DECLINED:
        code = snap.last_decline_code or snap.last_error_code or "card_declined"
        after = payment.moved(Status.DECLINED, decline_code=code)
        answer = PaymentDeclined(
            **ids, decline_code=code, message=(snap.last_error_message or "")[:500]
        )
    elif target == Status.CAPTURED:
        captured = max(payment.amount_captured, snap.amount_received)
        after = payment.moved(
            Status.CAPTURED,
            amount_captured=captured,
            amount_authorized=payment.amount_authorized or snap.amount,
        )
        log.warning(
            "payment captured outside a CapturePayment command", extra={"intent": snap.intent_id}
        )
    elif target in (Status.VOIDED, Status.EXPIRED):
        after = payment.moved(target)
        code = "authorization_expired" if target == Status.EXPIRED else "intent_canceled"
        answer = PaymentFailed(
            **ids, operation="authorize", code=code, message=f"{snap.intent_id} was canceled"
        )
        if not was_waiting:
            # The saga already has PaymentAuthorized for this command; its capture will get
            # PaymentFailed(authorization_expired | intent_canceled) without calling Stripe.
            log.warning(
                "a hold was released outside the saga",
                extra={"intent": snap.intent_id, "status": target.value},
            )
    else:
        return "no_change"
    await _store(conn, payment, after, cause)
    if answer is not None and was_waiting:
        await _publish_late_answer(conn, deps, answer)
    return "applied"


async def check_waiting_payments(deps: Deps, limit: int = 100) -> int:
    """Ask Stripe about each payment parked for 3-D Secure and apply what its intent says,
    exactly as the webhook would have (the same forward-only move and late answer to the saga).
    A webhook can be late or lost, and the dev emulator never sends this one. Returns how many
    payments moved."""
    moved = 0
    for row in await repo.waiting_for_action(deps.pool, limit):
        try:
            snap = await deps.gateway.get_intent(row["payment_intent_id"])
        except PaymentGatewayError as exc:
            log.warning("could not read a waiting payment's intent", extra={"error": exc.message})
            continue
        async with deps.pool.acquire() as conn, conn.transaction():
            booking_id_var.set(row["booking_id"])
            await repo.lock_booking(conn, row["booking_id"])
            payment = await repo.get_payment(conn, row["booking_id"])
            if payment is None or payment.payment_intent_id != snap.intent_id:
                continue  # answered, or replaced, since the list was read
            outcome = await _apply_intent_event(conn, deps, payment, snap, f"poll:{snap.intent_id}")
        if outcome == "applied":
            log.info(
                "a payment waiting for 3-D Secure moved on (read from Stripe)",
                extra={"intent": snap.intent_id},
            )
            moved += 1
    return moved


async def _capture_before_from_stripe(deps: Deps, intent_id: str) -> datetime | None:
    # Webhook payloads carry latest_charge as an id; capture_before lives on the charge.
    try:
        return (await deps.gateway.get_intent(intent_id)).capture_before
    except PaymentGatewayError as exc:
        log.warning(
            "could not read capture_before from Stripe; using the fallback rule",
            extra={"error": exc.message},
        )
        return None


async def _publish_late_answer(conn: Connection, deps: Deps, reply: Reply) -> None:
    """Answer the authorize command the saga parked on (3-D Secure), in the same trace, and make
    it the command's stored reply so that a resend of that command gets this answer."""
    row = await repo.get_command(conn, reply.command_id)
    parent = row["traceparent"] if row is not None and row["message_id"] is not None else None
    # The answer continues the command's trace (the webhook's own request is another trace).
    with tracing.span("payment late answer", {"booking.id": reply.booking_id}, parent=parent):
        env = Envelope.new(
            reply.type_name(),
            correlation_id=reply.booking_id,
            producer=deps.settings.service_name,
            schema_version=reply.SCHEMA_VERSION,
        )
        if row is not None and row["message_id"] is not None:
            env = env.model_copy(
                update={
                    "causation_id": row["message_id"],
                    "traceparent": tracing.current_traceparent()
                    or new_traceparent(row["traceparent"]),
                }
            )
        await outbox.enqueue(
            conn,
            deps.replies,
            reply,
            producer=deps.settings.service_name,
            schema=deps.settings.db_schema,
            envelope=env,
        )
    if row is not None:
        await repo.update_reply(conn, reply.command_id, reply)
    log.info("answered a parked authorize from a webhook", extra={"reply": reply.type_name()})


async def _record_dispute(
    conn: Connection,
    event: WebhookEvent,
    payment: Payment | None,
    booking_id: str | None,
    intent_id: str | None,
    cause: str,
) -> str:
    obj = event.data_object
    await repo.record_dispute(
        conn,
        dispute_id=str(obj.get("id") or event.id),
        booking_id=booking_id if payment else None,
        payment_intent_id=intent_id,
        charge_id=_id(obj.get("charge")),
        amount_minor=int(obj["amount"]) if isinstance(obj.get("amount"), int) else None,
        currency=str(obj.get("currency") or "").upper() or None,
        reason=str(obj.get("reason") or "")[:100] or None,
        status=str(obj.get("status") or "")[:50] or None,
        event_id=event.id,
    )
    if payment is not None and not payment.disputed:
        await repo.save_payment(conn, replace(payment, disputed=True))
        await repo.add_history(
            conn, payment, payment, cause, f"dispute {obj.get('id')}: {obj.get('reason')}"
        )
    log.warning(
        "card payment disputed (chargeback): an operator must respond in Stripe",
        extra={"dispute": obj.get("id"), "intent": intent_id, "reason": obj.get("reason")},
    )
    return "dispute_recorded"


__all__ = [
    "Deps",
    "HANDLED_EVENTS",
    "authorize_payment",
    "capture_payment",
    "handle_stripe_event",
    "refund_payment",
    "void_payment",
]
