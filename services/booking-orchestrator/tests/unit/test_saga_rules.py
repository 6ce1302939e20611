"""The saga's rules beyond state and command names: amounts, ids, payloads, events."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking_shared.money import Money
from orchestrator.domain.definition import DEFINITION
from orchestrator.domain.model import (
    DeadlineDue,
    OperatorAction,
    ReplyReceived,
    SagaState,
    StepStatus,
)
from orchestrator.domain.saga import decide, start

from .sagas import (
    NOW,
    action_required,
    apply,
    authorized,
    authorizing,
    cancellation,
    cancelled,
    cancelling,
    captured,
    capturing,
    compensating_after_hold_rejected,
    confirmed,
    confirmed_saga,
    confirming,
    ctx,
    held,
    holding,
    payment_failed,
    refunded,
    rejected,
    reply,
    request,
    voided,
)


def test_the_payment_hold_is_the_exact_sum_of_what_the_partners_hold() -> None:
    s = holding(held_ids=("item-1", "item-2"))
    d = apply(s, ReplyReceived(held(s, "item-3", price=2500)))
    auth = d.saga.steps["authorize"].command
    assert auth.amount == Money(amount_minor=4000 + 3000 + 2500, currency="EUR")  # type: ignore[attr-defined]
    assert auth.customer_id == "cus_1" and auth.payment_method_id == "pm_1"  # type: ignore[attr-defined]


def test_best_effort_authorizes_and_captures_only_what_it_could_book() -> None:
    s = holding("best_effort", ("item-1", "item-3"))
    s = reply(s, rejected(s, "hold:item-2"))
    assert s.steps["authorize"].command.amount.amount_minor == 4000 + 3000  # type: ignore[attr-defined]
    s = reply(s, authorized(s))
    s = reply(s, confirmed(s, "item-1"))
    s = reply(s, rejected(s, "confirm:item-3", "slot_taken"))
    assert s.state == SagaState.CAPTURING
    assert s.steps["capture"].command.amount.amount_minor == 4000  # type: ignore[attr-defined]
    d = apply(s, ReplyReceived(captured(s)))
    event = [x.message for x in d.events if x.message.type_name() == "BookingConfirmed"][0]
    assert [i.item_id for i in event.items] == ["item-1"]  # type: ignore[attr-defined]
    assert {f.item_id for f in event.failed_items} == {"item-2", "item-3"}  # type: ignore[attr-defined]
    assert event.amount_captured.amount_minor == 4000  # type: ignore[attr-defined]


def test_a_resend_after_a_deadline_carries_the_same_command_id() -> None:
    s = holding()
    first = s.steps["hold:item-1"]
    d = decide(s, DeadlineDue("hold:item-1"), ctx(first.deadline_at))  # type: ignore[arg-type]
    again = d.commands[0].message
    assert again.command_id == first.command_id  # type: ignore[attr-defined]
    assert d.saga.steps["hold:item-1"].attempts == 2
    # The wait grows: 10 s, then 20 s.
    assert d.saga.steps["hold:item-1"].deadline_at == first.deadline_at + timedelta(seconds=20)  # type: ignore[operator]


def test_command_ids_are_stable_so_a_recomputed_decision_sends_the_same_commands() -> None:
    a, b = start(request(), ctx()), start(request(), ctx())
    assert [c.message.command_id for c in a.commands] == [c.message.command_id for c in b.commands]  # type: ignore[attr-defined]


def test_the_sealed_guest_goes_to_the_partners_untouched() -> None:
    s = authorizing()
    d = apply(s, ReplyReceived(authorized(s)))
    assert {c.message.guest for c in d.commands} == {"sealed-guest"}  # type: ignore[attr-defined]


def test_3ds_keeps_the_client_secret_and_the_window_ends_when_a_hold_would() -> None:
    s = holding(held_ids=("item-2", "item-3"))
    s = reply(s, held(s, "item-1", expires_in_s=120))
    s = reply(s, action_required(s))
    assert s.state == SagaState.ACTION_REQUIRED
    assert s.payment.client_secret == "pi_1_secret_x"
    assert s.timers["action_window"] == NOW + timedelta(
        seconds=120
    )  # the hold expires before 600 s
    s = reply(s, authorized(s))
    assert s.state == SagaState.CONFIRMING and s.payment.client_secret is None


def test_a_booking_confirmed_event_names_every_confirmation_code() -> None:
    s = confirmed_saga()
    assert s.state == SagaState.CONFIRMED
    assert {it.confirmation_code for it in s.items} == {"C-item-1", "C-item-2", "C-item-3"}
    assert s.payment.captured == Money(amount_minor=10000, currency="EUR")


def test_cancellation_refunds_the_sum_of_what_each_policy_gives_back() -> None:
    s = cancelling()
    s = reply(s, cancelled(s, "cancellation-cancel:item-1", refund=4000, was_confirmed=True))
    s = reply(
        s, cancelled(s, "cancellation-cancel:item-2", refund=1500, fee=1500, was_confirmed=True)
    )
    s = reply(s, cancelled(s, "cancellation-cancel:item-3", refund=0, fee=3000, was_confirmed=True))
    refund = s.steps["cancellation-refund"].command
    assert refund.amount == Money(amount_minor=5500, currency="EUR")  # type: ignore[attr-defined]
    d = apply(s, ReplyReceived(refunded(s, "cancellation-refund")))
    assert d.saga.state == SagaState.CANCELLED
    event = [x.message for x in d.events if x.message.type_name() == "BookingCancelled"][0]
    assert event.total_refunded.amount_minor == 5500  # type: ignore[attr-defined]
    assert {(r.item_id, r.refunded.amount_minor, r.fee.amount_minor) for r in event.refunds} == {  # type: ignore[attr-defined]
        ("item-1", 4000, 0),
        ("item-2", 1500, 1500),
        ("item-3", 0, 3000),
    }


def test_a_late_hold_after_the_booking_failed_is_released_with_a_new_command_id() -> None:
    s = compensating_after_hold_rejected()
    s = reply(s, cancelled(s, "cancel:item-1"))
    s = reply(s, cancelled(s, "cancel:item-3"))
    assert s.state == SagaState.FAILED
    d = apply(s, ReplyReceived(held(s, "item-3")))
    again = d.commands[0].message
    assert again.type_name() == "CancelItem" and again.item_id == "item-3"  # type: ignore[attr-defined]
    assert again.command_id != s.steps["cancel:item-3"].command_id  # type: ignore[attr-defined]
    assert d.saga.state == SagaState.FAILED


def test_an_item_without_hold_capability_needs_no_release_but_a_booked_one_is_cancelled() -> None:
    s = holding(
        held_ids=("item-2",)
    )  # item-2: the provider has no hold; its "hold" was an availability check
    s = reply(s, rejected(s, "hold:item-1"))
    assert "cancel:item-2" not in s.steps
    s = confirming(confirmed_ids=("item-2",))
    s = reply(s, rejected(s, "confirm:item-1", "slot_taken"))
    assert "cancel:item-2" in s.steps


def test_failure_reasons_name_the_item_and_the_partners_code() -> None:
    s = holding(held_ids=("item-1",))
    s = reply(s, rejected(s, "hold:item-2", "sold_out"))
    assert [(r.item_id, r.code) for r in s.failure_reasons] == [("item-2", "sold_out")]


def test_the_saga_records_its_definition_version_and_refuses_an_unknown_one() -> None:
    s = holding()
    assert s.definition_version == DEFINITION.version == 1
    s.definition_version = 99
    with pytest.raises(ValueError, match="unknown definition version"):
        apply(s, OperatorAction("pause", "ops:alice"))


def test_pause_and_resume_flip_the_flag_only() -> None:
    s = confirming()
    paused = apply(s, OperatorAction("pause", "ops:alice")).saga
    assert paused.paused and paused.state == s.state
    assert not apply(paused, OperatorAction("resume", "ops:alice")).saga.paused


def test_a_capture_failure_voids_only_after_every_item_is_cancelled() -> None:
    s = capturing()
    s = reply(s, payment_failed(s, "capture", "capture", "card_declined"))
    assert "void" not in s.steps
    for i in ("item-1", "item-2", "item-3"):
        s = reply(s, cancelled(s, f"cancel:{i}", was_confirmed=True))
    assert s.steps["void"].status == StepStatus.SENT
    d = apply(s, ReplyReceived(voided(s)))
    assert d.saga.state == SagaState.FAILED
    failed = [x.message for x in d.events if x.message.type_name() == "BookingFailed"][0]
    assert [r.code for r in failed.reasons] == ["card_declined"]  # type: ignore[attr-defined]


def test_a_cancellation_requested_during_capture_runs_right_after_it() -> None:
    s = capturing()
    s = apply(s, cancellation(s)).saga
    d = apply(s, ReplyReceived(captured(s)))
    assert [t[1] for t in d.transitions] == [SagaState.CONFIRMED, SagaState.CANCELLING]
    assert sorted(c.message.type_name() for c in d.commands) == ["CancelItem"] * 3


def test_a_refused_void_refunds_what_the_capture_asked_for_in_best_effort() -> None:
    s = confirming("best_effort", ("item-1", "item-2"))
    s = reply(s, rejected(s, "confirm:item-3", "slot_taken"))
    s = reply(s, cancelled(s, "cancel:item-3"))  # its hold released
    capture = s.steps["capture"]
    # A capture the payment service reports failed (it may still have gone through at Stripe).
    s = reply(s, payment_failed(s, "capture", "capture", "processing_error"))
    assert s.state == SagaState.COMPENSATING
    for i in ("item-1", "item-2"):
        s = reply(s, cancelled(s, f"cancel:{i}", was_confirmed=True))
    s = reply(s, payment_failed(s, "void", "void", "already_captured"))
    refund = s.steps["refund"].command
    assert refund.amount == capture.command.amount  # type: ignore[attr-defined]
    assert refund.amount.amount_minor == 4000 + 3000  # type: ignore[attr-defined]
    s = reply(s, refunded(s, "refund"))
    assert s.state == SagaState.FAILED
