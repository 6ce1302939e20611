"""The booking saga, version 1, as a table that reads like the diagram.

    REQUESTED -> HOLDING -> AUTHORIZING (-> ACTION_REQUIRED) -> CONFIRMING -> CAPTURING -> CONFIRMED
                    any failure before capture -> COMPENSATING (reverse order) -> FAILED
                    a definite capture failure -> COMPENSATING; a silent capture is resent, never undone
    CONFIRMED -> CANCELLING -> CANCELLED (or PARTIALLY_CANCELLED: a partner refused an item)

Each forward step names, in one place: the state it runs in, which items take part, the
command it sends, how it reads each reply, what a timeout means, and its compensation.
Compensation runs the steps' compensations in reverse order (capture, confirm, authorize, hold).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from booking_shared.contracts import (
    AuthorizePayment,
    CapturePayment,
    Command,
    ConfirmItem,
    FailureReason,
    HoldItem,
    ItemCancelled,
    ItemConfirmed,
    ItemHeld,
    ItemRejected,
    Message,
    PaymentActionRequired,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PaymentFailed,
    PaymentRefunded,
    PaymentVoided,
)
from booking_shared.money import Money
from orchestrator.domain.engine import Run, in_currency, money_sum
from orchestrator.domain.model import (
    OPEN_STEP,
    Exposure,
    Item,
    ItemStatus,
    Phase,
    Saga,
    SagaState,
    Step,
    StepStatus,
)

ReplyHandler = Callable[[Run, Step, Message], None]
CommandBuilder = Callable[[Saga, Item | None, uuid.UUID], Command]


@dataclass(frozen=True)
class StepDef:
    kind: str
    state: SagaState | None  # the forward state the step runs in (None: an undo step)
    command: CommandBuilder | None
    replies: Mapping[type[Message], ReplyHandler]
    on_timeout: Callable[[Run, Step], None]
    compensate: Callable[[Run], None] = lambda run: None
    participants: Callable[[Saga], list[Item]] | None = None  # per-item steps: who takes part
    # After the pivot a silence is no answer: the command goes again (same id) on every
    # deadline and `on_timeout` only decides whether to call an operator; it never gives up.
    resend_forever: bool = False


@dataclass(frozen=True)
class Definition:
    version: int
    steps: tuple[StepDef, ...]  # forward, in order
    undo_steps: tuple[StepDef, ...] = field(default_factory=tuple)

    def step(self, kind: str) -> StepDef:
        for s in self.steps + self.undo_steps:
            if s.kind == kind:
                return s
        raise KeyError(kind)

    def enter(self, run: Run, kind: str, reason: str) -> None:
        """Move to a forward step's state and send its command(s), per item in parallel."""
        d = self.step(kind)
        assert d.state is not None and d.command is not None
        run.transition(d.state, reason)
        build = d.command
        if d.participants is None:
            run.send(kind, Phase.FORWARD, None, lambda cid: build(run.saga, None, cid))
            return
        for it in d.participants(run.saga):
            run.send(kind, Phase.FORWARD, it, lambda cid, it=it: build(run.saga, it, cid))
            it.status = ItemStatus.HOLDING if kind == "hold" else ItemStatus.CONFIRMING
            # Without a hold capability HoldItem only checks availability: nothing to release.
            it.exposure = Exposure.MAYBE if (kind != "hold" or it.hold_capable) else Exposure.NONE


# ---- who takes part, and what is owed ---------------------------------------------------------


def to_hold(saga: Saga) -> list[Item]:
    return [it for it in saga.items if it.status == ItemStatus.PENDING and not it.failure]


def kept(saga: Saga) -> list[Item]:
    """Items still in the booking after holding."""
    return [it for it in saga.items if it.status == ItemStatus.HELD and not it.failure]


def booked(saga: Saga) -> list[Item]:
    return [it for it in saga.items if it.status == ItemStatus.CONFIRMED]


def amount_to_authorize(saga: Saga) -> Money:
    """The exact sum of what the partners hold (never more than the customer accepted)."""
    return money_sum([it.price for it in kept(saga)], saga.total.currency)


def amount_to_capture(saga: Saga) -> Money:
    """What the confirmed items cost (best effort: less than authorized; the rest is released)."""
    amount = money_sum([it.price for it in booked(saga)], saga.total.currency)
    authorized = saga.payment.authorized
    if authorized is not None and authorized.currency == amount.currency and authorized < amount:
        return authorized
    return amount


