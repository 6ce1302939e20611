"""The booking saga's rules, step by step: the functions its table (`definition.py`) names.

Every answer here has already been matched to its step and classified (fresh, late or a
duplicate) by the engine; a function only says what the answer means for the booking. Moving
on to the next step, and compensation in reverse order, are the engine's too.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from booking_shared.contracts import (
    AuthorizePayment,
    BookingCancellationRequested,
    BookingCancelled,
    BookingConfirmed,
    BookingFailed,
    CancelItem,
    CapturePayment,
    Command,
    ConfirmedItem,
    ConfirmItem,
    FailureReason,
    HoldItem,
    ItemCancellation,
    ItemCancelled,
    ItemConfirmed,
    ItemHeld,
    ItemRefund,
    ItemRejected,
    Message,
    PaymentActionRequired,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PaymentFailed,
    PaymentRefunded,
    PaymentVoided,
    RefundPayment,
    VoidPayment,
)
from booking_shared.money import Money
from orchestrator.domain.engine import Run
from orchestrator.domain.model import (
    FORWARD,
    Exposure,
    Item,
    ItemStatus,
    Phase,
    Saga,
    SagaState,
    Step,
    StepStatus,
)
from orchestrator.domain.routing import route, routed

# ---- who takes part, and what is owed ---------------------------------------------------------


def money_sum(amounts: list[Money], currency: str) -> Money:
    """Sum in one currency; zero amounts in another currency (XXX, 'no currency') count as zero."""
    out = Money.zero(currency)
    for a in amounts:
        if a.amount_minor == 0:
            continue
        out = out + a
    return out


def in_currency(amount: Money, currency: str) -> Money:
    return (
        Money.zero(currency) if amount.amount_minor == 0 and amount.currency != currency else amount
    )


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


def exposed(item: Item) -> bool:
    """The partner may hold something for this item: it must be undone if the booking fails."""
    return item.exposure != Exposure.NONE


def voided(saga: Saga) -> bool:
    """The payment hold was voided (a void step was answered)."""
    return any(st.kind == "void" and st.status == StepStatus.DONE for st in saga.steps.values())


# ---- forward commands ---------------------------------------------------------------------


def hold_commands(saga: Saga, items: list[Item], ids: list[uuid.UUID]) -> list[Command]:
    return [
        HoldItem(booking_id=saga.booking_id, command_id=cid, item=it.spec)
        for it, cid in zip(items, ids, strict=True)
    ]


def authorize_command(saga: Saga, _: list[Item], ids: list[uuid.UUID]) -> list[Command]:
    (cid,) = ids
    return [
        AuthorizePayment(
            booking_id=saga.booking_id,
            command_id=cid,
            customer_id=saga.payment.customer_id,
            payment_method_id=saga.payment.payment_method_id,
            amount=amount_to_authorize(saga),
            description=f"Booking {saga.booking_id}"[:200],
        )
    ]


def confirm_commands(saga: Saga, items: list[Item], ids: list[uuid.UUID]) -> list[Command]:
    return [
        ConfirmItem(booking_id=saga.booking_id, command_id=cid, item=it.spec, guest=saga.guest)
        for it, cid in zip(items, ids, strict=True)
    ]


def capture_command(saga: Saga, _: list[Item], ids: list[uuid.UUID]) -> list[Command]:
    (cid,) = ids
    return [
        CapturePayment(booking_id=saga.booking_id, command_id=cid, amount=amount_to_capture(saga))
    ]


def drop(run: Run, item: Item, why: str, undo_reason: str) -> None:
    """An item that will not go through (its failure already recorded): all-or-nothing
    compensates; best effort goes on without it, releasing whatever the partner may hold."""
    if run.all_or_nothing:
        run.compensate(f"{item.item_id}: {why}")
    elif exposed(item):
        cancel_item(run, item, Phase.COMPENSATION, undo_reason)


# ---- hold ---------------------------------------------------------------------------------


def _hold_seen(run: Run, item: Item, reply: ItemHeld) -> None:
    item.hold_id = reply.hold_id
    item.hold_expires_at = reply.expires_at or (
        run.now + timedelta(seconds=item.hold_ttl_s)
        if item.hold_capable and item.hold_ttl_s
        else None
    )
    item.exposure = Exposure.HOLD if item.hold_capable else Exposure.NONE


def item_held(run: Run, step: Step, item: Item | None, reply: ItemHeld) -> None:
    assert item is not None
    _hold_seen(run, item, reply)
    item.status = ItemStatus.HELD
    requested = item.spec.line_total()
    if reply.price.currency != requested.currency or requested < reply.price:
        run.fail(
            item,
            "price_changed",
            f"held at {reply.price.display()}, accepted {requested.display()}",
            ItemStatus.FAILED,
        )
        drop(run, item, "price changed", "price changed")
    else:
        item.price = reply.price


def item_held_late(run: Run, step: Step, item: Item | None, reply: ItemHeld) -> None:
    """Compensation began, or we gave up on this item."""
    assert item is not None
    _hold_seen(run, item, reply)
    late_exposure(run, item, "late ItemHeld")


def hold_refused(run: Run, step: Step, item: Item | None, reply: ItemRejected) -> None:
    assert item is not None
    item.exposure = Exposure.NONE
    run.fail(item, reply.reason_code, reply.detail, ItemStatus.REJECTED)
    drop(run, item, reply.reason_code, "")


def hold_refused_late(run: Run, step: Step, item: Item | None, reply: ItemRejected) -> None:
    assert item is not None
    if not cancel_pending(run, item) and item.exposure == Exposure.MAYBE:
        item.exposure = Exposure.NONE
    run.note("late ItemRejected: nothing held")


def hold_lapsed(run: Run, item: Item, detail: str) -> None:
    """A hold expired before its item was confirmed (the partner's sweeper or our timer)."""
    s = run.saga
    if item.status != ItemStatus.HELD or item.exposure != Exposure.HOLD:
        run.note(f"hold of {item.item_id} lapsed; nothing to do in {s.state.value}")
        if item.exposure == Exposure.HOLD and item.status != ItemStatus.CONFIRMED:
            item.exposure = Exposure.NONE
        return
    item.exposure = Exposure.NONE
    if s.state in (SagaState.HOLDING, SagaState.AUTHORIZING, SagaState.ACTION_REQUIRED):
        run.fail(item, "hold_expired", detail, ItemStatus.FAILED)
        if s.state != SagaState.HOLDING or run.all_or_nothing:
            run.compensate(f"{item.item_id}: hold expired")
    else:
        item.status = ItemStatus.RELEASED


def release_holds(run: Run) -> None:
    """Undo of `hold`: release anything still held (or maybe held) for us."""
    for it in run.saga.items:
        if exposed(it):
            cancel_item(run, it, Phase.COMPENSATION, "booking failed")


# ---- authorize ------------------------------------------------------------------------------


def _authorization_seen(run: Run, reply: PaymentAuthorized) -> None:
    p = run.saga.payment
    p.payment_intent_id = reply.payment_intent_id
    p.authorized = reply.amount_capturable
    p.capture_before = reply.capture_before
    p.client_secret = None


def payment_authorized(run: Run, step: Step, item: Item | None, reply: PaymentAuthorized) -> None:
    _authorization_seen(run, reply)


def payment_authorized_late(
    run: Run, step: Step, item: Item | None, reply: PaymentAuthorized
) -> None:
    """The booking is being (or was) unwound; the money hold must not stay."""
    _authorization_seen(run, reply)
    s = run.saga
    if voided(s) or s.payment.captured or run.stage_to_come("authorize"):
        return
    run.note("late PaymentAuthorized: voiding")
    void_payment(run)


def action_required(run: Run, step: Step, item: Item | None, reply: PaymentActionRequired) -> None:
    s = run.saga
    s.payment.payment_intent_id = reply.payment_intent_id
    s.payment.client_secret = reply.client_secret
    window = run.now + timedelta(seconds=run.ctx.policy.action_window_s)
    expiries = [
        it.hold_expires_at for it in kept(s) if it.hold_expires_at and it.exposure == Exposure.HOLD
    ]
    s.timers["action_window"] = min([window, *expiries])
    run.transition(SagaState.ACTION_REQUIRED, "the card needs the customer (3-D Secure)")


def payment_declined(run: Run, step: Step, item: Item | None, reply: PaymentDeclined) -> None:
    run.saga.payment.client_secret = None
    run.fail(None, reply.decline_code, reply.message)
    run.compensate(f"payment declined: {reply.decline_code}")


def authorize_failed(run: Run, step: Step, item: Item | None, reply: PaymentFailed) -> None:
    run.saga.payment.client_secret = None
    run.fail(None, reply.code, reply.message)
    run.compensate(f"payment failed: {reply.code}")


def noted(run: Run, step: Step, item: Item | None, reply: Message) -> None:
    """A late answer that only closes its step."""
    run.note(f"late {reply.type_name()}")


def void_authorization(run: Run) -> None:
    """Undo of `authorize`: void the money hold, unless it never existed."""
    s = run.saga
    auth = run.latest("authorize", None, Phase.FORWARD)
    if auth is None or auth.status == StepStatus.FAILED or voided(s) or s.payment.captured:
        return
    last = run.latest("void", None, Phase.COMPENSATION)
    if last is not None and last.status == StepStatus.FAILED:
        return  # refused once: the refund fallback took over
    void_payment(run)


# ---- confirm ------------------------------------------------------------------------------


def _confirmation_seen(item: Item, reply: ItemConfirmed) -> None:
    item.confirmation_code = reply.confirmation_code
    item.partner_reference = reply.partner_reference
    item.cancellation_policy = reply.cancellation_policy.model_dump(mode="json")
    item.exposure = Exposure.BOOKING


def item_confirmed(run: Run, step: Step, item: Item | None, reply: ItemConfirmed) -> None:
    assert item is not None
    _confirmation_seen(item, reply)
    item.status = ItemStatus.CONFIRMED
    if reply.price.currency == item.price.currency:
        item.price = reply.price


def item_confirmed_late(run: Run, step: Step, item: Item | None, reply: ItemConfirmed) -> None:
    assert item is not None
    _confirmation_seen(item, reply)
    late_exposure(run, item, "late ItemConfirmed")


def _confirm_refusal_seen(run: Run, item: Item, reply: ItemRejected) -> None:
    # A refused confirmation may leave the hold in place (e.g. the partner was unavailable).
    still_held = item.hold_capable and reply.reason_code not in (
        "hold_expired",
        "not_found",
        "invalid_item",
    )
    if not cancel_pending(run, item):
        item.exposure = Exposure.HOLD if still_held else Exposure.NONE


def confirm_refused(run: Run, step: Step, item: Item | None, reply: ItemRejected) -> None:
    assert item is not None
    _confirm_refusal_seen(run, item, reply)
    run.fail(item, reply.reason_code, reply.detail, ItemStatus.REJECTED)
    drop(run, item, reply.reason_code, "confirmation refused")


def confirm_refused_late(run: Run, step: Step, item: Item | None, reply: ItemRejected) -> None:
    assert item is not None
    _confirm_refusal_seen(run, item, reply)
    run.note("late ItemRejected (confirm)")


def cancel_bookings(run: Run) -> None:
    """Undo of `confirm`: cancel what was (or may have been) booked."""
    for it in run.saga.items:
        confirming_it = run.latest("confirm", it.item_id, Phase.FORWARD) is not None
        if it.exposure == Exposure.BOOKING or (it.exposure == Exposure.MAYBE and confirming_it):
            cancel_item(run, it, Phase.COMPENSATION, "booking failed")


# ---- capture (the pivot) ---------------------------------------------------------------------


def payment_captured(run: Run, step: Step, item: Item | None, reply: PaymentCaptured) -> None:
    run.saga.payment.captured = reply.amount_captured


def payment_captured_late(run: Run, step: Step, item: Item | None, reply: PaymentCaptured) -> None:
    """Money taken for a booking that is being unwound: give it back."""
    s = run.saga
    s.payment.captured = reply.amount_captured
    refunded = s.payment.refunded.amount_minor if s.payment.refunded else 0
    if reply.amount_captured.amount_minor > refunded:
        run.note("late PaymentCaptured: refunding")
        owed = Money(
            amount_minor=reply.amount_captured.amount_minor - refunded,
            currency=reply.amount_captured.currency,
        )
        refund_payment(run, owed, Phase.COMPENSATION, "booking failed")


def capture_failed(run: Run, step: Step, item: Item | None, reply: PaymentFailed) -> None:
    run.fail(None, reply.code, reply.message or "capture failed")
    run.compensate(f"capture failed: {reply.code}")


def refund_captured(run: Run) -> None:
    """Undo of `capture`: give back what was captured."""
    p = run.saga.payment
    if p.captured and p.captured.amount_minor > 0:
        refunded = p.refunded.amount_minor if p.refunded else 0
        if refunded < p.captured.amount_minor:
            owed = Money(
                amount_minor=p.captured.amount_minor - refunded, currency=p.captured.currency
            )
            refund_payment(run, owed, Phase.COMPENSATION, "booking failed")


def after_capture(run: Run) -> None:
    if run.saga.cancel_requested:
        start_cancellation(run, "cancellation requested during capture")


# ---- silences ------------------------------------------------------------------------------


def item_unanswered(run: Run, step: Step, item: Item | None) -> None:
    assert item is not None
    detail = f"no answer from {item.provider} to {step.kind} after {step.attempts} sends"
    run.fail(item, "timeout", detail, ItemStatus.FAILED)
    drop(
        run, item, f"{item.provider} did not answer", "no answer in time"
    )  # it may have happened unheard


def payment_unanswered(run: Run, step: Step, item: Item | None) -> None:
    run.fail(
        None,
        "payment_timeout",
        f"no answer from payment to {step.kind} after {step.attempts} sends",
    )
    run.compensate(f"payment did not answer to {step.kind}")


def capture_unanswered(run: Run, step: Step, item: Item | None) -> None:
    """The capture was just sent again. The customer holds confirmations and the money may
    have been taken: undoing on a slow answer would cancel real bookings (with fees) and
    refund. Only a definite PaymentFailed compensates; a long silence calls an operator."""
    unanswered = step.attempts - 1
    if unanswered >= run.ctx.policy.escalate_after_sends:
        run.escalate(
            f"no answer from payment to {step.name} after {unanswered} sends; still resending"
        )


def undo_unanswered(run: Run, step: Step, item: Item | None) -> None:
    run.note(f"{step.name}: no answer after {step.attempts} sends")
    if item is not None and step.kind == "cancel":
        item.status = ItemStatus.CANCEL_FAILED


# ---- undo commands and their answers ---------------------------------------------------------


def cancel_item(run: Run, item: Item, phase: Phase, reason: str) -> None:
    def build(cid: uuid.UUID) -> Command:
        return CancelItem(
            booking_id=run.saga.booking_id, command_id=cid, item_id=item.item_id, reason=reason
        )

    if item.status != ItemStatus.CANCEL_FAILED and exposed(item):
        item.status = ItemStatus.CANCELLING
    run.ensure("cancel", phase, item, build)


def void_payment(run: Run) -> None:
    run.ensure(
        "void",
        Phase.COMPENSATION,
        None,
        lambda cid: VoidPayment(booking_id=run.saga.booking_id, command_id=cid),
    )


def asked(step: Step) -> Money | None:
    """The amount a payment step's command named (a capture may name none: all authorized)."""
    cmd = step.command
    if not isinstance(cmd, AuthorizePayment | CapturePayment | RefundPayment):
        raise TypeError(f"the {step.kind} command names no amount")
    return cmd.amount


def refund_asked(step: Step) -> Money:
    """The amount a refund step asked back."""
    if not isinstance(step.command, RefundPayment):
        raise TypeError(f"the {step.kind} command is not a refund")
    return step.command.amount


def refund_payment(run: Run, amount: Money, phase: Phase, reason: str) -> None:
    bid = run.saga.booking_id
    run.ensure(
        "refund",
        phase,
        None,
        lambda cid: RefundPayment(booking_id=bid, command_id=cid, amount=amount, reason=reason),
    )


def cancel_pending(run: Run, item: Item) -> bool:
    return any(
        s.status == StepStatus.SENT and s.kind == "cancel" and s.item_id == item.item_id
        for s in run.saga.steps.values()
    )


def item_cancelled(run: Run, step: Step, item: Item | None, reply: ItemCancelled) -> None:
    assert item is not None
    cur = run.saga.total.currency
    item.exposure = Exposure.NONE
    was_booked = reply.was_confirmed or item.confirmation_code is not None
    item.status = ItemStatus.CANCELLED if was_booked else ItemStatus.RELEASED
    if was_booked:
        item.refund = in_currency(reply.refund, cur)
        item.fee = in_currency(reply.fee, cur)


def cancel_refused(run: Run, step: Step, item: Item | None, reply: ItemRejected) -> None:
    assert item is not None
    if reply.reason_code in ("not_found", "hold_expired"):
        item.exposure = Exposure.NONE
        item.status = ItemStatus.RELEASED
    elif reply.reason_code == "not_cancellable" and step.phase == Phase.CANCELLATION:
        # The customer's own cancellation, refused by the partner (past its window, seated,
        # used): a definite answer, not a fault. The item stands and stays paid; the others
        # are cancelled and refunded. (Before the pivot the same refusal is a real problem.)
        item.status = ItemStatus.NOT_CANCELLABLE
        detail = reply.detail or (
            f"partner status {reply.partner_code}" if reply.partner_code else ""
        )
        item.failure = FailureReason(
            item_id=item.item_id, code="not_cancellable", detail=detail[:500]
        )
        run.note(f"{item.item_id}: {item.provider} will not cancel it ({detail or 'no detail'})")
    else:
        item.status = ItemStatus.CANCEL_FAILED
        run.fail(None, f"cancel_{reply.reason_code}", f"{item.item_id}: {reply.detail}")


def payment_voided(run: Run, step: Step, item: Item | None, reply: PaymentVoided) -> None:
    pass  # the answered void step is the record (`voided`)


def void_refused(run: Run, step: Step, item: Item | None, reply: PaymentFailed) -> None:
    """A void that cannot be done: either nothing is held any more, or the money was taken.
    A refund of what may have been taken settles both (refused when nothing was captured):
    what the capture asked for (best effort captures less than it authorized), else the
    authorization."""
    s = run.saga
    capture = run.latest("capture", None, Phase.FORWARD)
    auth = run.latest("authorize", None, Phase.FORWARD)
    amount = (
        asked(capture)
        if capture is not None
        else s.payment.authorized or (asked(auth) if auth is not None else None)
    )
    if amount is not None and amount.amount_minor > 0 and not s.payment.refunded:
        run.note(f"void refused ({reply.code}): refunding in case the money was taken")
        refund_payment(run, amount, Phase.COMPENSATION, "booking failed")


def payment_refunded(run: Run, step: Step, item: Item | None, reply: PaymentRefunded) -> None:
    p = run.saga.payment
    p.refunded = reply.total_refunded
    if p.captured is None or p.captured < reply.total_refunded:
        p.captured = reply.total_refunded  # we learn it was taken by giving it back


def refund_refused(run: Run, step: Step, item: Item | None, reply: PaymentFailed) -> None:
    if not run.saga.payment.captured:
        run.note(f"refund refused ({reply.code}): nothing was captured")
    else:
        run.fail(None, f"refund_{reply.code}", reply.message)


# ---- the end of an unwinding --------------------------------------------------------------------


def problems(run: Run) -> list[str]:
    """What the unwinding could not undo (shown with COMPENSATION_FAILED)."""
    s = run.saga
    unwinding = s.unwinding
    latest = {(st.kind, st.item_id, st.phase): st for st in s.steps.values()}  # the last wins
    out = []
    for st in s.steps.values():
        if st.phase == Phase.FORWARD or st.status != StepStatus.EXHAUSTED:
            continue
        if latest[(st.kind, st.item_id, st.phase)] is st:
            out.append(f"no answer to {st.name} after {st.attempts} sends")
    for it in s.items:
        if cancel_pending(run, it):
            continue
        if unwinding == "compensation" and exposed(it):
            out.append(f"{it.item_id} is still {it.exposure.value} at {it.provider}")
        elif unwinding == "cancellation" and it.status == ItemStatus.NOT_CANCELLABLE:
            continue  # the partner's definite no: the item stands and stays paid, not a fault
        elif unwinding == "cancellation" and (
            it.exposure == Exposure.BOOKING or it.status == ItemStatus.CANCEL_FAILED
        ):
            out.append(f"{it.item_id} could not be cancelled at {it.provider}")
    p = s.payment
    if unwinding == "compensation" and p.captured and p.captured.amount_minor > 0:
        refunded = p.refunded.amount_minor if p.refunded else 0
        if refunded < p.captured.amount_minor:
            out.append(
                f"{p.captured.amount_minor - refunded} minor units captured and not refunded"
            )
    return sorted(set(out))


def compensation_finished(run: Run) -> None:
    left = problems(run)
    if left:
        run.settle_to(SagaState.COMPENSATION_FAILED, "; ".join(left))
    else:
        run.settle_to(SagaState.FAILED, "compensation finished: nothing booked, nothing charged")


def undo_moved(run: Run) -> None:
    """Outside COMPENSATING: a cancellation goes on; in a settled state a late undo answer may
    finish (or break) what was left."""
    s = run.saga
    if s.state == SagaState.CANCELLING:
        cancellation_progress(run)
        return
    if run.open_steps(Phase.COMPENSATION) or run.open_steps(Phase.CANCELLATION):
        return
    if s.state == SagaState.COMPENSATION_FAILED and s.unwinding == "cancellation":
        cancellation_progress(run, force=True)
    elif (
        s.state in (SagaState.COMPENSATION_FAILED, SagaState.FAILED)
        and s.unwinding == "compensation"
    ):
        compensation_finished(run)


def late_exposure(run: Run, item: Item, why: str) -> None:
    """A partner reports something held or booked for an item we no longer want: undo it,
    unless an undo is already on its way (same partition, so it runs after) or a
    compensation stage still to come will do it."""
    s = run.saga
    if not exposed(item) or cancel_pending(run, item):
        return
    if (
        item.status == ItemStatus.CONFIRMED
        and s.state in (SagaState.CONFIRMED, SagaState.CANCELLING)
        and s.unwinding != "compensation"
    ):
        return
    if run.stage_to_come("hold"):
        return  # the last stage (release holds) releases whatever is still exposed
    run.note(f"{why}: cancelling {item.item_id}")
    cancel_item(run, item, Phase.COMPENSATION, why)


# ---- cancellation: asked for by the customer, after confirmation ------------------------------


def cancellation_requested(run: Run, msg: BookingCancellationRequested) -> None:
    s = run.saga
    if msg.requested_by != s.user_id:
        run.note("cancellation ignored: requested_by is not the booking's user")
        return
    if s.state == SagaState.CONFIRMED:
        start_cancellation(run, msg.reason or "cancellation requested")
    elif s.state == SagaState.CAPTURING:
        s.cancel_requested = True
        run.note("cancellation will follow the capture")
    elif s.state in FORWARD:
        run.fail(None, "cancelled_by_user", msg.reason or "cancelled before confirmation")
        if s.state == SagaState.REQUESTED:
            run.settle_to(SagaState.FAILED, "cancelled before anything was sent")
        else:
            run.compensate("cancelled by the customer before confirmation")
    else:
        run.note(f"cancellation ignored in {s.state.value}")


def start_cancellation(run: Run, reason: str) -> None:
    s = run.saga
    run.transition(SagaState.CANCELLING, reason or "cancellation requested")
    for it in s.items:
        if it.status == ItemStatus.CONFIRMED and exposed(it):
            cancel_item(run, it, Phase.CANCELLATION, reason or "cancelled by the customer")
    cancellation_progress(run)


def rerun_cancellation(run: Run, who: str) -> None:
    """An operator's retry of a cancellation that could not finish."""
    s = run.saga
    run.reviving = True
    run.transition(SagaState.CANCELLING, f"cancellation retried by an operator ({who})")
    for it in s.items:
        if it.exposure == Exposure.BOOKING and it.status != ItemStatus.NOT_CANCELLABLE:
            cancel_item(run, it, Phase.CANCELLATION, "cancelled by the customer")
    refund = run.latest("refund", None, Phase.CANCELLATION)
    if refund is not None and refund.status in (StepStatus.FAILED, StepStatus.EXHAUSTED):
        refund_payment(run, refund_asked(refund), Phase.CANCELLATION, "booking cancelled")
    cancellation_progress(run)


def cancellation_progress(run: Run, force: bool = False) -> None:
    s = run.saga
    if s.state != SagaState.CANCELLING and not force:
        undo_moved(run)
        return
    if run.open_steps(Phase.CANCELLATION) or run.open_steps(Phase.COMPENSATION):
        return
    left = problems(run)
    if left:
        run.settle_to(SagaState.COMPENSATION_FAILED, "; ".join(left))
        return
    refund = run.latest("refund", None, Phase.CANCELLATION)
    if refund is not None:
        if refund.status == StepStatus.DONE:
            cancellation_finished(run, "refunded")
        else:
            run.settle_to(
                SagaState.COMPENSATION_FAILED, f"the refund {refund.status.value.lower()}"
            )
        return
    cur = s.total.currency
    owed = money_sum(
        [it.refund for it in s.items if it.refund is not None and it.confirmation_code], cur
    )
    p = s.payment
    room = (p.captured or Money.zero(cur)).amount_minor - (
        p.refunded or Money.zero(cur)
    ).amount_minor
    amount = Money(amount_minor=max(0, min(owed.amount_minor, room)), currency=cur)
    if amount.amount_minor > 0:
        run.settle_to(SagaState.CANCELLING, "refunding")
        refund_payment(run, amount, Phase.CANCELLATION, "booking cancelled")
    else:
        cancellation_finished(run, "nothing to refund")


def cancellation_finished(run: Run, refund: str) -> None:
    refused = [it.item_id for it in run.saga.items if it.status == ItemStatus.NOT_CANCELLABLE]
    if refused:
        run.settle_to(
            SagaState.PARTIALLY_CANCELLED,
            f"the partner would not cancel {', '.join(refused)} (it stands); the rest cancelled, {refund}",
        )
    elif refund == "refunded":
        run.settle_to(SagaState.CANCELLED, "every item cancelled and refunded")
    else:
        run.settle_to(SagaState.CANCELLED, "every item cancelled, nothing to refund")


# ---- the saga's own timers ---------------------------------------------------------------------


def route_again(run: Run) -> None:
    s = run.saga
    if s.state != SagaState.REQUESTED:
        return
    for it in s.items:
        if not it.provider and not it.failure:
            info = route(run.ctx.directory, it.booking_type)
            if info is not None:
                routed(it, info)
            else:
                run.fail(
                    it,
                    "no_provider",
                    f"no provider books {it.booking_type} items",
                    ItemStatus.FAILED,
                )
    if s.failure_reasons and (run.all_or_nothing or not to_hold(s)):
        run.settle_to(SagaState.FAILED, "no provider for some items")
    else:
        run.start("items routed to their providers")


def action_window_over(run: Run) -> None:
    if run.saga.state == SagaState.ACTION_REQUIRED:
        run.saga.payment.client_secret = None
        run.fail(
            None, "authentication_timeout", "the card's 3-D Secure check was not completed in time"
        )
        run.compensate("3-D Secure not completed in time")


def holds_expiring(run: Run) -> None:
    for it in run.saga.items:
        if it.status == ItemStatus.HELD and it.hold_expires_at and it.hold_expires_at <= run.now:
            hold_lapsed(run, it, f"hold expired at {it.hold_expires_at.isoformat()}")


def authorization_expiring(run: Run) -> None:
    if run.saga.state == SagaState.CONFIRMING:
        run.fail(
            None, "authorization_expired", "the payment hold lapsed before every item was confirmed"
        )
        run.compensate("payment authorization expired")


def timers_of(s: Saga) -> dict:
    """The timers that mean something in the current state."""
    t: dict = {}
    if s.state == SagaState.REQUESTED and "route" in s.timers:
        t["route"] = s.timers["route"]
    if s.state in (SagaState.HOLDING, SagaState.AUTHORIZING, SagaState.ACTION_REQUIRED):
        expiries = [
            it.hold_expires_at
            for it in s.items
            if it.status == ItemStatus.HELD
            and it.exposure == Exposure.HOLD
            and it.hold_expires_at
            and not it.failure
        ]
        if expiries:
            t["hold_expiry"] = min(expiries)
    if s.state == SagaState.ACTION_REQUIRED and "action_window" in s.timers:
        t["action_window"] = s.timers["action_window"]
    if s.state == SagaState.CONFIRMING and s.payment.capture_before:
        t["authorization_expiry"] = s.payment.capture_before
    return t


# ---- what the booking's lifecycle says -----------------------------------------------------------


def booking_confirmed(s: Saga, reason: str) -> Message:
    return BookingConfirmed(
        booking_id=s.booking_id,
        items=[
            ConfirmedItem(
                item_id=it.item_id,
                provider=it.provider,
                confirmation_code=it.confirmation_code or "",
                amount=it.price,
            )
            for it in booked(s)
        ],
        amount_captured=s.payment.captured or Money.zero(s.total.currency),
        failed_items=[r for r in s.failure_reasons if r.item_id],
    )


def booking_failed(s: Saga, reason: str) -> Message:
    return BookingFailed(
        booking_id=s.booking_id,
        reasons=s.failure_reasons or [FailureReason(code="failed", detail=reason)],
    )


def booking_cancelled(s: Saga, reason: str) -> Message:
    zero = Money.zero(s.total.currency)
    refunds_sent = [
        st for st in s.steps.values() if st.kind == "refund" and st.phase == Phase.CANCELLATION
    ]
    last = refunds_sent[-1] if refunds_sent else None
    total = refund_asked(last) if last is not None and last.status == StepStatus.DONE else zero
    cancelled = [it for it in s.items if it.status == ItemStatus.CANCELLED and it.confirmation_code]
    refused = [it for it in s.items if it.status == ItemStatus.NOT_CANCELLABLE]
    refunds = [
        ItemRefund(item_id=it.item_id, refunded=it.refund or zero, fee=it.fee or zero)
        for it in cancelled
    ]
    outcomes = [
        ItemCancellation(
            item_id=it.item_id, outcome="cancelled", refunded=it.refund or zero, fee=it.fee or zero
        )
        for it in cancelled
    ] + [
        ItemCancellation(
            item_id=it.item_id,
            outcome="not_cancellable",
            refunded=zero,
            fee=zero,
            reason_code=it.failure.code if it.failure else "not_cancellable",
            detail=it.failure.detail if it.failure else "",
        )
        for it in refused
    ]
    order = {it.item_id: n for n, it in enumerate(s.items)}
    outcomes.sort(key=lambda o: order[o.item_id])
    return BookingCancelled(
        booking_id=s.booking_id,
        refunds=refunds,
        total_refunded=total,
        partial=bool(refused),
        items=outcomes,
    )
