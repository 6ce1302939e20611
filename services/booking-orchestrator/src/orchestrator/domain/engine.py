"""The machinery under the saga definition: steps, resends, state changes, compensation stages.

`Run` applies one input to a copy of a saga and collects what to send. It knows nothing of
Postgres or Kafka; `saga.decide` drives it through the table in `definition.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from booking_shared.contracts import (
    BookingCancelled,
    BookingConfirmed,
    BookingFailed,
    CancelItem,
    Command,
    ConfirmedItem,
    FailureReason,
    ItemCancellation,
    ItemRefund,
    Message,
    RefundPayment,
    SagaStateChanged,
    VoidPayment,
)
from booking_shared.contracts.topics import BOOKING_EVENTS, PAYMENT_COMMANDS, SAGA_STATE
from booking_shared.money import Money
from orchestrator.domain.model import (
    FINAL,
    OPEN_STEP,
    Context,
    Decision,
    Exposure,
    Item,
    ItemStatus,
    Phase,
    Saga,
    SagaState,
    Send,
    Step,
    StepStatus,
)

if TYPE_CHECKING:
    from orchestrator.domain.definition import Definition

# Deterministic command ids: the same saga and step name always give the same id, so a
# decision recomputed after a crash sends the very command it sent before.
COMMAND_NS = uuid.UUID("6b3c1c52-3c1e-4a47-9b1e-2f0c5b9e7a10")

PAYMENT_KINDS = frozenset({"authorize", "capture", "void", "refund"})


def command_id(booking_id: str, step_name: str) -> uuid.UUID:
    return uuid.uuid5(COMMAND_NS, f"{booking_id}/{step_name}")


def money_sum(amounts: list[Money], currency: str) -> Money:
    """Sum in one currency; zero amounts in another currency (XXX, 'no currency') count as zero."""
    out = Money.zero(currency)
    for a in amounts:
        if a.amount_minor == 0:
            continue
        out = out + a
    return out


def in_currency(amount: Money, currency: str) -> Money:
    return Money.zero(currency) if amount.amount_minor == 0 and amount.currency != currency else amount


class Run:
    """One application of the saga definition to one input."""

    def __init__(self, saga: Saga, ctx: Context, definition: Definition) -> None:
        self.saga = saga
        self.ctx = ctx
        self.d = definition
        self.decision = Decision(saga=saga)
        self.reviving = False  # an operator retry: undo steps that ran out of attempts go again

    # ---- small helpers ----------------------------------------------------------------

    @property
    def now(self):
        return self.ctx.now

    @property
    def all_or_nothing(self) -> bool:
        return self.saga.mode == "all_or_nothing"

    def note(self, text: str) -> None:
        self.decision.note = f"{self.decision.note}; {text}" if self.decision.note else text

    def item_of(self, step: Step) -> Item:
        item = self.saga.item(step.item_id)
        assert item is not None, f"step {step.name} names no item"
        return item

    def publish(self, topic: str, message: Message) -> None:
        self.decision.sends.append(Send(topic, message))

    # ---- state changes ----------------------------------------------------------------

    def transition(self, to: SagaState, reason: str) -> None:
        s = self.saga
        before = s.state
        s.state = to
        s.state_changed_at = self.now
        # A flag for operators belongs to the state it was raised in; the history keeps it.
        s.attention = None
        s.attention_at = None
        self.decision.transitions.append((before, to, reason))
        self.publish(
            SAGA_STATE,
            SagaStateChanged(
                booking_id=s.booking_id,
                from_state=before.value if before else None,
                to_state=to.value,
                reason=reason[:500],
                definition_version=s.definition_version,
            ),
        )
        if to == SagaState.CONFIRMED:
            self.publish(BOOKING_EVENTS, self._confirmed_event())
        elif to == SagaState.FAILED:
            reasons = s.failure_reasons or [FailureReason(code="failed", detail=reason)]
            self.publish(BOOKING_EVENTS, BookingFailed(booking_id=s.booking_id, reasons=reasons))
        elif to in (SagaState.CANCELLED, SagaState.PARTIALLY_CANCELLED):
            self.publish(BOOKING_EVENTS, self._cancelled_event())

    def _confirmed_event(self) -> BookingConfirmed:
        s = self.saga
        return BookingConfirmed(
            booking_id=s.booking_id,
            items=[
                ConfirmedItem(
                    item_id=it.item_id,
                    provider=it.provider,
                    confirmation_code=it.confirmation_code or "",
                    amount=it.price,
                )
                for it in s.items
                if it.booked
            ],
            amount_captured=s.payment.captured or Money.zero(s.total.currency),
            failed_items=[r for r in s.failure_reasons if r.item_id],
        )

    def _cancelled_event(self) -> BookingCancelled:
        s = self.saga
        refund_step = self.latest("refund", None, Phase.CANCELLATION)
        total = (
            refund_step.command.amount  # type: ignore[attr-defined]
            if refund_step is not None and refund_step.status == StepStatus.DONE
            else Money.zero(s.total.currency)
        )
        zero = Money.zero(s.total.currency)
        cancelled = [it for it in s.items if it.status == ItemStatus.CANCELLED and it.confirmation_code]
        refused = [it for it in s.items if it.status == ItemStatus.NOT_CANCELLABLE]
        refunds = [ItemRefund(item_id=it.item_id, refunded=it.refund or zero, fee=it.fee or zero) for it in cancelled]
        outcomes = [
            ItemCancellation(item_id=it.item_id, outcome="cancelled", refunded=it.refund or zero, fee=it.fee or zero)
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
            booking_id=s.booking_id, refunds=refunds, total_refunded=total, partial=bool(refused), items=outcomes
        )

    def escalate(self, why: str) -> None:
        """Flag the saga for operators without changing its course (listed with the stuck ones)."""
        s = self.saga
        if s.attention is None:
            s.attention = why[:500]
            s.attention_at = self.now
            self.note(f"escalated to operators: {why}")

    def fail(self, item: Item | None, code: str, detail: str, status: ItemStatus | None = None) -> None:
        """Record why the booking (or an item of it) did not go through."""
        reason = FailureReason(item_id=item.item_id if item else None, code=code, detail=detail[:500])
        if item is not None:
            item.failure = reason
            if status is not None:
                item.status = status
        if reason not in self.saga.failure_reasons:
            self.saga.failure_reasons.append(reason)

    # ---- steps --------------------------------------------------------------------------

    def topic_for(self, kind: str, item: Item | None) -> str:
        if kind in PAYMENT_KINDS:
            return PAYMENT_COMMANDS
        assert item is not None
        return item.commands_topic

    def send(self, kind: str, phase: Phase, item: Item | None, build: Callable[[uuid.UUID], Command]) -> Step:
        """Create a step, send its command and start its deadline."""
        base = f"{kind}:{item.item_id}" if item is not None else kind
        if phase == Phase.CANCELLATION:
            base = f"cancellation-{base}"
        name, n = base, 1
        while name in self.saga.steps:
            n += 1
            name = f"{base}#{n}"
        step = Step(
            name=name,
            kind=kind,
            phase=phase,
            command=build(command_id(self.saga.booking_id, name)),
            item_id=item.item_id if item else None,
            status=StepStatus.SENT,
            attempts=1,
            deadline_at=self.now + self.ctx.policy.timeout(1),
            created_at=self.now,
        )
        self.saga.steps[name] = step
        self.decision.sends.append(Send(self.topic_for(kind, item), step.command, step=name))
        return step

    def resend(self, step: Step, reset: bool = False) -> None:
        """The same command again, same command id: idempotent downstream."""
        step.attempts = 1 if reset else step.attempts + 1
        step.status = StepStatus.SENT
        step.deadline_at = self.now + self.ctx.policy.timeout(step.attempts)
        item = self.saga.item(step.item_id)
        self.decision.sends.append(Send(self.topic_for(step.kind, item), step.command, step=step.name))

    def close(self, step: Step, status: StepStatus) -> None:
        step.status = status
        step.deadline_at = None

    def latest(self, kind: str, item_id: str | None, phase: Phase | None = None) -> Step | None:
        found = [
            s
            for s in self.saga.steps.values()
            if s.kind == kind and s.item_id == item_id and (phase is None or s.phase == phase)
        ]
        return found[-1] if found else None

    def ensure(self, kind: str, phase: Phase, item: Item | None, build: Callable[[uuid.UUID], Command]) -> None:
        """Make sure an undo command is under way: leave one in flight alone, leave one that ran
        out of attempts alone (an operator retry resends it, same id), and start a new one
        after a finished one."""
        last = self.latest(kind, item.item_id if item else None, phase)
        if last is not None and last.status == StepStatus.SENT:
            return
        if last is not None and last.status == StepStatus.EXHAUSTED:
            if self.reviving:
                self.resend(last, reset=True)
            return
        self.send(kind, phase, item, build)

    def max_attempts(self, step: Step) -> int:
        p = self.ctx.policy
        return p.step_max_attempts if step.phase == Phase.FORWARD else p.compensation_max_attempts

    def open_steps(self, phase: Phase | None = None) -> list[Step]:
        return [s for s in self.saga.steps.values() if s.status in OPEN_STEP and (phase is None or s.phase == phase)]

    def abandon_forward(self) -> None:
        for s in self.saga.steps.values():
            if s.phase == Phase.FORWARD and s.status in OPEN_STEP:
                self.close(s, StepStatus.ABANDONED)

    # ---- undo commands --------------------------------------------------------------

    def cancel_item(self, item: Item, phase: Phase, reason: str) -> None:
        def build(cid: uuid.UUID) -> Command:
            return CancelItem(booking_id=self.saga.booking_id, command_id=cid, item_id=item.item_id, reason=reason)

        self.ensure("cancel", phase, item, build)
        if item.status not in (ItemStatus.CANCEL_FAILED,):
            item.status = ItemStatus.CANCELLING if item.exposure != Exposure.NONE else item.status

    def void_payment(self) -> None:
        self.ensure(
            "void",
            Phase.COMPENSATION,
            None,
            lambda cid: VoidPayment(booking_id=self.saga.booking_id, command_id=cid),
        )

    def refund_payment(self, amount: Money, phase: Phase, reason: str) -> None:
        self.ensure(
            "refund",
            phase,
            None,
            lambda cid: RefundPayment(booking_id=self.saga.booking_id, command_id=cid, amount=amount, reason=reason),
        )

    def cancel_pending(self, item: Item) -> bool:
        return any(
            s.status == StepStatus.SENT for s in self.saga.steps.values() if s.kind == "cancel" and s.item_id == item.item_id
        )

    # ---- compensation -----------------------------------------------------------------

    def compensate(self, reason: str) -> None:
        """Stop going forward and undo, in reverse order of the definition's steps."""
        s = self.saga
        if s.state in (SagaState.COMPENSATING, SagaState.COMPENSATION_FAILED) or s.state in FINAL:
            return
        self.abandon_forward()
        s.timers.clear()
        s.unwinding = "compensation"
        s.compensation_stage = None
        self.transition(SagaState.COMPENSATING, reason)
        self.advance_compensation()

    def advance_compensation(self) -> None:
        """Run the next stage whose undo has something to do; finish after the last."""
        s = self.saga
        stages = [st.kind for st in reversed(self.d.steps)]
        start = stages.index(s.compensation_stage) + 1 if s.compensation_stage in stages else 0
        for kind in stages[start:]:
            s.compensation_stage = kind
            self.d.step(kind).compensate(self)
            if self.open_steps(Phase.COMPENSATION):
                return
        self.finish_compensation()

    def compensation_progress(self) -> None:
        s = self.saga
        if s.state == SagaState.COMPENSATING:
            if not self.open_steps(Phase.COMPENSATION):
                self.advance_compensation()
        elif s.state == SagaState.CANCELLING:
            self.cancellation_progress()
        else:
            self.reconcile()

    def problems(self) -> list[str]:
        """What the unwinding could not undo (shown with COMPENSATION_FAILED)."""
        s = self.saga
        out = []
        for st in s.steps.values():
            if st.phase == Phase.FORWARD or st.status != StepStatus.EXHAUSTED:
                continue
            if self.latest(st.kind, st.item_id, st.phase) is st:
                out.append(f"no answer to {st.name} after {st.attempts} sends")
        for it in s.items:
            if self.cancel_pending(it):
                continue
            if s.unwinding == "compensation" and it.exposure != Exposure.NONE:
                out.append(f"{it.item_id} is still {it.exposure.value} at {it.provider}")
            elif s.unwinding == "cancellation" and it.status == ItemStatus.NOT_CANCELLABLE:
                continue  # the partner's definite no: the item stands and stays paid, not a fault
            elif s.unwinding == "cancellation" and (it.exposure == Exposure.BOOKING or it.status == ItemStatus.CANCEL_FAILED):
                out.append(f"{it.item_id} could not be cancelled at {it.provider}")
        p = s.payment
        if s.unwinding == "compensation" and p.captured and p.captured.amount_minor > 0:
            refunded = p.refunded.amount_minor if p.refunded else 0
            if refunded < p.captured.amount_minor:
                out.append(f"{p.captured.amount_minor - refunded} minor units captured and not refunded")
        return sorted(set(out))

    def settle_to(self, state: SagaState, reason: str) -> None:
        if self.saga.state != state:
            self.transition(state, reason)

    def finish_compensation(self) -> None:
        problems = self.problems()
        if problems:
            self.settle_to(SagaState.COMPENSATION_FAILED, "; ".join(problems))
        else:
            self.settle_to(SagaState.FAILED, "compensation finished: nothing booked, nothing charged")

    def reconcile(self) -> None:
        """In a settled state, a late undo answer may finish (or break) what was left."""
        s = self.saga
        if self.open_steps(Phase.COMPENSATION) or self.open_steps(Phase.CANCELLATION):
            return
        if s.state == SagaState.COMPENSATION_FAILED and s.unwinding == "cancellation":
            self.cancellation_progress(force=True)
        elif s.state in (SagaState.COMPENSATION_FAILED, SagaState.FAILED) and s.unwinding == "compensation":
            self.finish_compensation()

    def late_exposure(self, item: Item, why: str) -> None:
        """A partner reports something held or booked for an item we no longer want: undo it,
        unless an undo is already on its way (same partition, so it runs after) or a
        compensation stage still to come will do it."""
        if item.exposure == Exposure.NONE or self.cancel_pending(item):
            return
        s = self.saga
        if s.state == SagaState.COMPENSATING and s.compensation_stage != self.d.steps[0].kind:
            return  # the last stage (release holds) releases whatever is still exposed
        if item.booked and s.state in (SagaState.CONFIRMED, SagaState.CANCELLING) and s.unwinding != "compensation":
            return
        self.note(f"{why}: cancelling {item.item_id}")
        self.cancel_item(item, Phase.COMPENSATION, why)

    # ---- cancellation after confirmation --------------------------------------------

    def start_cancellation(self, reason: str) -> None:
        s = self.saga
        s.unwinding = "cancellation"
        self.transition(SagaState.CANCELLING, reason or "cancellation requested")
        for it in s.items:
            if it.booked and it.exposure != Exposure.NONE:
                self.cancel_item(it, Phase.CANCELLATION, reason or "cancelled by the customer")
        self.cancellation_progress()

    def cancellation_progress(self, force: bool = False) -> None:
        s = self.saga
        if s.state != SagaState.CANCELLING and not force:
            self.reconcile()
            return
        if self.open_steps(Phase.CANCELLATION) or self.open_steps(Phase.COMPENSATION):
            return
        problems = self.problems()
        if problems:
            self.settle_to(SagaState.COMPENSATION_FAILED, "; ".join(problems))
            return
        refund = self.latest("refund", None, Phase.CANCELLATION)
        if refund is not None:
            if refund.status == StepStatus.DONE:
                self.finish_cancellation("refunded")
            else:
                self.settle_to(SagaState.COMPENSATION_FAILED, f"the refund {refund.status.value.lower()}")
            return
        cur = s.total.currency
        owed = money_sum([it.refund for it in s.items if it.refund is not None and it.confirmation_code], cur)
        p = s.payment
        room = (p.captured or Money.zero(cur)).amount_minor - (p.refunded or Money.zero(cur)).amount_minor
        amount = Money(amount_minor=max(0, min(owed.amount_minor, room)), currency=cur)
        if amount.amount_minor > 0:
            self.settle_to(SagaState.CANCELLING, "refunding")
            self.refund_payment(amount, Phase.CANCELLATION, "booking cancelled")
        else:
            self.finish_cancellation("nothing to refund")

    def finish_cancellation(self, refund: str) -> None:
        refused = [it.item_id for it in self.saga.items if it.status == ItemStatus.NOT_CANCELLABLE]
        if refused:
            self.settle_to(
                SagaState.PARTIALLY_CANCELLED,
                f"the partner would not cancel {', '.join(refused)} (it stands); the rest cancelled, {refund}",
            )
        elif refund == "refunded":
            self.settle_to(SagaState.CANCELLED, "every item cancelled and refunded")
        else:
            self.settle_to(SagaState.CANCELLED, "every item cancelled, nothing to refund")

    # ---- timers ---------------------------------------------------------------------

    def refresh_timers(self) -> None:
        """Keep only the timers that mean something in the current state."""
        s = self.saga
        t: dict = {}
        if s.state == SagaState.REQUESTED and "route" in s.timers:
            t["route"] = s.timers["route"]
        if s.state in (SagaState.HOLDING, SagaState.AUTHORIZING, SagaState.ACTION_REQUIRED):
            expiries = [
                it.hold_expires_at
                for it in s.items
                if it.status == ItemStatus.HELD and it.exposure == Exposure.HOLD and it.hold_expires_at and not it.failure
            ]
            if expiries:
                t["hold_expiry"] = min(expiries)
        if s.state == SagaState.ACTION_REQUIRED and "action_window" in s.timers:
            t["action_window"] = s.timers["action_window"]
        if s.state == SagaState.CONFIRMING and s.payment.capture_before:
            t["authorization_expiry"] = s.payment.capture_before
        s.timers = t