# ---- commands -------------------------------------------------------------------------------


def hold_command(saga: Saga, item: Item | None, cid: uuid.UUID) -> Command:
    assert item is not None
    return HoldItem(booking_id=saga.booking_id, command_id=cid, item=item.spec)


def authorize_command(saga: Saga, _: Item | None, cid: uuid.UUID) -> Command:
    return AuthorizePayment(
        booking_id=saga.booking_id,
        command_id=cid,
        customer_id=saga.payment.customer_id,
        payment_method_id=saga.payment.payment_method_id,
        amount=amount_to_authorize(saga),
        description=f"Booking {saga.booking_id}"[:200],
    )


def confirm_command(saga: Saga, item: Item | None, cid: uuid.UUID) -> Command:
    assert item is not None
    return ConfirmItem(booking_id=saga.booking_id, command_id=cid, item=item.spec, guest=saga.guest)


def capture_command(saga: Saga, _: Item | None, cid: uuid.UUID) -> Command:
    return CapturePayment(booking_id=saga.booking_id, command_id=cid, amount=amount_to_capture(saga))


# ---- hold ---------------------------------------------------------------------------------


def on_item_held(run: Run, step: Step, reply: ItemHeld) -> None:  # type: ignore[override]
    item = run.item_of(step)
    fresh = step.status == StepStatus.SENT and run.saga.state == SagaState.HOLDING
    if step.status == StepStatus.DONE:
        run.note("duplicate ItemHeld")
        return
    item.hold_id = reply.hold_id
    item.hold_expires_at = reply.expires_at or (
        run.now + timedelta(seconds=item.hold_ttl_s) if item.hold_capable and item.hold_ttl_s else None
    )
    if not fresh:  # late: compensation began, or we gave up on this item
        run.close(step, StepStatus.DONE)
        item.exposure = Exposure.HOLD if item.hold_capable else Exposure.NONE
        run.late_exposure(item, "late ItemHeld")
        return
    run.close(step, StepStatus.DONE)
    item.status = ItemStatus.HELD
    item.exposure = Exposure.HOLD if item.hold_capable else Exposure.NONE
    requested = item.spec.line_total()
    if reply.price.currency != requested.currency or requested < reply.price:
        run.fail(item, "price_changed", f"held at {reply.price.display()}, accepted {requested.display()}", ItemStatus.FAILED)
        if run.all_or_nothing:
            run.compensate(f"{item.item_id}: price changed")
            return
        if item.exposure != Exposure.NONE:
            run.cancel_item(item, Phase.COMPENSATION, "price changed")
    else:
        item.price = reply.price
    holds_settled(run)


def on_hold_rejected(run: Run, step: Step, reply: ItemRejected) -> None:  # type: ignore[override]
    item = run.item_of(step)
    if step.status == StepStatus.SENT and run.saga.state == SagaState.HOLDING:
        run.close(step, StepStatus.FAILED)
        item.exposure = Exposure.NONE
        run.fail(item, reply.reason_code, reply.detail, ItemStatus.REJECTED)
        if run.all_or_nothing:
            run.compensate(f"{item.item_id}: {reply.reason_code}")
            return
        holds_settled(run)
        return
    if step.status in (StepStatus.DONE, StepStatus.FAILED):
        run.note("duplicate ItemRejected")
        return
    run.close(step, StepStatus.FAILED)
    if not run.cancel_pending(item) and item.exposure == Exposure.MAYBE:
        item.exposure = Exposure.NONE
    run.note("late ItemRejected: nothing held")


def holds_settled(run: Run) -> None:
    s = run.saga
    if s.state != SagaState.HOLDING or any(it.status == ItemStatus.HOLDING for it in s.items):
        return
    if kept(s) and (not run.all_or_nothing or not s.failure_reasons):
        run.d.enter(run, "authorize", "every item held" if not s.failure_reasons else "held what could be held")
    else:
        run.compensate("nothing could be held")


def hold_lapsed(run: Run, item: Item, detail: str) -> None:
    """A hold expired before its item was confirmed (the partner's sweeper or our timer)."""
    s = run.saga
    if item.status != ItemStatus.HELD or item.exposure != Exposure.HOLD:
        run.note(f"hold of {item.item_id} lapsed; nothing to do in {s.state.value}")
        if item.exposure == Exposure.HOLD and not item.booked:
            item.exposure = Exposure.NONE
        return
    item.exposure = Exposure.NONE
    if s.state in (SagaState.HOLDING, SagaState.AUTHORIZING, SagaState.ACTION_REQUIRED):
        run.fail(item, "hold_expired", detail, ItemStatus.FAILED)
        if s.state == SagaState.HOLDING and not run.all_or_nothing:
            holds_settled(run)
        else:
            run.compensate(f"{item.item_id}: hold expired")
    else:
        item.status = ItemStatus.RELEASED


