"""Every transition of the saga, table-style: given a saga in a state and one input, expect the
new state and exactly these commands and booking events. Pure function only: no I/O."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from booking_shared.contracts import PaymentCaptured
from booking_shared.money import Money
from orchestrator.domain.model import (
    DeadlineDue,
    Input,
    NotAllowed,
    OperatorAction,
    ReplyReceived,
    Saga,
    SagaState,
)
from orchestrator.domain.saga import decide, start

from .sagas import (
    DIRECTORY,
    NOW,
    RESTAURANTS,
    action_required,
    apply,
    authorized,
    authorizing,
    cancellation,
    cancelled,
    cancelling,
    capturing,
    compensating_after_capture_failed,
    compensating_after_hold_rejected,
    confirmed,
    confirmed_saga,
    confirming,
    ctx,
    declined,
    held,
    holding,
    lapsed,
    payment_failed,
    refunded,
    rejected,
    reply,
    request,
    sends,
    voided,
    waiting_for_3ds,
)

R = ReplyReceived


@dataclass
class Row:
    name: str
    given: Callable[[], Saga]
    event: Callable[[Saga], Input]
    state: SagaState
    sends: list[str]
    at: Callable[[Saga], datetime] = lambda s: NOW


def due(name: str) -> Callable[[Saga], datetime]:
    return lambda s: s.steps[name].deadline_at  # type: ignore[return-value]


def exhaust(saga: Saga, name: str) -> Saga:
    """Let a step's deadline pass until only its last send is left."""
    while saga.steps[name].attempts < 3:
        saga = apply(saga, DeadlineDue(name), saga.steps[name].deadline_at).saga  # type: ignore[arg-type]
    return saga


def timer(name: str) -> Callable[[Saga], datetime]:
    return lambda s: s.timers[name]


def after_cancels(saga: Saga, names: list[str]) -> Saga:
    for n in names:
        saga = reply(saga, cancelled(saga, n))
    return saga


S = SagaState


def cancelling_refunding() -> Saga:
    """Cancelling, items 1 and 2 cancelled with refunds, item 3 still cancelling."""
    s = cancelling()
    s = reply(s, cancelled(s, "cancellation-cancel:item-1", refund=4000, was_confirmed=True))
    return reply(
        s, cancelled(s, "cancellation-cancel:item-2", refund=1500, fee=1500, was_confirmed=True)
    )


def capture_resent(times: int) -> Saga:
    """CAPTURING, the capture sent 1 + times times with no answer."""
    s = capturing()
    for _ in range(times):
        s = apply(s, DeadlineDue("capture"), s.steps["capture"].deadline_at).saga  # type: ignore[arg-type]
    return s


def cancelling_one_refused() -> Saga:
    """Cancelling: item-1 cancelled (40.00 back), item-2 refused by its partner, item-3 still cancelling."""
    s = cancelling()
    s = reply(s, cancelled(s, "cancellation-cancel:item-1", refund=4000, was_confirmed=True))
    return reply(s, rejected(s, "cancellation-cancel:item-2", "not_cancellable"))


