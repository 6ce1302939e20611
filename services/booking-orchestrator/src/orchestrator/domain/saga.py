"""The saga as a pure function: (saga, input, now) -> (new saga, commands, events, deadlines).

`start` turns a BookingRequested into a new saga; `decide` applies a reply, a cancellation
request, a due deadline or an operator action. Neither touches I/O; neither mutates its input.
"""

from __future__ import annotations

import copy
from datetime import timedelta

from booking_shared.contracts import BookingRequested, ItemHoldLapsed, SagaStateChanged
from booking_shared.contracts.topics import SAGA_STATE
from orchestrator.domain.definition import DEFINITION, DEFINITIONS, Definition, hold_lapsed, to_hold
from orchestrator.domain.engine import Run
from orchestrator.domain.model import (
    FINAL,
    FORWARD,
    CancellationRequested,
    Context,
    DeadlineDue,
    Decision,
    Exposure,
    Input,
    Item,
    ItemStatus,
    NotAllowed,
    OperatorAction,
    Payment,
    Phase,
    ProviderInfo,
    ReplyReceived,
    Saga,
    SagaState,
    StepStatus,
)


def route(directory: dict[str, ProviderInfo] | object, booking_type: str) -> ProviderInfo | None:
    """The provider that books this type through its API: by announced capability, never by
    name. Several for one type: the most recent announcement wins (ties: by name)."""
    candidates = [
        p
        for p in directory.values()  # type: ignore[attr-defined]
        if booking_type in p.booking_types and p.capabilities.api_book
    ]
    if not candidates:
        return None
    return sorted(candidates, key=lambda p: (p.announced_at, p.name))[-1]


def _routed(item: Item, info: ProviderInfo) -> None:
    item.provider = info.name
    item.commands_topic = info.commands_topic
    item.hold_capable = info.capabilities.hold
    item.hold_ttl_s = info.capabilities.hold_ttl_seconds


def start(request: BookingRequested, ctx: Context, definition: Definition = DEFINITION) -> Decision:
    """A new saga for a booking request: route the items, then hold them all in parallel."""
    now = ctx.now
    items = []
    for spec in request.items:
        item = Item(
            item_id=spec.id,
            provider="",
            booking_type=spec.booking_type,
            commands_topic="",
            hold_capable=False,
            hold_ttl_s=None,
            spec=spec,
            price=spec.line_total(),
        )
        info = route(ctx.directory, spec.booking_type)
        if info is not None:
            _routed(item, info)
        items.append(item)
    saga = Saga(
        booking_id=request.booking_id,
        user_id=request.user_id,
        quote_id=request.quote_id,
        mode=request.mode,
        definition_version=definition.version,
        state=SagaState.REQUESTED,
        total=request.total,
        guest=request.guest,
        payment=Payment(customer_id=request.payment.customer_id, payment_method_id=request.payment.payment_method_id),
        items=items,
        requested_at=request.requested_at,
        created_at=now,
        updated_at=now,
        state_changed_at=now,
    )
    run = Run(saga, ctx, definition)
    run.decision.transitions.append((None, SagaState.REQUESTED, "booking requested"))
    run.publish(
        SAGA_STATE,
        SagaStateChanged(
            booking_id=saga.booking_id,
            from_state=None,
            to_state=SagaState.REQUESTED.value,
            reason="booking requested",
            definition_version=definition.version,
        ),
    )
    ids = [it.item_id for it in items]
    if len(set(ids)) != len(ids):
        run.fail(None, "invalid_request", "two items share an id")
    for it in items:
        if it.price.currency != request.total.currency:
            run.fail(it, "currency_mismatch", f"{it.price.currency} item in a {request.total.currency} booking", ItemStatus.FAILED)
    if saga.failure_reasons:
        run.settle_to(SagaState.FAILED, "invalid request")
    elif all(it.provider for it in items):
        definition.enter(run, "hold", "items routed to their providers")
    else:
        saga.timers["route"] = now + timedelta(seconds=ctx.policy.route_wait_s)
        missing = sorted({it.booking_type for it in items if not it.provider})
        run.note(f"waiting for a provider of {', '.join(missing)}")
    run.refresh_timers()
    return run.decision