def release_holds(run: Run) -> None:
    """Compensation of `hold`: release anything still held (or maybe held) for us."""
    for it in run.saga.items:
        if it.exposure != Exposure.NONE:
            run.cancel_item(it, Phase.COMPENSATION, "booking failed")


# ---- authorize ------------------------------------------------------------------------------


def on_authorized(run: Run, step: Step, reply: PaymentAuthorized) -> None:  # type: ignore[override]
    s = run.saga
    if step.status == StepStatus.DONE:
        run.note("duplicate PaymentAuthorized")
        return
    s.payment.payment_intent_id = reply.payment_intent_id
    s.payment.authorized = reply.amount_capturable
    s.payment.capture_before = reply.capture_before
    s.payment.client_secret = None
    if step.status in OPEN_STEP and s.state in (SagaState.AUTHORIZING, SagaState.ACTION_REQUIRED):
        run.close(step, StepStatus.DONE)
        run.d.enter(run, "confirm", "payment authorized")
        return
    run.close(step, StepStatus.DONE)
    # Late: the booking is being (or was) unwound; the money hold must not stay.
    if s.payment.voided or s.payment.captured:
        return
    if s.state == SagaState.COMPENSATING and s.compensation_stage in ("capture", "confirm"):
        return  # the void stage is still to come
    run.note("late PaymentAuthorized: voiding")
    run.void_payment()


def on_action_required(run: Run, step: Step, reply: PaymentActionRequired) -> None:  # type: ignore[override]
    s = run.saga
    if step.status != StepStatus.SENT or s.state != SagaState.AUTHORIZING:
        run.note("PaymentActionRequired ignored: not authorizing")
        return
    step.status = StepStatus.WAITING
    step.deadline_at = None
    s.payment.payment_intent_id = reply.payment_intent_id
    s.payment.client_secret = reply.client_secret
    window = run.now + timedelta(seconds=run.ctx.policy.action_window_s)
    expiries = [it.hold_expires_at for it in kept(s) if it.hold_expires_at and it.exposure == Exposure.HOLD]
    s.timers["action_window"] = min([window, *expiries])
    run.transition(SagaState.ACTION_REQUIRED, "the card needs the customer (3-D Secure)")


def on_declined(run: Run, step: Step, reply: PaymentDeclined) -> None:  # type: ignore[override]
    if step.status in OPEN_STEP and run.saga.state in (SagaState.AUTHORIZING, SagaState.ACTION_REQUIRED):
        run.close(step, StepStatus.FAILED)
        run.saga.payment.client_secret = None
        run.fail(None, reply.decline_code, reply.message)
        run.compensate(f"payment declined: {reply.decline_code}")
        return
    if step.status != StepStatus.DONE:
        run.close(step, StepStatus.FAILED)
    run.note("late or duplicate PaymentDeclined")


def on_authorize_failed(run: Run, step: Step, reply: PaymentFailed) -> None:  # type: ignore[override]
    if step.status in OPEN_STEP and run.saga.state in (SagaState.AUTHORIZING, SagaState.ACTION_REQUIRED):
        run.close(step, StepStatus.FAILED)
        run.saga.payment.client_secret = None
        run.fail(None, reply.code, reply.message)
        run.compensate(f"payment failed: {reply.code}")
        return
    run.note("late or duplicate PaymentFailed (authorize)")


def void_authorization(run: Run) -> None:
    """Compensation of `authorize`: void the money hold, unless it never existed."""
    s = run.saga
    auth = run.latest("authorize", None, Phase.FORWARD)
    if auth is None or auth.status == StepStatus.FAILED or s.payment.voided or s.payment.captured:
        return
    last = run.latest("void", None, Phase.COMPENSATION)
    if last is not None and last.status == StepStatus.FAILED:
        return  # refused once: the refund fallback took over
    run.void_payment()


# ---- confirm ------------------------------------------------------------------------------