ROWS = [
    # ---- HOLDING ----
    Row(
        "the last hold moves on to authorize the exact total",
        lambda: holding(held_ids=("item-1", "item-2")),
        lambda s: R(held(s, "item-3")),
        S.AUTHORIZING,
        ["AuthorizePayment"],
    ),
    Row(
        "a hold that is not the last waits for the others",
        lambda: holding(held_ids=("item-1",)),
        lambda s: R(held(s, "item-2")),
        S.HOLDING,
        [],
    ),
    Row(
        "an unavailable item compensates: release what is held or maybe held",
        lambda: holding(held_ids=("item-1",)),
        lambda s: R(rejected(s, "hold:item-2")),
        S.COMPENSATING,
        ["CancelItem:item-1", "CancelItem:item-3"],
    ),
    Row(
        "best effort: an unavailable item is left out and the others go on",
        lambda: holding("best_effort", ("item-1",)),
        lambda s: R(rejected(s, "hold:item-2")),
        S.HOLDING,
        [],
    ),
    Row(
        "best effort: the last hold after a rejection authorizes what was held",
        lambda: reply(
            holding("best_effort", ("item-1",)),
            rejected(holding("best_effort", ("item-1",)), "hold:item-2"),
        ),
        lambda s: R(held(s, "item-3")),
        S.AUTHORIZING,
        ["AuthorizePayment"],
    ),
    Row(
        "a higher price at the partner fails the booking",
        lambda: holding(held_ids=("item-1", "item-2")),
        lambda s: R(held(s, "item-3", price=99999)),
        S.COMPENSATING,
        ["CancelItem:item-1", "CancelItem:item-3"],
    ),
    Row(
        "a duplicate hold reply changes nothing",
        lambda: holding(held_ids=("item-1",)),
        lambda s: R(held(s, "item-1")),
        S.HOLDING,
        [],
    ),
    Row(
        "a hold deadline resends the same HoldItem",
        lambda: holding(held_ids=("item-1",)),
        lambda s: DeadlineDue("hold:item-2"),
        S.HOLDING,
        ["HoldItem:item-2"],
        at=due("hold:item-2"),
    ),
    Row(
        "a partner that never answers a hold compensates after the last resend",
        lambda: exhaust(holding(held_ids=("item-1", "item-2")), "hold:item-3"),
        lambda s: DeadlineDue("hold:item-3"),
        S.COMPENSATING,
        ["CancelItem:item-1", "CancelItem:item-3"],
        at=due("hold:item-3"),
    ),
    Row(
        "best effort: a silent partner's item is dropped (and released just in case)",
        lambda: exhaust(holding("best_effort", ("item-1", "item-2")), "hold:item-3"),
        lambda s: DeadlineDue("hold:item-3"),
        S.AUTHORIZING,
        ["AuthorizePayment", "CancelItem:item-3"],
        at=due("hold:item-3"),
    ),
    Row(
        "a hold expiring while holding compensates",
        lambda: holding(held_ids=("item-1",)),
        lambda s: DeadlineDue("timer:hold_expiry"),
        S.COMPENSATING,
        ["CancelItem:item-3"],
        at=timer("hold_expiry"),
    ),
    Row(
        "a cancellation before confirmation compensates",
        lambda: holding(held_ids=("item-1",)),
        lambda s: cancellation(s),
        S.COMPENSATING,
        ["CancelItem:item-1", "CancelItem:item-3"],
    ),
    # ---- AUTHORIZING ----
    Row(
        "an authorized payment confirms every item in parallel",
        authorizing,
        lambda s: R(authorized(s)),
        S.CONFIRMING,
        ["ConfirmItem:item-1", "ConfirmItem:item-2", "ConfirmItem:item-3"],
    ),
    Row(
        "a declined card releases the holds and voids nothing",
        authorizing,
        lambda s: R(declined(s)),
        S.COMPENSATING,
        ["CancelItem:item-1", "CancelItem:item-3"],
    ),
    Row(
        "3-D Secure parks the saga for the customer",
        authorizing,
        lambda s: R(action_required(s)),
        S.ACTION_REQUIRED,
        [],
    ),
    Row(
        "a payment failure while authorizing releases the holds",
        authorizing,
        lambda s: R(payment_failed(s, "authorize", "authorize", "processing_error")),
        S.COMPENSATING,
        ["CancelItem:item-1", "CancelItem:item-3"],
    ),
    Row(
        "an authorize deadline resends the same AuthorizePayment",
        authorizing,
        lambda s: DeadlineDue("authorize"),
        S.AUTHORIZING,
        ["AuthorizePayment"],
        at=due("authorize"),
    ),
    Row(
        "a silent payment service: void first (reverse order), holds after",
        lambda: exhaust(authorizing(), "authorize"),
        lambda s: DeadlineDue("authorize"),
        S.COMPENSATING,
        ["VoidPayment"],
        at=due("authorize"),
    ),
    Row(
        "a hold lapsing at the partner while authorizing compensates (void first)",
        authorizing,
        lambda s: R(lapsed(s, "item-1")),
        S.COMPENSATING,
        ["VoidPayment"],
    ),
    # ---- ACTION_REQUIRED ----
    Row(
        "3-D Secure completed: the same authorize command answers, items are confirmed",
        waiting_for_3ds,
        lambda s: R(authorized(s)),
        S.CONFIRMING,
        ["ConfirmItem:item-1", "ConfirmItem:item-2", "ConfirmItem:item-3"],
    ),
    Row(
        "3-D Secure failed: holds released",
        waiting_for_3ds,
        lambda s: R(declined(s)),
        S.COMPENSATING,
        ["CancelItem:item-1", "CancelItem:item-3"],
    ),
    Row(
        "the customer's window (or the holds) ran out: void, then release",
        waiting_for_3ds,
        lambda s: DeadlineDue("timer:action_window"),
        S.COMPENSATING,
        ["VoidPayment"],
        at=timer("action_window"),
    ),
    Row(
        "no resend while waiting for the customer",
        waiting_for_3ds,
        lambda s: DeadlineDue("authorize"),
        S.ACTION_REQUIRED,
        [],
        at=lambda s: NOW + timedelta(seconds=60),
    ),
    # ---- CONFIRMING ----
    Row(
        "a confirmation that is not the last waits",
        confirming,
        lambda s: R(confirmed(s, "item-1")),
        S.CONFIRMING,
        [],
    ),
    Row(
        "the last confirmation captures",
        lambda: confirming(confirmed_ids=("item-1", "item-2")),
        lambda s: R(confirmed(s, "item-3")),
        S.CAPTURING,
        ["CapturePayment"],
    ),
    Row(
        "a refused confirmation cancels the booked and in-flight items first (reverse order)",
        lambda: confirming(confirmed_ids=("item-1",)),
        lambda s: R(rejected(s, "confirm:item-2", "slot_taken")),
        S.COMPENSATING,
        ["CancelItem:item-1", "CancelItem:item-3"],
    ),
    Row(
        "best effort: a refused confirmation releases its hold and the rest goes on",
        lambda: confirming("best_effort", ("item-1", "item-2")),
        lambda s: R(rejected(s, "confirm:item-3", "partner_unavailable")),
        S.CAPTURING,
        ["CancelItem:item-3", "CapturePayment"],
    ),
    Row(
        "a confirm deadline resends the same ConfirmItem",
        confirming,
        lambda s: DeadlineDue("confirm:item-2"),
        S.CONFIRMING,
        ["ConfirmItem:item-2"],
        at=due("confirm:item-2"),
    ),
    Row(
        "a silent partner at confirmation: cancel what may be booked",
        lambda: exhaust(confirming(confirmed_ids=("item-1", "item-3")), "confirm:item-2"),
        lambda s: DeadlineDue("confirm:item-2"),
        S.COMPENSATING,
        ["CancelItem:item-1", "CancelItem:item-2", "CancelItem:item-3"],
        at=due("confirm:item-2"),
    ),
    Row(
        "the payment authorization lapsing before every item is confirmed compensates",
        confirming,
        lambda s: DeadlineDue("timer:authorization_expiry"),
        S.COMPENSATING,
        ["CancelItem:item-1", "CancelItem:item-2", "CancelItem:item-3"],
        at=timer("authorization_expiry"),
    ),
    # ---- CAPTURING ----
    Row(
        "a capture confirms the booking",
        capturing,
        lambda s: R(
            PaymentCaptured(
                booking_id=s.booking_id,
                command_id=s.steps["capture"].command_id,
                amount_captured=Money(amount_minor=10000, currency="EUR"),
            )
        ),
        S.CONFIRMED,
        ["BookingConfirmed"],
    ),
    Row(
        "a failed capture cancels every confirmed item",
        capturing,
        lambda s: R(payment_failed(s, "capture", "capture", "authorization_expired")),
        S.COMPENSATING,
        ["CancelItem:item-1", "CancelItem:item-2", "CancelItem:item-3"],
    ),
    Row(
        "a capture deadline resends the same CapturePayment",
        capturing,
        lambda s: DeadlineDue("capture"),
        S.CAPTURING,
        ["CapturePayment"],
        at=due("capture"),
    ),
    Row(
        "a cancellation during capture waits for the capture",
        capturing,
        lambda s: cancellation(s),
        S.CAPTURING,
        [],
    ),
    Row(
        "after the pivot a capture nobody answers is sent again (same id), never compensated",
        lambda: exhaust(capturing(), "capture"),
        lambda s: DeadlineDue("capture"),
        S.CAPTURING,
        ["CapturePayment"],
        at=due("capture"),
    ),
    Row(
        "a capture still unanswered after many sends is sent again, nothing is cancelled",
        lambda: capture_resent(8),
        lambda s: DeadlineDue("capture"),
        S.CAPTURING,
        ["CapturePayment"],
        at=due("capture"),
    ),
    Row(
        "a capture answered after several resends confirms the booking",
        lambda: capture_resent(5),
        lambda s: R(
            PaymentCaptured(
                booking_id=s.booking_id,
                command_id=s.steps["capture"].command_id,
                amount_captured=Money(amount_minor=10000, currency="EUR"),
            )
        ),
        S.CONFIRMED,
        ["BookingConfirmed"],
    ),
    Row(
        "a definite capture failure after several resends still compensates",
        lambda: capture_resent(5),
        lambda s: R(payment_failed(s, "capture", "capture", "authorization_expired")),
        S.COMPENSATING,
        ["CancelItem:item-1", "CancelItem:item-2", "CancelItem:item-3"],
    ),
    Row(
        "an operator retry of a silent capture resends it (same id)",
        lambda: capture_resent(4),
        lambda s: OperatorAction("retry", "ops:alice"),
        S.CAPTURING,
        ["CapturePayment"],
    ),
    # ---- COMPENSATING ----
    Row(
        "one release done, another still under way",
        compensating_after_hold_rejected,
        lambda s: R(cancelled(s, "cancel:item-1")),
        S.COMPENSATING,
        [],
    ),
    Row(
        "the last release ends in FAILED with BookingFailed",
        lambda: after_cancels(compensating_after_hold_rejected(), ["cancel:item-1"]),
        lambda s: R(cancelled(s, "cancel:item-3")),
        S.FAILED,
        ["BookingFailed"],
    ),
    Row(
        "a late hold while its release is on the way needs nothing more",
        compensating_after_hold_rejected,
        lambda s: R(held(s, "item-3")),
        S.COMPENSATING,
        [],
    ),
    Row(
        "after the items are cancelled the payment hold is voided",
        lambda: after_cancels(
            compensating_after_capture_failed(), ["cancel:item-1", "cancel:item-2"]
        ),
        lambda s: R(cancelled(s, "cancel:item-3")),
        S.COMPENSATING,
        ["VoidPayment"],
    ),
    Row(
        "the void ends the compensation",
        lambda: after_cancels(
            compensating_after_capture_failed(), ["cancel:item-1", "cancel:item-2", "cancel:item-3"]
        ),
        lambda s: R(voided(s)),
        S.FAILED,
        ["BookingFailed"],
    ),
    Row(
        "a refused void is followed by a refund, in case the money was taken",
        lambda: after_cancels(
            compensating_after_capture_failed(), ["cancel:item-1", "cancel:item-2", "cancel:item-3"]
        ),
        lambda s: R(payment_failed(s, "void", "void", "payment_intent_unexpected_state")),
        S.COMPENSATING,
        ["RefundPayment"],
    ),
    Row(
        "a compensation deadline resends the same CancelItem",
        compensating_after_hold_rejected,
        lambda s: DeadlineDue("cancel:item-1"),
        S.COMPENSATING,
        ["CancelItem:item-1"],
        at=due("cancel:item-1"),
    ),
    Row(
        "a release that never succeeds ends in COMPENSATION_FAILED",
        lambda: exhaust(
            after_cancels(compensating_after_hold_rejected(), ["cancel:item-3"]), "cancel:item-1"
        ),
        lambda s: DeadlineDue("cancel:item-1"),
        S.COMPENSATION_FAILED,
        [],
        at=due("cancel:item-1"),
    ),
    Row(
        "money captured late while compensating is refunded",
        compensating_after_capture_failed,
        lambda s: R(
            PaymentCaptured(
                booking_id=s.booking_id,
                command_id=s.steps["capture"].command_id,
                amount_captured=Money(amount_minor=10000, currency="EUR"),
            )
        ),
        S.COMPENSATING,
        ["RefundPayment"],
    ),
    # ---- FAILED / COMPENSATION_FAILED ----
    Row(
        "a late hold after the booking failed is released",
        lambda: after_cancels(
            compensating_after_hold_rejected(), ["cancel:item-1", "cancel:item-3"]
        ),
        lambda s: R(held(s, "item-3")),
        S.FAILED,
        ["CancelItem:item-3"],
    ),
    Row(
        "a duplicate release answer after the end changes nothing",
        lambda: after_cancels(
            compensating_after_hold_rejected(), ["cancel:item-1", "cancel:item-3"]
        ),
        lambda s: R(cancelled(s, "cancel:item-1")),
        S.FAILED,
        [],
    ),
    Row(
        "a late release answer finishes a COMPENSATION_FAILED saga",
        lambda: (
            apply(
                exhaust(
                    after_cancels(compensating_after_hold_rejected(), ["cancel:item-3"]),
                    "cancel:item-1",
                ),
                DeadlineDue("cancel:item-1"),
                NOW + timedelta(hours=1),
            ).saga
        ),
        lambda s: R(cancelled(s, "cancel:item-1")),
        S.FAILED,
        ["BookingFailed"],
    ),
    # ---- CONFIRMED / CANCELLING ----
    Row(
        "a cancellation after confirmation cancels every item",
        confirmed_saga,
        lambda s: cancellation(s),
        S.CANCELLING,
        ["CancelItem:item-1", "CancelItem:item-2", "CancelItem:item-3"],
    ),
    Row(
        "a cancellation by someone else is ignored",
        confirmed_saga,
        lambda s: cancellation(s, by="usr_other"),
        S.CONFIRMED,
        [],
    ),
    Row(
        "a duplicate capture answer changes nothing",
        confirmed_saga,
        lambda s: R(
            PaymentCaptured(
                booking_id=s.booking_id,
                command_id=s.steps["capture"].command_id,
                amount_captured=Money(amount_minor=10000, currency="EUR"),
            )
        ),
        S.CONFIRMED,
        [],
    ),
    Row(
        "one item cancelled, others still cancelling",
        cancelling,
        lambda s: R(cancelled(s, "cancellation-cancel:item-1", refund=4000, was_confirmed=True)),
        S.CANCELLING,
        [],
    ),
    Row(
        "every item cancelled: refund what the policies give back",
        lambda: reply(
            reply(
                cancelling(),
                cancelled(
                    cancelling(), "cancellation-cancel:item-1", refund=4000, was_confirmed=True
                ),
            ),
            cancelled(
                cancelling(),
                "cancellation-cancel:item-2",
                refund=1500,
                fee=1500,
                was_confirmed=True,
            ),
        ),
        lambda s: R(
            cancelled(s, "cancellation-cancel:item-3", refund=0, fee=3000, was_confirmed=True)
        ),
        S.CANCELLING,
        ["RefundPayment"],
    ),
    Row(
        "nothing to give back: cancelled at once",
        lambda: after_cancels(
            cancelling(), ["cancellation-cancel:item-1", "cancellation-cancel:item-2"]
        ),
        lambda s: R(cancelled(s, "cancellation-cancel:item-3")),
        S.CANCELLED,
        ["BookingCancelled"],
    ),
    Row(
        "a cancellation that cannot be done is visible to operators",
        lambda: exhaust(
            after_cancels(
                cancelling(), ["cancellation-cancel:item-1", "cancellation-cancel:item-2"]
            ),
            "cancellation-cancel:item-3",
        ),
        lambda s: DeadlineDue("cancellation-cancel:item-3"),
        S.COMPENSATION_FAILED,
        [],
        at=due("cancellation-cancel:item-3"),
    ),
    # ---- operators ----
    Row(
        "an operator forces compensation before capture",
        lambda: holding(held_ids=("item-1",)),
        lambda s: OperatorAction("compensate", "ops:alice", "partner incident"),
        S.COMPENSATING,
        ["CancelItem:item-1", "CancelItem:item-3"],
    ),
    Row(
        "an operator retry resends what is in flight, same ids",
        lambda: confirming(confirmed_ids=("item-1",)),
        lambda s: OperatorAction("retry", "ops:alice"),
        S.CONFIRMING,
        ["ConfirmItem:item-2", "ConfirmItem:item-3"],
    ),
    Row(
        "an operator pause changes no state and sends nothing",
        confirming,
        lambda s: OperatorAction("pause", "ops:alice"),
        S.CONFIRMING,
        [],
    ),
    Row(
        "an operator retry after COMPENSATION_FAILED resends the undo (same id)",
        lambda: (
            apply(
                exhaust(
                    after_cancels(compensating_after_hold_rejected(), ["cancel:item-3"]),
                    "cancel:item-1",
                ),
                DeadlineDue("cancel:item-1"),
                NOW + timedelta(hours=1),
            ).saga
        ),
        lambda s: OperatorAction("retry", "ops:alice"),
        S.COMPENSATING,
        ["CancelItem:item-1"],
    ),
    # ---- more payment outcomes ----
    Row(
        "a payment failure after 3-D Secure releases the holds",
        waiting_for_3ds,
        lambda s: R(payment_failed(s, "authorize", "authorize", "authentication_failed")),
        S.COMPENSATING,
        ["CancelItem:item-1", "CancelItem:item-3"],
    ),
    Row(
        "a late authorization while the void is on its way needs nothing more",
        lambda: (
            apply(
                exhaust(authorizing(), "authorize"),
                DeadlineDue("authorize"),
                NOW + timedelta(hours=1),
            ).saga
        ),
        lambda s: R(authorized(s)),
        S.COMPENSATING,
        [],
    ),
    Row(
        "a refused fallback refund means nothing was taken: the booking failed cleanly",
        lambda: reply(
            after_cancels(
                compensating_after_capture_failed(),
                ["cancel:item-1", "cancel:item-2", "cancel:item-3"],
            ),
            payment_failed(
                after_cancels(
                    compensating_after_capture_failed(),
                    ["cancel:item-1", "cancel:item-2", "cancel:item-3"],
                ),
                "void",
                "void",
                "intent_canceled",
            ),
        ),
        lambda s: R(payment_failed(s, "refund", "refund", "refund_exceeds_captured")),
        S.FAILED,
        ["BookingFailed"],
    ),
    Row(
        "money captured after the booking failed is refunded",
        lambda: reply(
            after_cancels(
                compensating_after_capture_failed(),
                ["cancel:item-1", "cancel:item-2", "cancel:item-3"],
            ),
            voided(
                after_cancels(
                    compensating_after_capture_failed(),
                    ["cancel:item-1", "cancel:item-2", "cancel:item-3"],
                )
            ),
        ),
        lambda s: R(
            PaymentCaptured(
                booking_id=s.booking_id,
                command_id=s.steps["capture"].command_id,
                amount_captured=Money(amount_minor=10000, currency="EUR"),
            )
        ),
        S.FAILED,
        ["RefundPayment"],
    ),
    Row(
        "the cancellation refund done: CANCELLED with the breakdown",
        lambda: reply(
            cancelling_refunding(),
            cancelled(cancelling_refunding(), "cancellation-cancel:item-3", was_confirmed=True),
        ),
        lambda s: R(refunded(s, "cancellation-refund")),
        S.CANCELLED,
        ["BookingCancelled"],
    ),
    Row(
        "a cancellation refund the payment service refuses is visible to operators",
        lambda: reply(
            cancelling_refunding(),
            cancelled(cancelling_refunding(), "cancellation-cancel:item-3", was_confirmed=True),
        ),
        lambda s: R(payment_failed(s, "cancellation-refund", "refund", "charge_disputed")),
        S.COMPENSATION_FAILED,
        [],
    ),
    Row(
        "a cancellation request while cancelling changes nothing",
        cancelling,
        lambda s: cancellation(s),
        S.CANCELLING,
        [],
    ),
    # ---- a partner refuses to cancel (past its window, seated, used) ----
    Row(
        "a partner's refusal to cancel one item: the others go on",
        cancelling,
        lambda s: R(rejected(s, "cancellation-cancel:item-2", "not_cancellable")),
        S.CANCELLING,
        [],
    ),
    Row(
        "after a refusal the last cancellation refunds what was cancelled",
        cancelling_one_refused,
        lambda s: R(cancelled(s, "cancellation-cancel:item-3", refund=1500, was_confirmed=True)),
        S.CANCELLING,
        ["RefundPayment"],
    ),
    Row(
        "the refund after a refusal ends PARTIALLY_CANCELLED with the per-item outcome",
        lambda: reply(
            cancelling_one_refused(),
            cancelled(
                cancelling_one_refused(),
                "cancellation-cancel:item-3",
                refund=1500,
                was_confirmed=True,
            ),
        ),
        lambda s: R(refunded(s, "cancellation-refund")),
        S.PARTIALLY_CANCELLED,
        ["BookingCancelled"],
    ),
    Row(
        "a refusal as the last answer, nothing to give back: PARTIALLY_CANCELLED at once",
        lambda: after_cancels(
            cancelling(), ["cancellation-cancel:item-1", "cancellation-cancel:item-3"]
        ),
        lambda s: R(rejected(s, "cancellation-cancel:item-2", "not_cancellable")),
        S.PARTIALLY_CANCELLED,
        ["BookingCancelled"],
    ),
    Row(
        "a refusal to cancel while compensating before the pivot is still a fault for operators",
        lambda: after_cancels(
            compensating_after_capture_failed(), ["cancel:item-2", "cancel:item-3"]
        ),
        lambda s: R(rejected(s, "cancel:item-1", "not_cancellable")),
        S.COMPENSATING,
        ["VoidPayment"],
    ),
    Row(
        "a new cancellation request after a partial cancellation changes nothing",
        lambda: after_cancels(
            reply(
                cancelling(),
                rejected(cancelling(), "cancellation-cancel:item-2", "not_cancellable"),
            ),
            ["cancellation-cancel:item-1", "cancellation-cancel:item-3"],
        ),
        lambda s: cancellation(s),
        S.PARTIALLY_CANCELLED,
        [],
    ),
    Row(
        "best effort: a hold lapsing while holding drops that item",
        lambda: holding("best_effort", ("item-1",)),
        lambda s: R(lapsed(s, "item-1")),
        S.HOLDING,
        [],
    ),
    Row(
        "an operator can pause a confirmed booking",
        confirmed_saga,
        lambda s: OperatorAction("pause", "ops:alice"),
        S.CONFIRMED,
        [],
    ),
    Row(
        "an operator compensate after COMPENSATION_FAILED runs the undo again",
        lambda: (
            apply(
                exhaust(
                    after_cancels(compensating_after_hold_rejected(), ["cancel:item-3"]),
                    "cancel:item-1",
                ),
                DeadlineDue("cancel:item-1"),
                NOW + timedelta(hours=1),
            ).saga
        ),
        lambda s: OperatorAction("compensate", "ops:alice"),
        S.COMPENSATING,
        ["CancelItem:item-1"],
    ),
    # ---- replies that answer nothing ----
    Row(
        "a reply to a command this saga never sent is ignored",
        confirming,
        lambda s: R(
            PaymentCaptured(
                booking_id=s.booking_id,
                command_id=uuid.uuid4(),
                amount_captured=Money(amount_minor=1, currency="EUR"),
            )
        ),
        S.CONFIRMING,
        [],
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_transition(row: Row) -> None:
    given = row.given()
    snapshot = repr(given)
    decision = decide(given, row.event(given), ctx(row.at(given)))
    assert decision.saga.state == row.state, decision.note
    assert sends(decision) == sorted(row.sends)
    # Every state change is published, in order, as SagaStateChanged.
    changes = [s.message for s in decision.sends if s.message.type_name() == "SagaStateChanged"]
    assert [(c.from_state, c.to_state) for c in changes] == [
        (a.value if a else None, b.value) for a, b, _ in decision.transitions
    ]
    assert repr(given) == snapshot, "the pure function must not change its input"


# ---- start (REQUESTED) -------------------------------------------------------------------------


def test_a_request_routes_items_by_booking_type_and_holds_them_all_at_once() -> None:
    d = start(request(), ctx())
    assert [t[1] for t in d.transitions] == [SagaState.REQUESTED, SagaState.HOLDING]
    topics = sorted(s.topic for s in d.commands)
    assert topics == [
        "provider.tables.commands.v1",
        "provider.tables.commands.v1",
        "provider.tickets.commands.v1",
    ]
    assert {s.message.item.id for s in d.commands} == {"item-1", "item-2", "item-3"}  # type: ignore[attr-defined]


def test_a_request_waits_for_a_provider_of_its_item_types_then_fails() -> None:
    d = start(request(), ctx(directory={"tables": RESTAURANTS}))
    assert d.saga.state == SagaState.REQUESTED and not d.commands
    later = d.saga.timers["route"]
    failed = decide(
        d.saga, DeadlineDue("timer:route"), ctx(later, directory={"tables": RESTAURANTS})
    )
    assert failed.saga.state == SagaState.FAILED
    assert sends(failed) == ["BookingFailed"]
    assert [r.code for r in failed.saga.failure_reasons] == ["no_provider"]


def test_a_request_waiting_for_a_provider_goes_on_once_it_is_announced() -> None:
    d = start(request(), ctx(directory={"tables": RESTAURANTS}))
    later = d.saga.timers["route"]
    going = decide(d.saga, DeadlineDue("timer:route"), ctx(later, directory=DIRECTORY))
    assert going.saga.state == SagaState.HOLDING
    assert sends(going) == ["HoldItem:item-1", "HoldItem:item-2", "HoldItem:item-3"]


def test_best_effort_books_what_has_a_provider() -> None:
    d = start(request("best_effort"), ctx(directory={"tables": RESTAURANTS}))
    going = decide(
        d.saga,
        DeadlineDue("timer:route"),
        ctx(d.saga.timers["route"], directory={"tables": RESTAURANTS}),
    )
    assert going.saga.state == SagaState.HOLDING
    assert sends(going) == ["HoldItem:item-1", "HoldItem:item-3"]


def test_an_item_in_another_currency_fails_the_request_before_anything_is_sent() -> None:
    its = request().items
    odd = its[0].model_copy(update={"cost": Money(amount_minor=2000, currency="USD")})
    d = start(request(booking_items=[odd, *its[1:]]), ctx())
    assert d.saga.state == SagaState.FAILED
    assert sends(d) == ["BookingFailed"]


def test_several_providers_of_one_type_the_latest_announcement_wins() -> None:
    newer = RESTAURANTS.__class__(
        **{
            **RESTAURANTS.__dict__,
            "name": "tables2",
            "commands_topic": "provider.tables2.commands.v1",
            "announced_at": NOW,
        }
    )
    d = start(request(), ctx(directory={**DIRECTORY, "tables2": newer}))
    assert d.saga.item("item-1").provider == "tables2"  # type: ignore[union-attr]


def test_operator_actions_that_make_no_sense_are_refused() -> None:
    with pytest.raises(NotAllowed):
        apply(confirmed_saga(), OperatorAction("compensate", "ops:alice"))
    with pytest.raises(NotAllowed):
        apply(confirmed_saga(), OperatorAction("retry", "ops:alice"))