def decide(saga: Saga, event: Input, ctx: Context) -> Decision:
    """Apply one input. Raises NotAllowed for an operator action that makes no sense now."""
    definition = DEFINITIONS.get(saga.definition_version)
    if definition is None:
        raise ValueError(f"saga {saga.booking_id} uses unknown definition version {saga.definition_version}")
    before = saga
    run = Run(copy.deepcopy(saga), ctx, definition)
    if isinstance(event, ReplyReceived):
        _on_reply(run, event)
    elif isinstance(event, CancellationRequested):
        _on_cancellation(run, event)
    elif isinstance(event, DeadlineDue):
        _on_deadline(run, event.name)
    elif isinstance(event, OperatorAction):
        _on_operator(run, event)
    else:  # pragma: no cover
        raise TypeError(event)
    run.refresh_timers()
    if run.saga != before:
        run.saga.updated_at = ctx.now
    return run.decision


# ---- replies ------------------------------------------------------------------------------------


def _on_reply(run: Run, event: ReplyReceived) -> None:
    msg = event.message
    kind = msg.type_name()
    if isinstance(msg, ItemHoldLapsed):
        item = run.saga.item(msg.item_id)
        if item is None:
            run.note(f"ItemHoldLapsed for unknown item {msg.item_id}")
            return
        hold_lapsed(run, item, f"hold {msg.hold_id or ''} lapsed at {msg.expired_at.isoformat()}")
        return
    command_id = getattr(msg, "command_id", None)
    step = run.saga.step_for(command_id) if command_id is not None else None
    if step is None:
        run.note(f"{kind} answers no command of this saga; ignored")
        return
    item_id = getattr(msg, "item_id", None)
    if item_id is not None and item_id != step.item_id:
        run.note(f"{kind} names {item_id} but {step.name} is for {step.item_id}; ignored")
        return
    handler = run.d.step(step.kind).replies.get(type(msg))
    if handler is None:
        run.note(f"{kind} is not an answer to {step.kind}; ignored")
        return
    step.reply = kind
    handler(run, step, msg)


# ---- cancellation -------------------------------------------------------------------------------


def _on_cancellation(run: Run, event: CancellationRequested) -> None:
    s, msg = run.saga, event.message
    if msg.requested_by != s.user_id:
        run.note("cancellation ignored: requested_by is not the booking's user")
        return
    if s.state == SagaState.CONFIRMED:
        run.start_cancellation(msg.reason or "cancellation requested")
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


# ---- deadlines ----------------------------------------------------------------------------------


def _on_deadline(run: Run, name: str) -> None:
    s, now = run.saga, run.now
    if name.startswith("timer:"):
        timer = name.removeprefix("timer:")
        due = s.timers.get(timer)
        if due is None or due > now:
            run.note(f"{name} no longer due")
            return
        del s.timers[timer]
        TIMERS[timer](run)
        return
    step = s.steps.get(name)
    if step is None or step.status != StepStatus.SENT or step.deadline_at is None or step.deadline_at > now:
        run.note(f"deadline {name} no longer due")
        return
    spec = run.d.step(step.kind)
    if spec.resend_forever and step.phase == Phase.FORWARD:
        run.resend(step)
        run.note(f"no answer to {name}: sent again (send {step.attempts}), never given up")
        spec.on_timeout(run, step)
        return
    if step.attempts < run.max_attempts(step):
        run.resend(step)
        run.note(f"no answer to {name}: sent again (send {step.attempts})")
        return
    run.close(step, StepStatus.EXHAUSTED)
    spec.on_timeout(run, step)


def _route_again(run: Run) -> None:
    s = run.saga
    if s.state != SagaState.REQUESTED:
        return
    for it in s.items:
        if not it.provider and not it.failure:
            info = route(run.ctx.directory, it.booking_type)
            if info is not None:
                _routed(it, info)
            else:
                run.fail(it, "no_provider", f"no provider books {it.booking_type} items", ItemStatus.FAILED)
    if s.failure_reasons and (run.all_or_nothing or not to_hold(s)):
        run.settle_to(SagaState.FAILED, "no provider for some items")
    else:
        run.d.enter(run, "hold", "items routed to their providers")