def on_item_confirmed(run: Run, step: Step, reply: ItemConfirmed) -> None:  # type: ignore[override]
    item = run.item_of(step)
    if step.status == StepStatus.DONE:
        run.note("duplicate ItemConfirmed")
        return
    fresh = step.status == StepStatus.SENT and run.saga.state == SagaState.CONFIRMING
    run.close(step, StepStatus.DONE)
    item.confirmation_code = reply.confirmation_code
    item.partner_reference = reply.partner_reference
    item.cancellation_policy = reply.cancellation_policy.model_dump(mode="json")
    item.exposure = Exposure.BOOKING
    if not fresh:
        run.late_exposure(item, "late ItemConfirmed")
        return
    item.status = ItemStatus.CONFIRMED
    if reply.price.currency == item.price.currency:
        item.price = reply.price
    confirms_settled(run)


def on_confirm_rejected(run: Run, step: Step, reply: ItemRejected) -> None:  # type: ignore[override]
    item = run.item_of(step)
    if step.status in (StepStatus.DONE, StepStatus.FAILED):
        run.note("duplicate ItemRejected")
        return
    fresh = step.status == StepStatus.SENT and run.saga.state == SagaState.CONFIRMING
    run.close(step, StepStatus.FAILED)
    # A refused confirmation may leave the hold in place (e.g. the partner was unavailable).
    still_held = item.hold_capable and reply.reason_code not in ("hold_expired", "not_found", "invalid_item")
    if not run.cancel_pending(item):
        item.exposure = Exposure.HOLD if still_held else Exposure.NONE
    if not fresh:
        run.note("late ItemRejected (confirm)")
        return
    run.fail(item, reply.reason_code, reply.detail, ItemStatus.REJECTED)
    if run.all_or_nothing:
        run.compensate(f"{item.item_id}: {reply.reason_code}")
        return
    if item.exposure != Exposure.NONE:
        run.cancel_item(item, Phase.COMPENSATION, "confirmation refused")
    confirms_settled(run)


def confirms_settled(run: Run) -> None:
    s = run.saga
    if s.state != SagaState.CONFIRMING or any(it.status == ItemStatus.CONFIRMING for it in s.items):
        return
    if booked(s) and (not run.all_or_nothing or len(booked(s)) == len([i for i in s.items if not i.failure])):
        run.d.enter(run, "capture", "every item confirmed" if not s.failure_reasons else "confirmed what could be")
    else:
        run.compensate("nothing could be confirmed")


def cancel_bookings(run: Run) -> None:
    """Compensation of `confirm`: cancel what was (or may have been) booked."""
    for it in run.saga.items:
        confirming = run.latest("confirm", it.item_id, Phase.FORWARD) is not None
        if it.exposure == Exposure.BOOKING or (it.exposure == Exposure.MAYBE and confirming):
            run.cancel_item(it, Phase.COMPENSATION, "booking failed")


# ---- capture (the pivot) ---------------------------------------------------------------------


def on_captured(run: Run, step: Step, reply: PaymentCaptured) -> None:  # type: ignore[override]
    s = run.saga
    if step.status == StepStatus.DONE:
        run.note("duplicate PaymentCaptured")
        return
    fresh = step.status == StepStatus.SENT and s.state == SagaState.CAPTURING
    run.close(step, StepStatus.DONE)
    s.payment.captured = reply.amount_captured
    if fresh:
        run.transition(SagaState.CONFIRMED, "payment captured")
        if s.cancel_requested:
            run.start_cancellation("cancellation requested during capture")
        return
    # Money taken for a booking that is being unwound: give it back.
    refunded = s.payment.refunded.amount_minor if s.payment.refunded else 0
    if reply.amount_captured.amount_minor > refunded:
        run.note("late PaymentCaptured: refunding")
        owed = Money(amount_minor=reply.amount_captured.amount_minor - refunded, currency=reply.amount_captured.currency)
        run.refund_payment(owed, Phase.COMPENSATION, "booking failed")


def on_capture_failed(run: Run, step: Step, reply: PaymentFailed) -> None:  # type: ignore[override]
    if step.status == StepStatus.SENT and run.saga.state == SagaState.CAPTURING:
        run.close(step, StepStatus.FAILED)
        run.fail(None, reply.code, reply.message or "capture failed")
        run.compensate(f"capture failed: {reply.code}")
        return
    run.note("late or duplicate PaymentFailed (capture)")


def refund_captured(run: Run) -> None:
    """Compensation of `capture`: give back what was captured."""
    p = run.saga.payment
    if p.captured and p.captured.amount_minor > 0:
        refunded = p.refunded.amount_minor if p.refunded else 0
        if refunded < p.captured.amount_minor:
            owed = Money(amount_minor=p.captured.amount_minor - refunded, currency=p.captured.currency)
            run.refund_payment(owed, Phase.COMPENSATION, "booking failed")


