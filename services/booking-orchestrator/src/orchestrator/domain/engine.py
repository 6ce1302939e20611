"""The machinery under a saga definition: the shape of its table, and `Run`, which applies one
input to a copy of a saga and collects what to send.

The engine knows no step by name: the order of the steps, their commands and topics, what a
reply means, what a timeout means, and how each step is undone are data in the `Definition`
(`definition.py`). Here live only the rules every step shares: a reply is matched to its step
and read once as fresh, late or a duplicate; a step whose participants all answered moves the
saga to the next step in the table; compensation runs the steps' undos in reverse order.
No I/O: `saga.decide` drives it.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, NamedTuple, TypeVar

from booking_shared.contracts import (
    BookingCancellationRequested,
    Command,
    FailureReason,
    ItemHoldLapsed,
    Message,
    SagaStateChanged,
)
from booking_shared.contracts.topics import BOOKING_EVENTS, SAGA_STATE
from orchestrator.domain.model import (
    FINAL,
    FORWARD,
    OPEN_STEP,
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
    Phase,
    ReplyReceived,
    Saga,
    SagaState,
    Send,
    Step,
    StepStatus,
)
from orchestrator.domain.routing import route

R = TypeVar("R", bound=Message)

# An answer's handler gets the step it answers and that step's item (None for the payment).
ReplyHandler = Callable[["Run", Step, Item | None, R], None]
TimeoutHandler = Callable[["Run", Step, Item | None], None]
# A forward step's commands, built in one call: one per item taking part, in order, each with
# its command id (a step for the booking as a whole: no items, one id).
CommandBuilder = Callable[[Saga, list[Item], list[uuid.UUID]], list[Command]]
Hook = Callable[["Run"], None]

ANSWERED = frozenset({StepStatus.DONE, StepStatus.FAILED})


def _nothing(run: Run) -> None:
    return None


# ---- the shape of a definition ----------------------------------------------------------------


@dataclass(frozen=True)
class Answer(Generic[R]):
    """How a step reads one type of reply. The engine decides which case it is:

    - a *duplicate* (the step's status is in `repeats`): noted, nothing changes;
    - *fresh* (the step is open and the saga still in the step's state; any answer to an
      undo step): the step becomes `closes`, then `fresh` runs;
    - *late* (the saga moved on, or the step was given up): the step becomes `closes`, then
      `late` runs; with `late=None` the answer is only noted and the step left as it was.
    """

    fresh: ReplyHandler[R]
    late: ReplyHandler[R] | None = None
    closes: StepStatus = StepStatus.DONE
    repeats: frozenset[StepStatus] = frozenset({StepStatus.DONE})


class ItemFlow(NamedTuple):
    """A per-item step as the items' statuses: which take part (those not failed), what they
    are while the command is out, and what they are once it went through."""

    takes: ItemStatus
    sending: ItemStatus
    through: ItemStatus


@dataclass(frozen=True)
class StepDef:
    """One row of the table: a forward step (with `state`) or an undo step (without)."""

    kind: str
    replies: Mapping[type[Message], Answer[Any]]  # the key is the answer's reply type
    on_timeout: TimeoutHandler  # after the last send went unanswered
    topic: str | None = None  # where its commands go; None: the item's partner
    state: SagaState | None = None  # the forward state the step runs in
    also_waits_in: tuple[SagaState, ...] = ()  # further states in which it still waits (3-D Secure)
    command: CommandBuilder | None = None  # forward steps; undo commands are built where sent
    items: ItemFlow | None = None  # per-item steps, in parallel; None: one command for the booking
    # Without the partner's hold capability the command reserves nothing (an availability check).
    reserves_only_with_hold: bool = False
    done: tuple[str, str] = ("", "")  # why the saga moves on: all went through / some were left out
    # Not one item went through (all-or-nothing: not all of them): why it compensates instead.
    nothing: str = ""
    compensate: Hook = _nothing  # its undo, when compensation reaches it
    # After the pivot a silence is no answer: the command goes again (same id) on every
    # deadline and `on_timeout` only decides whether to call an operator; it never gives up.
    resend_forever: bool = False

    @property
    def waits_in(self) -> tuple[SagaState, ...]:
        return ((self.state,) if self.state else ()) + self.also_waits_in


@dataclass(frozen=True)
class Definition:
    """A saga: its forward steps in order, its undo steps, and what the saga does at the edges."""

    version: int
    steps: tuple[StepDef, ...]  # forward, in order; compensation runs them backwards
    undo_steps: tuple[StepDef, ...]
    done: SagaState  # where the last forward step leads
    after_done: Hook  # right after reaching `done` (a cancellation asked for meanwhile)
    undo_moved: Hook  # an undo step was answered or gave up, outside COMPENSATING
    unwound: Hook  # every compensation stage ran: FAILED, or COMPENSATION_FAILED with what is left
    lapsed: Callable[[Run, Item, str], None]  # a partner's hold of an item expired
    timers: Mapping[str, Hook]  # the saga's own due times, by name
    route_again: Hook  # REQUESTED: route the items that have no provider yet, then start
    keep_timers: Callable[[Saga], dict]  # the timers that mean something in the current state
    events: Mapping[
        SagaState, Callable[[Saga, str], Message]
    ]  # the booking event a state publishes
    cancellation: Callable[[Run, BookingCancellationRequested], None]  # the customer asks to cancel
    retry_cancellation: Callable[[Run, str], None]  # an operator retries a cancellation that failed
    _by_kind: dict[str, StepDef] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_kind.update({s.kind: s for s in self.steps + self.undo_steps})

    def step(self, kind: str) -> StepDef:
        return self._by_kind[kind]


# ---- deterministic command ids --------------------------------------------------------------

# The same saga and step name always give the same id, so a decision recomputed after a crash
# sends the very command it sent before.
COMMAND_NS = uuid.UUID("6b3c1c52-3c1e-4a47-9b1e-2f0c5b9e7a10")


def command_id(booking_id: str, step_name: str) -> uuid.UUID:
    return uuid.uuid5(COMMAND_NS, f"{booking_id}/{step_name}")


# ---- one input, applied ------------------------------------------------------------------------


def apply(saga: Saga, event: Input, ctx: Context, definition: Definition) -> Decision:
    """Apply one input to a copy of the saga. Raises NotAllowed for an operator action that
    makes no sense now."""
    run = Run(copy.deepcopy(saga), ctx, definition)
    if isinstance(event, ReplyReceived):
        run.reply(event.message)
    elif isinstance(event, DeadlineDue):
        run.deadline(event.name)
    elif isinstance(event, CancellationRequested):
        definition.cancellation(run, event.message)
    elif isinstance(event, OperatorAction):
        run.operator(event)
    else:  # pragma: no cover
        raise TypeError(event)
    return run.finish(saga)


class Run:
    """One application of a saga definition to one input."""

    def __init__(self, saga: Saga, ctx: Context, definition: Definition) -> None:
        self.saga = saga
        self.ctx = ctx
        self.d = definition
        self.decision = Decision(saga=saga)
        self.reviving = False  # an operator retry: undo steps that ran out of attempts go again
        # Indexed once (a saga's items are fixed when it starts); the first of a shared id
        # wins, as in Saga.item.
        self.items = {it.item_id: it for it in reversed(saga.items)}

    def item(self, item_id: str | None) -> Item | None:
        return self.items.get(item_id) if item_id is not None else None

    def wait(self, attempt: int) -> timedelta:
        """How long send number `attempt` of a command waits for its answer (backing off)."""
        p = self.ctx.policy
        return timedelta(
            seconds=min(p.step_timeout_s * p.backoff ** max(attempt - 1, 0), p.max_step_timeout_s)
        )

    @property
    def now(self) -> datetime:
        return self.ctx.now

    @property
    def all_or_nothing(self) -> bool:
        return self.saga.mode == "all_or_nothing"

    def note(self, text: str) -> None:
        self.decision.note = f"{self.decision.note}; {text}" if self.decision.note else text

    def publish(self, topic: str, message: Message) -> None:
        self.decision.sends.append(Send(topic, message))

    def finish(self, before: Saga | None) -> Decision:
        """Keep the timers that mean something now; stamp a changed saga."""
        s = self.saga
        s.timers = self.d.keep_timers(s)
        if before is not None and s != before:
            s.updated_at = self.now
        return self.decision

    # ---- replies: matched to a step, read once --------------------------------------------

    def reply(self, msg: Message) -> None:
        kind = msg.type_name()
        s = self.saga
        if isinstance(msg, ItemHoldLapsed):
            item = self.items.get(msg.item_id)
            if item is None:
                self.note(f"ItemHoldLapsed for unknown item {msg.item_id}")
                return
            self.d.lapsed(
                self, item, f"hold {msg.hold_id or ''} lapsed at {msg.expired_at.isoformat()}"
            )
            self.settle()
            return
        cid = getattr(msg, "command_id", None)
        step = next((st for st in s.steps.values() if st.command.command_id == cid), None)
        if step is None:
            self.note(f"{kind} answers no command of this saga; ignored")
            return
        item_id = getattr(msg, "item_id", None)
        if item_id is not None and item_id != step.item_id:
            self.note(f"{kind} names {item_id} but {step.name} is for {step.item_id}; ignored")
            return
        spec = self.d.step(step.kind)
        answer = spec.replies.get(type(msg))
        if answer is None:
            self.note(f"{kind} is not an answer to {step.kind}; ignored")
            return
        step.reply = kind
        item = self.item(step.item_id)
        if step.status in answer.repeats:
            self.note(f"duplicate {kind}")
        elif step.phase != Phase.FORWARD:  # an undo answered: late or not, it counts
            self.close(step, answer.closes)
            answer.fresh(self, step, item, msg)
            self.undo_moved()
        elif step.status in OPEN_STEP and s.state in spec.waits_in:
            self.close(step, answer.closes)
            answer.fresh(self, step, item, msg)
            self.settle()
        elif answer.late is not None:
            self.close(step, answer.closes)
            answer.late(self, step, item, msg)
        else:
            self.note(f"late {kind}; ignored")

    # ---- deadlines --------------------------------------------------------------------------

    def deadline(self, name: str) -> None:
        s, now = self.saga, self.now
        if name.startswith("timer:"):
            timer = name.removeprefix("timer:")
            due = s.timers.get(timer)
            if due is None or due > now:
                self.note(f"{name} no longer due")
                return
            del s.timers[timer]
            self.d.timers[timer](self)
            self.settle()
            return
        step = s.steps.get(name)
        if (
            step is None
            or step.status != StepStatus.SENT
            or step.deadline_at is None
            or step.deadline_at > now
        ):
            self.note(f"deadline {name} no longer due")
            return
        spec = self.d.step(step.kind)
        item = self.item(step.item_id)
        if spec.resend_forever and step.phase == Phase.FORWARD:
            self.resend(step)
            self.note(f"no answer to {name}: sent again (send {step.attempts}), never given up")
            spec.on_timeout(self, step, item)
            return
        if step.attempts < self.max_attempts(step):
            self.resend(step)
            self.note(f"no answer to {name}: sent again (send {step.attempts})")
            return
        self.close(step, StepStatus.EXHAUSTED)
        spec.on_timeout(self, step, item)
        if step.phase == Phase.FORWARD:
            self.settle()
        else:
            self.undo_moved()

    def max_attempts(self, step: Step) -> int:
        p = self.ctx.policy
        return p.step_max_attempts if step.phase == Phase.FORWARD else p.compensation_max_attempts

    # ---- going forward, in the table's order ---------------------------------------------------

    def enter(self, spec: StepDef, reason: str) -> None:
        """Move to a forward step's state and send its command(s), per item in parallel. The
        row's builder makes every command of the step in one call."""
        assert spec.state is not None and spec.command is not None
        self.transition(spec.state, reason)
        flow = spec.items
        if flow is None:
            items: list[Item] = []
            targets: list[Item | None] = [None]  # one command for the booking
        else:
            items = [it for it in self.saga.items if it.status == flow.takes and not it.failure]
            targets = [*items]
        names: list[str] = []
        for target in targets:
            names.append(self.step_name(spec.kind, Phase.FORWARD, target, names))
        ids = [command_id(self.saga.booking_id, name) for name in names]
        commands = spec.command(self.saga, items, ids)
        for name, target, command in zip(names, targets, commands, strict=True):
            self.add_step(name, spec.kind, Phase.FORWARD, target, command)
        if flow is None:
            return
        for it in items:
            it.status = flow.sending
            reserves = it.hold_capable or not spec.reserves_only_with_hold
            it.exposure = Exposure.MAYBE if reserves else Exposure.NONE

    def start(self, reason: str) -> None:
        self.enter(self.d.steps[0], reason)

    def settle(self) -> None:
        """When every participant of the current step has answered (or was given up on), go
        to the next step in the table, or compensate if not enough went through."""
        s = self.saga
        spec = next((st for st in self.d.steps if s.state in st.waits_in), None)
        if spec is None or any(
            st.kind == spec.kind and st.phase == Phase.FORWARD and st.status in OPEN_STEP
            for st in s.steps.values()
        ):
            return
        if spec.items is not None:
            through = [it for it in s.items if it.status == spec.items.through]
            if not through or (
                self.all_or_nothing and len(through) < len([it for it in s.items if not it.failure])
            ):
                self.compensate(spec.nothing)
                return
        reason = spec.done[1] if s.failure_reasons else spec.done[0]
        kinds = [st.kind for st in self.d.steps]
        following = kinds.index(spec.kind) + 1
        if following < len(kinds):
            self.enter(self.d.steps[following], reason)
        else:
            self.transition(self.d.done, reason)
            self.d.after_done(self)

    # ---- state changes ----------------------------------------------------------------------

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
        event = self.d.events.get(to)
        if event is not None:
            self.publish(BOOKING_EVENTS, event(s, reason))

    def settle_to(self, state: SagaState, reason: str) -> None:
        if self.saga.state != state:
            self.transition(state, reason)

    def escalate(self, why: str) -> None:
        """Flag the saga for operators without changing its course (listed with the stuck ones)."""
        s = self.saga
        if s.attention is None:
            s.attention = why[:500]
            s.attention_at = self.now
            self.note(f"escalated to operators: {why}")

    def fail(
        self, item: Item | None, code: str, detail: str, status: ItemStatus | None = None
    ) -> None:
        """Record why the booking (or an item of it) did not go through."""
        reason = FailureReason(
            item_id=item.item_id if item else None, code=code, detail=detail[:500]
        )
        if item is not None:
            item.failure = reason
            if status is not None:
                item.status = status
        if reason not in self.saga.failure_reasons:
            self.saga.failure_reasons.append(reason)

    # ---- steps ------------------------------------------------------------------------------

    def send(
        self, kind: str, phase: Phase, item: Item | None, build: Callable[[uuid.UUID], Command]
    ) -> Step:
        """Create a step, send its command and start its deadline."""
        name = self.step_name(kind, phase, item)
        return self.add_step(name, kind, phase, item, build(command_id(self.saga.booking_id, name)))

    def step_name(
        self, kind: str, phase: Phase, item: Item | None, taken: list[str] | None = None
    ) -> str:
        """A new step's name: unique in the saga (and among the names `taken` alongside it)."""
        base = f"{kind}:{item.item_id}" if item is not None else kind
        if phase == Phase.CANCELLATION:
            base = f"cancellation-{base}"
        name, n = base, 1
        while name in self.saga.steps or (taken is not None and name in taken):
            n += 1
            name = f"{base}#{n}"
        return name

    def add_step(
        self, name: str, kind: str, phase: Phase, item: Item | None, command: Command
    ) -> Step:
        step = Step(
            name=name,
            kind=kind,
            phase=phase,
            command=command,
            item_id=item.item_id if item else None,
            status=StepStatus.SENT,
            attempts=1,
            deadline_at=self.now + self.wait(1),
            created_at=self.now,
        )
        self.saga.steps[name] = step
        self.decision.sends.append(Send(self.topic(kind, item), step.command, step=name))
        return step

    def topic(self, kind: str, item: Item | None) -> str:
        topic = self.d.step(kind).topic
        if topic is not None:
            return topic
        assert item is not None
        return item.commands_topic

    def resend(self, step: Step, reset: bool = False) -> None:
        """The same command again, same command id: idempotent downstream."""
        step.attempts = 1 if reset else step.attempts + 1
        step.status = StepStatus.SENT
        step.deadline_at = self.now + self.wait(step.attempts)
        item = self.item(step.item_id)
        self.decision.sends.append(Send(self.topic(step.kind, item), step.command, step=step.name))

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

    def ensure(
        self, kind: str, phase: Phase, item: Item | None, build: Callable[[uuid.UUID], Command]
    ) -> None:
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

    def open_steps(self, phase: Phase | None = None) -> list[Step]:
        return [
            s
            for s in self.saga.steps.values()
            if s.status in OPEN_STEP and (phase is None or s.phase == phase)
        ]

    # ---- compensation: the steps' undos in reverse order ----------------------------------------

    def compensate(self, reason: str) -> None:
        """Stop going forward and undo, in reverse order of the definition's steps."""
        s = self.saga
        if s.state in (SagaState.COMPENSATING, SagaState.COMPENSATION_FAILED) or s.state in FINAL:
            return
        for st in s.steps.values():
            if st.phase == Phase.FORWARD and st.status in OPEN_STEP:
                self.close(st, StepStatus.ABANDONED)
        s.timers.clear()
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
        self.d.unwound(self)

    def stage_to_come(self, kind: str) -> bool:
        """Compensation is under way and has not yet reached the undo of step `kind`."""
        s = self.saga
        if s.state != SagaState.COMPENSATING:
            return False
        stages = [st.kind for st in reversed(self.d.steps)]
        return s.compensation_stage in stages and stages.index(s.compensation_stage) < stages.index(
            kind
        )

    def undo_moved(self) -> None:
        """An undo step was answered or gave up: the compensation may go on (or end)."""
        if self.saga.state == SagaState.COMPENSATING:
            if not self.open_steps(Phase.COMPENSATION):
                self.advance_compensation()
        else:
            self.d.undo_moved(self)

    # ---- operators ------------------------------------------------------------------------------

    def operator(self, event: OperatorAction) -> None:
        s = self.saga
        who = f"{event.actor}: {event.reason}" if event.reason else event.actor
        if event.action == "pause":
            if s.state in FINAL:
                raise NotAllowed(f"a {s.state.value} saga has nothing to pause")
            s.paused = True
        elif event.action == "resume":
            s.paused = False
        elif event.action == "compensate":
            if s.state in FORWARD:
                self.fail(None, "operator_compensation", who)
                if s.state == SagaState.REQUESTED:
                    self.settle_to(SagaState.FAILED, f"failed by an operator ({who})")
                else:
                    self.compensate(f"compensation forced by an operator ({who})")
            elif s.state == SagaState.COMPENSATION_FAILED and s.unwinding == "compensation":
                self.rerun_compensation(who)
            else:
                raise NotAllowed(f"cannot force compensation in {s.state.value}")
        elif event.action == "retry":
            if s.state == SagaState.REQUESTED:
                directory = self.ctx.directory
                missing = sorted(
                    {
                        it.booking_type
                        for it in s.items
                        if not it.provider and not route(directory, it.booking_type)
                    }
                )
                if missing and self.all_or_nothing:
                    raise NotAllowed(f"still no provider for {', '.join(missing)}")
                s.timers.clear()  # REQUESTED has only the routing timer
                self.d.route_again(self)
            elif s.state == SagaState.COMPENSATION_FAILED:
                if s.unwinding == "cancellation":
                    self.d.retry_cancellation(self, who)
                else:
                    self.rerun_compensation(who)
            elif s.state in FORWARD or s.state in (SagaState.COMPENSATING, SagaState.CANCELLING):
                in_flight = [st for st in s.steps.values() if st.status == StepStatus.SENT]
                if not in_flight:
                    raise NotAllowed(f"nothing in flight to retry in {s.state.value}")
                for st in in_flight:
                    self.resend(st, reset=True)
                s.attention = None  # seen to by an operator; raised again if the silence goes on
                s.attention_at = None
            else:
                raise NotAllowed(f"nothing to retry in {s.state.value}")
        self.note(f"{event.action} by {who}")

    def rerun_compensation(self, who: str) -> None:
        self.reviving = True
        self.saga.compensation_stage = None
        self.transition(SagaState.COMPENSATING, f"compensation retried by an operator ({who})")
        self.advance_compensation()
