"""The saga's data: states, items, steps, timing policy, inputs and decisions. No I/O."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

from booking_shared.contracts import (
    BookingCancellationRequested,
    BookingItem,
    Capabilities,
    Command,
    FailureReason,
    Message,
)
from booking_shared.money import Money


class SagaState(StrEnum):
    REQUESTED = "REQUESTED"
    HOLDING = "HOLDING"
    AUTHORIZING = "AUTHORIZING"
    ACTION_REQUIRED = "ACTION_REQUIRED"
    CONFIRMING = "CONFIRMING"
    CAPTURING = "CAPTURING"
    CONFIRMED = "CONFIRMED"
    COMPENSATING = "COMPENSATING"
    FAILED = "FAILED"
    COMPENSATION_FAILED = "COMPENSATION_FAILED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"
    # The cancellation finished, but a partner refused to cancel some item (past its window,
    # already seated or used): those stand and stay paid; the rest was cancelled and refunded.
    PARTIALLY_CANCELLED = "PARTIALLY_CANCELLED"


# Before capture (the pivot) a failure compensates; from CAPTURING on only forward steps.
PRE_PIVOT = frozenset(
    {
        SagaState.REQUESTED,
        SagaState.HOLDING,
        SagaState.AUTHORIZING,
        SagaState.ACTION_REQUIRED,
        SagaState.CONFIRMING,
    }
)
FORWARD = PRE_PIVOT | {SagaState.CAPTURING}
# Nothing moves by itself any more (CONFIRMED still accepts a cancellation request).
SETTLED = frozenset(
    {
        SagaState.CONFIRMED,
        SagaState.FAILED,
        SagaState.CANCELLED,
        SagaState.PARTIALLY_CANCELLED,
        SagaState.COMPENSATION_FAILED,
    }
)
CANCELLATION = frozenset({SagaState.CANCELLING, SagaState.CANCELLED, SagaState.PARTIALLY_CANCELLED})
# Nothing will ever move again (no operator action either, but looking).
FINAL = frozenset({SagaState.FAILED, SagaState.CANCELLED, SagaState.PARTIALLY_CANCELLED})


class ItemStatus(StrEnum):
    PENDING = "PENDING"  # routed, nothing sent yet
    HOLDING = "HOLDING"  # HoldItem sent
    HELD = "HELD"  # held (or, without hold capability, seen available)
    CONFIRMING = "CONFIRMING"  # ConfirmItem sent
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"  # the partner said no (hold or confirm)
    FAILED = "FAILED"  # dropped by us: no answer, no provider, price changed, hold lapsed
    CANCELLING = "CANCELLING"  # CancelItem sent
    RELEASED = "RELEASED"  # a hold (or nothing) was released
    CANCELLED = "CANCELLED"  # a confirmed booking was cancelled
    CANCEL_FAILED = "CANCEL_FAILED"  # the partner could not be made to cancel
    NOT_CANCELLABLE = "NOT_CANCELLABLE"  # booked, and the partner refused to cancel it: it stands


class Exposure(StrEnum):
    """What the partner may hold for us; anything but NONE must be cancelled if the booking fails."""

    NONE = "none"
    MAYBE = "maybe"  # a command is (or was) in flight whose effect we have not seen
    HOLD = "hold"
    BOOKING = "booking"


class StepStatus(StrEnum):
    SENT = "SENT"  # command sent, deadline running
    WAITING = "WAITING"  # answered "not yet" (3-D Secure): waits for the customer, no resend
    DONE = "DONE"
    FAILED = "FAILED"  # a typed negative answer
    ABANDONED = "ABANDONED"  # superseded by compensation; a late answer is still read
    EXHAUSTED = "EXHAUSTED"  # no answer after the bounded resends


class Phase(StrEnum):
    FORWARD = "forward"
    COMPENSATION = "compensation"
    CANCELLATION = "cancellation"


OPEN_STEP = frozenset({StepStatus.SENT, StepStatus.WAITING})


@dataclass(frozen=True)
class ProviderInfo:
    """What a provider announced on provider.registry.v1."""

    name: str
    booking_types: tuple[str, ...]
    capabilities: Capabilities
    commands_topic: str
    replies_topic: str
    announced_at: datetime


@dataclass
class Item:
    item_id: str
    provider: str
    booking_type: str
    commands_topic: str
    hold_capable: bool
    hold_ttl_s: int | None
    spec: BookingItem
    price: Money  # the line total: requested, then what the partner held or confirmed
    status: ItemStatus = ItemStatus.PENDING
    exposure: Exposure = Exposure.NONE
    hold_id: str | None = None
    hold_expires_at: datetime | None = None
    confirmation_code: str | None = None
    partner_reference: str | None = None
    cancellation_policy: dict | None = None
    refund: Money | None = None
    fee: Money | None = None
    failure: FailureReason | None = None


@dataclass
class Step:
    """One command of the saga and what became of it. A resend reuses `command`."""

    name: str
    kind: str  # hold, authorize, confirm, capture, cancel, void, refund
    phase: Phase
    command: Command
    item_id: str | None = None
    status: StepStatus = StepStatus.SENT
    attempts: int = 1
    deadline_at: datetime | None = None
    reply: str | None = None  # type of the last answer
    created_at: datetime | None = None

    @property
    def command_id(self) -> uuid.UUID:
        return self.command.command_id


@dataclass
class Payment:
    customer_id: str
    payment_method_id: str
    payment_intent_id: str | None = None
    authorized: Money | None = None
    captured: Money | None = None
    refunded: Money | None = None
    capture_before: datetime | None = None
    client_secret: str | None = None


@dataclass
class Saga:
    booking_id: str
    user_id: str
    quote_id: str
    mode: Literal["all_or_nothing", "best_effort"]
    definition_version: int
    state: SagaState
    total: Money
    guest: str  # sealed; passed to ConfirmItem untouched
    payment: Payment
    items: list[Item]
    requested_at: datetime
    created_at: datetime
    updated_at: datetime
    state_changed_at: datetime
    steps: dict[str, Step] = field(default_factory=dict)
    timers: dict[str, datetime] = field(default_factory=dict)
    failure_reasons: list[FailureReason] = field(default_factory=list)
    paused: bool = False
    compensation_stage: str | None = (
        None  # the step whose undo runs (or ran last) in a compensation
    )
    cancel_requested: bool = (
        False  # CAPTURING: the customer asked to cancel; runs after the capture
    )
    # Set when the saga needs an operator without having failed (a capture nobody answers):
    # why, and since when. Listed with the stuck sagas; cleared by the next state change.
    attention: str | None = None
    attention_at: datetime | None = None
    version: int = 0  # rows written; bumped at each save

    @property
    def unwinding(self) -> Literal["compensation", "cancellation"] | None:
        """What the saga is undoing: the customer's cancellation after confirmation (its
        commands carry the cancellation phase), or a compensation before it (which has a stage)."""
        if self.state in CANCELLATION or any(
            st.phase == Phase.CANCELLATION for st in self.steps.values()
        ):
            return "cancellation"
        if self.compensation_stage is not None:
            return "compensation"
        return None

    def item(self, item_id: str | None) -> Item | None:
        for it in self.items:
            if it.item_id == item_id:
                return it
        return None

    def steps_of(
        self, kind: str | None = None, item_id: str | None = None, phase: Phase | None = None
    ) -> list[Step]:
        return [
            s
            for s in self.steps.values()
            if (kind is None or s.kind == kind)
            and (item_id is None or s.item_id == item_id)
            and (phase is None or s.phase == phase)
        ]

    def deadlines(self) -> dict[str, datetime]:
        """Every persisted deadline: open steps' and the saga's own timers (prefixed timer:)."""
        out = {
            s.name: s.deadline_at
            for s in self.steps.values()
            if s.status == StepStatus.SENT and s.deadline_at
        }
        out.update({f"timer:{k}": v for k, v in self.timers.items()})
        return out


@dataclass(frozen=True)
class Policy:
    """Deadlines and bounds (from settings; tests make them short). The engine turns them
    into the wait of each send (`Run.wait`)."""

    step_timeout_s: float = 10.0
    step_max_attempts: int = (
        3  # sends of a forward command before the saga compensates (not capture)
    )
    # After the pivot nothing compensates on a timeout: the capture is resent for ever (same
    # command id, backoff capped at max_step_timeout_s) and, after this many unanswered sends,
    # the saga is flagged for operators.
    escalate_after_sends: int = 3
    backoff: float = 2.0
    max_step_timeout_s: float = 120.0
    compensation_max_attempts: int = 8  # sends of a compensation command before COMPENSATION_FAILED
    action_window_s: float = 900.0  # how long the customer has for 3-D Secure
    route_wait_s: float = 10.0  # how long a booking waits for a provider of its item types


@dataclass(frozen=True)
class Context:
    now: datetime
    policy: Policy = Policy()
    directory: Mapping[str, ProviderInfo] = field(
        default_factory=dict
    )  # provider name -> announcement


# ---- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyReceived:
    message: Message  # a Reply, or ItemHoldLapsed


@dataclass(frozen=True)
class CancellationRequested:
    message: BookingCancellationRequested


@dataclass(frozen=True)
class DeadlineDue:
    name: str  # a step name, or timer:<name>


OperatorKind = Literal["retry", "compensate", "pause", "resume"]


@dataclass(frozen=True)
class OperatorAction:
    action: OperatorKind
    actor: str
    reason: str = ""


Input = ReplyReceived | CancellationRequested | DeadlineDue | OperatorAction


# ---- outputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    topic: str
    message: Message
    step: str | None = None  # the step a command belongs to


@dataclass
class Decision:
    saga: Saga
    sends: list[Send] = field(default_factory=list)
    transitions: list[tuple[SagaState | None, SagaState, str]] = field(default_factory=list)
    note: str = ""  # how the input was read (for the history)

    @property
    def commands(self) -> list[Send]:
        return [s for s in self.sends if isinstance(s.message, Command)]

    @property
    def events(self) -> list[Send]:
        return [s for s in self.sends if not isinstance(s.message, Command)]


class NotAllowed(Exception):
    """An operator action that makes no sense in the saga's state."""
