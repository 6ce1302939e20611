"""After the pivot only forward steps: a silent capture is resent (never undone) and escalated;
a cancellation a partner refuses for one item refunds the others and says so per item."""

from __future__ import annotations

from datetime import timedelta

from booking_shared.contracts import BookingCancelled
from booking_shared.money import Money
from orchestrator.domain.model import (
    DeadlineDue,
    ItemStatus,
    OperatorAction,
    ReplyReceived,
    SagaState,
    StepStatus,
)
from orchestrator.domain.saga import start

from .sagas import (
    POLICY,
    apply,
    authorized,
    cancellation,
    cancelled,
    captured,
    capturing,
    confirmed,
    ctx,
    held,
    refunded,
    rejected,
    reply,
    request,
)


def resend_capture(s, times: int):  # type: ignore[no-untyped-def]
    decisions = []
    for _ in range(times):
        d = apply(s, DeadlineDue("capture"), s.steps["capture"].deadline_at)
        decisions.append(d)
        s = d.saga
    return s, decisions


def test_a_silent_capture_is_resent_with_the_same_id_and_a_growing_capped_wait() -> None:
    s = capturing()
    first = s.steps["capture"]
    s, decisions = resend_capture(s, 10)
    ids = {c.message.command_id for d in decisions for c in d.commands}  # type: ignore[attr-defined]
    assert ids == {first.command_id}
    assert all(d.saga.state == SagaState.CAPTURING for d in decisions)
    assert all(not d.saga.failure_reasons for d in decisions)
    assert s.steps["capture"].attempts == 11 and s.steps["capture"].status == StepStatus.SENT
    waits = []
    for d in decisions:
        st = d.saga.steps["capture"]
        waits.append(st.deadline_at)
    gaps = [(b - a).total_seconds() for a, b in zip(waits, waits[1:], strict=False)]
    assert gaps[0] < gaps[1] < gaps[2]  # backoff
    assert max(gaps) == POLICY.max_step_timeout_s  # capped
    # No item was cancelled, nothing refunded: the customer keeps the confirmations.
    assert not [
        c for d in decisions for c in d.commands if c.message.type_name() != "CapturePayment"
    ]


def test_operators_are_called_once_after_the_configured_unanswered_sends() -> None:
    s = capturing()
    s, decisions = resend_capture(s, 2)
    assert s.attention is None  # 3 sends so far, 2 unanswered
    s, decisions = resend_capture(s, 1)  # the third send goes unanswered
    assert s.attention is not None and "capture" in s.attention
    assert s.attention_at is not None
    assert "escalated to operators" in decisions[0].note
    since = s.attention_at
    s, decisions = resend_capture(s, 3)
    assert s.attention_at == since, "escalated once, not at every resend"
    assert s.state == SagaState.CAPTURING


def test_the_flag_is_cleared_when_the_capture_is_answered_and_the_booking_confirmed() -> None:
    s, _ = resend_capture(capturing(), 4)
    assert s.attention
    d = apply(s, ReplyReceived(captured(s)))
    assert d.saga.state == SagaState.CONFIRMED
    assert d.saga.attention is None
    assert [x.message.type_name() for x in d.events if x.message.type_name() == "BookingConfirmed"]


def test_an_operator_retry_acknowledges_the_flag_and_resends_the_same_capture() -> None:
    s, _ = resend_capture(capturing(), 4)
    cid = s.steps["capture"].command_id
    d = apply(s, OperatorAction("retry", "ops:alice", "payment service back"))
    assert d.saga.attention is None
    assert [c.message.command_id for c in d.commands] == [cid]  # type: ignore[attr-defined]


def two_item_booking():  # type: ignore[no-untyped-def]
    """A dinner (restaurant, 2 x 20.00) and a concert (event, 1 x 30.00), confirmed and paid."""
    its = request().items[:2]
    s = start(request(booking_items=its), ctx()).saga
    for i in ("item-1", "item-2"):
        s = reply(s, held(s, i))
    s = reply(s, authorized(s))
    for i in ("item-1", "item-2"):
        s = reply(s, confirmed(s, i))
    s = reply(s, captured(s))
    assert s.state == SagaState.CONFIRMED and s.payment.captured == Money(
        amount_minor=7000, currency="EUR"
    )
    return s