# ---- timeouts of forward steps ---------------------------------------------------------------


def item_step_timed_out(run: Run, step: Step) -> None:
    item = run.item_of(step)
    sends = step.attempts
    run.fail(item, "timeout", f"no answer from {item.provider} to {step.kind} after {sends} sends", ItemStatus.FAILED)
    if run.all_or_nothing:
        run.compensate(f"{item.item_id}: {item.provider} did not answer")
        return
    if item.exposure != Exposure.NONE:  # it may have happened without us hearing
        run.cancel_item(item, Phase.COMPENSATION, "no answer in time")
    holds_settled(run) if step.kind == "hold" else confirms_settled(run)


def payment_step_timed_out(run: Run, step: Step) -> None:
    run.fail(None, "payment_timeout", f"no answer from payment to {step.kind} after {step.attempts} sends")
    run.compensate(f"payment did not answer to {step.kind}")


def capture_unanswered(run: Run, step: Step) -> None:
    """The capture was just sent again. The customer holds confirmations and the money may
    have been taken: undoing on a slow answer would cancel real bookings (with fees) and
    refund. Only a definite PaymentFailed compensates; a long silence calls an operator."""
    unanswered = step.attempts - 1
    if unanswered >= run.ctx.policy.escalate_after_sends:
        run.escalate(f"no answer from payment to {step.name} after {unanswered} sends; still resending")


# ---- undo steps: cancel an item, void or refund the payment -----------------------------------


def on_item_cancelled(run: Run, step: Step, reply: ItemCancelled) -> None:  # type: ignore[override]
    item = run.item_of(step)
    if step.status in (StepStatus.DONE, StepStatus.FAILED):
        run.note("duplicate ItemCancelled")
        return
    run.close(step, StepStatus.DONE)
    cur = run.saga.total.currency
    item.exposure = Exposure.NONE
    was_booked = reply.was_confirmed or item.confirmation_code is not None
    item.status = ItemStatus.CANCELLED if was_booked else ItemStatus.RELEASED
    if was_booked:
        item.refund = in_currency(reply.refund, cur)
        item.fee = in_currency(reply.fee, cur)
    run.compensation_progress()


def on_cancel_rejected(run: Run, step: Step, reply: ItemRejected) -> None:  # type: ignore[override]
    item = run.item_of(step)
    if step.status in (StepStatus.DONE, StepStatus.FAILED):
        run.note("duplicate ItemRejected (cancel)")
        return
    run.close(step, StepStatus.FAILED)
    if reply.reason_code in ("not_found", "hold_expired"):
        item.exposure = Exposure.NONE
        item.status = ItemStatus.RELEASED
    elif reply.reason_code == "not_cancellable" and step.phase == Phase.CANCELLATION:
        # The customer's own cancellation, refused by the partner (past its window, seated,
        # used): a definite answer, not a fault. The item stands and stays paid; the others
        # are cancelled and refunded. (Before the pivot the same refusal is a real problem.)
        item.status = ItemStatus.NOT_CANCELLABLE
        detail = reply.detail or (f"partner status {reply.partner_code}" if reply.partner_code else "")
        item.failure = FailureReason(item_id=item.item_id, code="not_cancellable", detail=detail[:500])
        run.note(f"{item.item_id}: {item.provider} will not cancel it ({detail or 'no detail'})")
    else:
        item.status = ItemStatus.CANCEL_FAILED
        run.fail(None, f"cancel_{reply.reason_code}", f"{item.item_id}: {reply.detail}")
    run.compensation_progress()


def on_voided(run: Run, step: Step, reply: PaymentVoided) -> None:  # type: ignore[override]
    if step.status == StepStatus.DONE:
        run.note("duplicate PaymentVoided")
        return
    run.close(step, StepStatus.DONE)
    run.saga.payment.voided = True
    run.compensation_progress()