def _action_window_over(run: Run) -> None:
    if run.saga.state == SagaState.ACTION_REQUIRED:
        run.saga.payment.client_secret = None
        run.fail(None, "authentication_timeout", "the card's 3-D Secure check was not completed in time")
        run.compensate("3-D Secure not completed in time")


def _holds_expiring(run: Run) -> None:
    for it in run.saga.items:
        if it.status == ItemStatus.HELD and it.hold_expires_at and it.hold_expires_at <= run.now:
            hold_lapsed(run, it, f"hold expired at {it.hold_expires_at.isoformat()}")


def _authorization_expiring(run: Run) -> None:
    if run.saga.state == SagaState.CONFIRMING:
        run.fail(None, "authorization_expired", "the payment hold lapsed before every item was confirmed")
        run.compensate("payment authorization expired")


TIMERS = {
    "route": _route_again,
    "action_window": _action_window_over,
    "hold_expiry": _holds_expiring,
    "authorization_expiry": _authorization_expiring,
}


# ---- operators ----------------------------------------------------------------------------------


def _on_operator(run: Run, event: OperatorAction) -> None:
    s = run.saga
    who = f"{event.actor}: {event.reason}" if event.reason else event.actor
    if event.action == "pause":
        if s.state in FINAL:
            raise NotAllowed(f"a {s.state.value} saga has nothing to pause")
        s.paused = True
    elif event.action == "resume":
        s.paused = False
    elif event.action == "compensate":
        if s.state in FORWARD:
            run.fail(None, "operator_compensation", who)
            if s.state == SagaState.REQUESTED:
                run.settle_to(SagaState.FAILED, f"failed by an operator ({who})")
            else:
                run.compensate(f"compensation forced by an operator ({who})")
        elif s.state == SagaState.COMPENSATION_FAILED and s.unwinding == "compensation":
            _rerun_compensation(run, who)
        else:
            raise NotAllowed(f"cannot force compensation in {s.state.value}")
    elif event.action == "retry":
        if s.state == SagaState.REQUESTED:
            missing = sorted({it.booking_type for it in s.items if not it.provider and not route(run.ctx.directory, it.booking_type)})
            if missing and run.all_or_nothing:
                raise NotAllowed(f"still no provider for {', '.join(missing)}")
            s.timers.pop("route", None)
            _route_again(run)
        elif s.state == SagaState.COMPENSATION_FAILED:
            if s.unwinding == "cancellation":
                _rerun_cancellation(run, who)
            else:
                _rerun_compensation(run, who)
        elif s.state in FORWARD or s.state in (SagaState.COMPENSATING, SagaState.CANCELLING):
            in_flight = [st for st in s.steps.values() if st.status == StepStatus.SENT]
            if not in_flight:
                raise NotAllowed(f"nothing in flight to retry in {s.state.value}")
            for st in in_flight:
                run.resend(st, reset=True)
            s.attention = None  # seen to by an operator; raised again if the silence goes on
            s.attention_at = None
        else:
            raise NotAllowed(f"nothing to retry in {s.state.value}")
    run.note(f"{event.action} by {who}")


def _rerun_compensation(run: Run, who: str) -> None:
    run.reviving = True
    run.saga.compensation_stage = None
    run.transition(SagaState.COMPENSATING, f"compensation retried by an operator ({who})")
    run.advance_compensation()


def _rerun_cancellation(run: Run, who: str) -> None:
    s = run.saga
    run.reviving = True
    run.transition(SagaState.CANCELLING, f"cancellation retried by an operator ({who})")
    for it in s.items:
        if it.exposure == Exposure.BOOKING and it.status != ItemStatus.NOT_CANCELLABLE:
            run.cancel_item(it, Phase.CANCELLATION, "cancelled by the customer")
    refund = run.latest("refund", None, Phase.CANCELLATION)
    if refund is not None and refund.status in (StepStatus.FAILED, StepStatus.EXHAUSTED):
        run.refund_payment(refund.command.amount, Phase.CANCELLATION, "booking cancelled")  # type: ignore[attr-defined]
    run.cancellation_progress()