def test_a_two_item_booking_where_one_item_refuses_cancellation_refunds_the_other() -> None:
    s = two_item_booking()
    s = apply(s, cancellation(s)).saga
    s = reply(s, rejected(s, "cancellation-cancel:item-2", "not_cancellable"))
    d = apply(
        s,
        ReplyReceived(
            cancelled(s, "cancellation-cancel:item-1", refund=3200, fee=800, was_confirmed=True)
        ),
    )
    refunds = [c.message for c in d.commands if c.message.type_name() == "RefundPayment"]
    assert [r.amount for r in refunds] == [Money(amount_minor=3200, currency="EUR")]  # type: ignore[attr-defined]
    s = d.saga
    assert s.state == SagaState.CANCELLING
    d = apply(s, ReplyReceived(refunded(s, "cancellation-refund")))
    assert d.saga.state == SagaState.PARTIALLY_CANCELLED
    assert d.saga.failure_reasons == [], (
        "a partner's refusal is an outcome, not a failure of the saga"
    )
    item1, item2 = d.saga.items
    assert (item1.status, item1.refund, item1.fee) == (
        ItemStatus.CANCELLED,
        Money(amount_minor=3200, currency="EUR"),
        Money(amount_minor=800, currency="EUR"),
    )
    assert item2.status == ItemStatus.NOT_CANCELLABLE and item2.confirmation_code == "C-item-2"
    assert item2.failure is not None and item2.failure.code == "not_cancellable"
    event = next(x.message for x in d.events if isinstance(x.message, BookingCancelled))
    assert event.partial is True
    assert event.total_refunded == Money(amount_minor=3200, currency="EUR")
    assert [r.item_id for r in event.refunds] == ["item-1"]
    assert [
        (o.item_id, o.outcome, o.refunded.amount_minor, o.fee.amount_minor, o.reason_code)
        for o in event.items
    ] == [
        ("item-1", "cancelled", 3200, 800, None),
        ("item-2", "not_cancellable", 0, 0, "not_cancellable"),
    ]
    changes = [x.message for x in d.events if x.message.type_name() == "SagaStateChanged"]
    assert "item-2" in changes[-1].reason  # type: ignore[attr-defined]


def test_every_item_refused_refunds_nothing_and_keeps_the_money() -> None:
    s = two_item_booking()
    s = apply(s, cancellation(s)).saga
    s = reply(s, rejected(s, "cancellation-cancel:item-1", "not_cancellable"))
    d = apply(s, ReplyReceived(rejected(s, "cancellation-cancel:item-2", "not_cancellable")))
    assert d.saga.state == SagaState.PARTIALLY_CANCELLED
    assert [c for c in d.commands] == []
    event = next(x.message for x in d.events if isinstance(x.message, BookingCancelled))
    assert event.partial and event.refunds == [] and event.total_refunded.amount_minor == 0


def test_a_full_cancellation_says_every_item_was_cancelled() -> None:
    s = two_item_booking()
    s = apply(s, cancellation(s)).saga
    s = reply(s, cancelled(s, "cancellation-cancel:item-1", refund=4000, was_confirmed=True))
    s = reply(s, cancelled(s, "cancellation-cancel:item-2", refund=0, fee=3000, was_confirmed=True))
    d = apply(
        s, ReplyReceived(refunded(s, "cancellation-refund")), s.updated_at + timedelta(seconds=1)
    )
    assert d.saga.state == SagaState.CANCELLED
    event = next(x.message for x in d.events if isinstance(x.message, BookingCancelled))
    assert event.partial is False
    assert [(o.item_id, o.outcome) for o in event.items] == [
        ("item-1", "cancelled"),
        ("item-2", "cancelled"),
    ]
