"""The booking saga, version 1: one table that reads like the diagram (README, "The saga").

    REQUESTED -> hold -> authorize (-> ACTION_REQUIRED) -> confirm -> capture -> CONFIRMED
                 any failure before capture -> COMPENSATING (undo in reverse order) -> FAILED
                 a definite capture failure -> COMPENSATING; a silent capture is resent, never undone
    CONFIRMED -> CANCELLING -> CANCELLED (or PARTIALLY_CANCELLED: a partner refused an item)

Each forward step names, in one row: its state, which items take part (and their statuses
while the command is out and once it went through), its command, how it reads each reply,
what a silence means, why the saga moves on, and its undo. The engine (`engine.py`) reads the
rows; the functions they name live in `steps.py`.
"""

from __future__ import annotations

from typing import Any

from booking_shared.contracts import (
    ItemCancelled,
    ItemConfirmed,
    ItemHeld,
    ItemRejected,
    PaymentActionRequired,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PaymentFailed,
    PaymentRefunded,
    PaymentVoided,
)
from booking_shared.contracts.topics import PAYMENT_COMMANDS
from orchestrator.domain.engine import ANSWERED, Answer, Definition, ItemFlow, StepDef
from orchestrator.domain.model import ItemStatus, SagaState, StepStatus
from orchestrator.domain.steps import (
    action_required,
    action_window_over,
    after_capture,
    authorization_expiring,
    authorize_command,
    authorize_failed,
    booking_cancelled,
    booking_confirmed,
    booking_failed,
    cancel_bookings,
    cancel_refused,
    cancellation_requested,
    capture_command,
    capture_failed,
    capture_unanswered,
    compensation_finished,
    confirm_commands,
    confirm_refused,
    confirm_refused_late,
    hold_commands,
    hold_lapsed,
    hold_refused,
    hold_refused_late,
    holds_expiring,
    item_cancelled,
    item_confirmed,
    item_confirmed_late,
    item_held,
    item_held_late,
    item_unanswered,
    noted,
    payment_authorized,
    payment_authorized_late,
    payment_captured,
    payment_captured_late,
    payment_declined,
    payment_refunded,
    payment_unanswered,
    payment_voided,
    refund_captured,
    refund_refused,
    release_holds,
    rerun_cancellation,
    route_again,
    timers_of,
    undo_moved,
    undo_unanswered,
    void_authorization,
    void_refused,
)

# ---- THE SAGA ----------------------------------------------------------------------------------
# Forward steps in order; compensation runs their undos backwards. Per-item steps run in
# parallel: ItemFlow(takes, while sending, through). Answer(fresh, late=..., closes=the step's
# status after it, repeats=the statuses after which it is a duplicate).

S, IS, FAILED, WAITING = SagaState, ItemStatus, StepStatus.FAILED, StepStatus.WAITING
REFUSAL: dict[str, Any] = dict(closes=FAILED, repeats=ANSWERED)

DEFINITION = Definition(
    version=1,
    steps=(
        StepDef(
            "hold",
            state=S.HOLDING,
            items=ItemFlow(IS.PENDING, IS.HOLDING, IS.HELD),
            command=hold_commands,
            reserves_only_with_hold=True,  # else HoldItem only checks availability
            replies={
                ItemHeld: Answer(item_held, late=item_held_late),
                ItemRejected: Answer(hold_refused, late=hold_refused_late, **REFUSAL),
            },
            on_timeout=item_unanswered,
            compensate=release_holds,
            done=("every item held", "held what could be held"),
            nothing="nothing could be held",
        ),
        StepDef(
            "authorize",
            state=S.AUTHORIZING,
            also_waits_in=(S.ACTION_REQUIRED,),
            command=authorize_command,
            topic=PAYMENT_COMMANDS,
            replies={
                PaymentAuthorized: Answer(payment_authorized, late=payment_authorized_late),
                PaymentActionRequired: Answer(
                    action_required, closes=WAITING, repeats=ANSWERED | {WAITING}
                ),
                PaymentDeclined: Answer(payment_declined, late=noted, **REFUSAL),
                PaymentFailed: Answer(authorize_failed, **REFUSAL),
            },
            on_timeout=payment_unanswered,
            compensate=void_authorization,
            done=("payment authorized", "payment authorized"),
        ),
        StepDef(
            "confirm",
            state=S.CONFIRMING,
            items=ItemFlow(IS.HELD, IS.CONFIRMING, IS.CONFIRMED),
            command=confirm_commands,
            replies={
                ItemConfirmed: Answer(item_confirmed, late=item_confirmed_late),
                ItemRejected: Answer(confirm_refused, late=confirm_refused_late, **REFUSAL),
            },
            on_timeout=item_unanswered,
            compensate=cancel_bookings,
            done=("every item confirmed", "confirmed what could be"),
            nothing="nothing could be confirmed",
        ),
        StepDef(
            "capture",
            state=S.CAPTURING,
            command=capture_command,
            topic=PAYMENT_COMMANDS,  # the pivot
            replies={
                PaymentCaptured: Answer(payment_captured, late=payment_captured_late),
                PaymentFailed: Answer(capture_failed, **REFUSAL),
            },
            on_timeout=capture_unanswered,
            resend_forever=True,
            compensate=refund_captured,
            done=("payment captured", "payment captured"),
        ),
    ),
    undo_steps=(
        StepDef(
            "cancel",
            replies={
                ItemCancelled: Answer(item_cancelled, repeats=ANSWERED),
                ItemRejected: Answer(cancel_refused, **REFUSAL),
            },
            on_timeout=undo_unanswered,
        ),
        StepDef(
            "void",
            topic=PAYMENT_COMMANDS,
            replies={
                PaymentVoided: Answer(payment_voided),
                PaymentFailed: Answer(void_refused, **REFUSAL),
            },
            on_timeout=undo_unanswered,
        ),
        StepDef(
            "refund",
            topic=PAYMENT_COMMANDS,
            replies={
                PaymentRefunded: Answer(payment_refunded),
                PaymentFailed: Answer(refund_refused, **REFUSAL),
            },
            on_timeout=undo_unanswered,
        ),
    ),
    done=S.CONFIRMED,
    after_done=after_capture,
    events={
        S.CONFIRMED: booking_confirmed,
        S.FAILED: booking_failed,
        S.CANCELLED: booking_cancelled,
        S.PARTIALLY_CANCELLED: booking_cancelled,
    },
    cancellation=cancellation_requested,
    retry_cancellation=rerun_cancellation,
    undo_moved=undo_moved,
    unwound=compensation_finished,
    lapsed=hold_lapsed,
    route_again=route_again,
    timers={
        "route": route_again,
        "action_window": action_window_over,
        "hold_expiry": holds_expiring,
        "authorization_expiry": authorization_expiring,
    },
    keep_timers=timers_of,
)

DEFINITIONS = {DEFINITION.version: DEFINITION}