def on_void_failed(run: Run, step: Step, reply: PaymentFailed) -> None:  # type: ignore[override]
    """A void that cannot be done: either nothing is held any more, or the money was taken.
    A refund of the authorized amount settles both (refused when nothing was captured)."""
    s = run.saga
    if step.status in (StepStatus.DONE, StepStatus.FAILED):
        run.note("duplicate PaymentFailed (void)")
        return
    run.close(step, StepStatus.FAILED)
    # What may have been taken: what the capture asked for (best effort captures less than it
    # authorized), else the authorization. A refund of money never captured is simply refused.
    capture = run.latest("capture", None, Phase.FORWARD)
    auth = run.latest("authorize", None, Phase.FORWARD)
    amount = (
        capture.command.amount  # type: ignore[attr-defined]
        if capture is not None
        else s.payment.authorized or (auth.command.amount if auth is not None else None)  # type: ignore[attr-defined]
    )
    if amount is not None and amount.amount_minor > 0 and not s.payment.refunded:
        run.note(f"void refused ({reply.code}): refunding in case the money was taken")
        run.refund_payment(amount, Phase.COMPENSATION, "booking failed")
    run.compensation_progress()


def on_refunded(run: Run, step: Step, reply: PaymentRefunded) -> None:  # type: ignore[override]
    s = run.saga
    if step.status == StepStatus.DONE:
        run.note("duplicate PaymentRefunded")
        return
    run.close(step, StepStatus.DONE)
    s.payment.refunded = reply.total_refunded
    if s.payment.captured is None or s.payment.captured < reply.total_refunded:
        s.payment.captured = reply.total_refunded  # we learn it was taken by giving it back
    run.compensation_progress()


def on_refund_failed(run: Run, step: Step, reply: PaymentFailed) -> None:  # type: ignore[override]
    s = run.saga
    if step.status in (StepStatus.DONE, StepStatus.FAILED):
        run.note("duplicate PaymentFailed (refund)")
        return
    run.close(step, StepStatus.FAILED)
    if not s.payment.captured:
        run.note(f"refund refused ({reply.code}): nothing was captured")
    else:
        run.fail(None, f"refund_{reply.code}", reply.message)
    run.compensation_progress()


def undo_timed_out(run: Run, step: Step) -> None:
    run.note(f"{step.name}: no answer after {step.attempts} sends")
    if step.item_id and step.kind == "cancel":
        item = run.item_of(step)
        item.status = ItemStatus.CANCEL_FAILED
    run.compensation_progress()


# ---- the table --------------------------------------------------------------------------------

DEFINITION = Definition(
    version=1,
    steps=(
        StepDef(
            kind="hold",
            state=SagaState.HOLDING,
            participants=to_hold,
            command=hold_command,
            replies={ItemHeld: on_item_held, ItemRejected: on_hold_rejected},  # type: ignore[dict-item]
            on_timeout=item_step_timed_out,
            compensate=release_holds,
        ),
        StepDef(
            kind="authorize",
            state=SagaState.AUTHORIZING,
            command=authorize_command,
            replies={
                PaymentAuthorized: on_authorized,
                PaymentActionRequired: on_action_required,
                PaymentDeclined: on_declined,
                PaymentFailed: on_authorize_failed,
            },  # type: ignore[dict-item]
            on_timeout=payment_step_timed_out,
            compensate=void_authorization,
        ),
        StepDef(
            kind="confirm",
            state=SagaState.CONFIRMING,
            participants=kept,
            command=confirm_command,
            replies={ItemConfirmed: on_item_confirmed, ItemRejected: on_confirm_rejected},  # type: ignore[dict-item]
            on_timeout=item_step_timed_out,
            compensate=cancel_bookings,
        ),
        StepDef(
            kind="capture",
            state=SagaState.CAPTURING,
            command=capture_command,
            replies={PaymentCaptured: on_captured, PaymentFailed: on_capture_failed},  # type: ignore[dict-item]
            on_timeout=capture_unanswered,
            compensate=refund_captured,
            resend_forever=True,
        ),
    ),
    undo_steps=(
        StepDef(
            kind="cancel",
            state=None,
            command=None,
            replies={ItemCancelled: on_item_cancelled, ItemRejected: on_cancel_rejected},  # type: ignore[dict-item]
            on_timeout=undo_timed_out,
        ),
        StepDef(
            kind="void",
            state=None,
            command=None,
            replies={PaymentVoided: on_voided, PaymentFailed: on_void_failed},  # type: ignore[dict-item]
            on_timeout=undo_timed_out,
        ),
        StepDef(
            kind="refund",
            state=None,
            command=None,
            replies={PaymentRefunded: on_refunded, PaymentFailed: on_refund_failed},  # type: ignore[dict-item]
            on_timeout=undo_timed_out,
        ),
    ),
)

DEFINITIONS = {DEFINITION.version: DEFINITION}
