"""The payment state machine and its money rules, table-style: no I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from payment.domain.payment import (
    Payment,
    Status,
    capture_refusal,
    hold_expiry,
    is_forward,
    refund_refusal,
    refunded_of_charge,
    status_of_intent,
)

S = Status


def payment(status: Status = S.AUTHORIZED, **kw) -> Payment:
    values = dict(
        booking_id="bk_1",
        customer_id="cus_1",
        payment_method_id="pm_1",
        authorize_command_id=uuid.uuid4(),
        currency="EUR",
        amount_requested=10_000,
        status=status,
        payment_intent_id="pi_1",
        amount_authorized=10_000,
    )
    values.update(kw)
    return Payment(**values)


@pytest.mark.parametrize(
    ("current", "target", "forward"),
    [
        (S.REQUIRES_ACTION, S.AUTHORIZED, True),
        (S.REQUIRES_ACTION, S.DECLINED, True),
        (S.REQUIRES_ACTION, S.VOIDED, True),
        (S.AUTHORIZED, S.CAPTURED, True),
        (S.AUTHORIZED, S.VOIDED, True),
        (S.AUTHORIZED, S.EXPIRED, True),
        (S.CAPTURED, S.REFUNDED, True),
        # a late event never moves a payment back
        (S.CAPTURED, S.AUTHORIZED, False),
        (S.AUTHORIZED, S.REQUIRES_ACTION, False),
        (S.VOIDED, S.AUTHORIZED, False),
        (S.REFUNDED, S.CAPTURED, False),
        (S.DECLINED, S.AUTHORIZED, False),
        (S.CAPTURED, S.VOIDED, False),
    ],
)
def test_only_forward_moves_are_allowed(current, target, forward):
    assert is_forward(current, target) is forward


def test_the_hold_lapses_when_stripe_says_else_by_our_conservative_rule():
    at = datetime(2026, 6, 1, 12, tzinfo=UTC)
    stripe_says = datetime(2026, 6, 8, 11, tzinfo=UTC)
    assert hold_expiry(stripe_says, at, timedelta(days=6, hours=18)) == (stripe_says, "stripe")
    assert hold_expiry(None, at, timedelta(days=6, hours=18)) == (
        datetime(2026, 6, 8, 6, tzinfo=UTC),
        "fallback",
    )


@pytest.mark.parametrize(
    ("state", "amount", "currency", "refusal"),
    [
        (payment(), None, None, None),
        (payment(), 10_000, "EUR", None),
        (payment(), 4_000, "EUR", None),
        (payment(), 10_001, "EUR", "capture_exceeds_authorized"),
        (payment(), 0, "EUR", "invalid_amount"),
        (payment(), 100, "USD", "currency_mismatch"),
        (None, None, None, "not_authorized"),
        (payment(S.REQUIRES_ACTION), None, None, "not_authorized"),
        (payment(S.DECLINED), None, None, "not_authorized"),
        (payment(S.VOIDED), None, None, "intent_canceled"),
        (payment(S.EXPIRED), None, None, "authorization_expired"),
        (
            payment(S.CAPTURED, amount_captured=10_000),
            10_000,
            "EUR",
            None,
        ),  # answered from the capture
    ],
)
def test_what_a_capture_may_ask(state, amount, currency, refusal):
    assert capture_refusal(state, amount, currency) == refusal


@pytest.mark.parametrize(
    ("state", "amount", "refusal"),
    [
        (payment(S.CAPTURED, amount_captured=8_000), 8_000, None),
        (payment(S.CAPTURED, amount_captured=8_000, amount_refunded=3_000), 5_000, None),
        (
            payment(S.CAPTURED, amount_captured=8_000, amount_refunded=3_000),
            5_001,
            "refund_exceeds_captured",
        ),
        (
            payment(S.REFUNDED, amount_captured=8_000, amount_refunded=8_000),
            1,
            "refund_exceeds_captured",
        ),
        (payment(S.AUTHORIZED), 100, "not_captured"),
        (None, 100, "not_captured"),
        (payment(S.CAPTURED, amount_captured=8_000), 0, "invalid_amount"),
    ],
)
def test_what_a_refund_may_ask(state, amount, refusal):
    assert refund_refusal(state, amount, "EUR") == refusal


def test_refund_totals_only_grow_and_everything_back_is_refunded():
    captured = payment(S.CAPTURED, amount_captured=8_000)
    part = captured.with_refunds(3_000)
    assert (part.status, part.amount_refunded) == (S.CAPTURED, 3_000)
    assert part.with_refunds(1_000).amount_refunded == 3_000  # a late, older total
    full = part.with_refunds(8_000)
    assert (full.status, full.amount_refunded, full.refundable) == (S.REFUNDED, 8_000, 0)
    assert captured.with_refunds(99_999).amount_refunded == 8_000  # never more than captured


def test_the_client_secret_lives_only_while_action_is_required():
    waiting = payment(S.REQUIRES_ACTION, client_secret="pi_1_secret_x")
    assert waiting.moved(S.AUTHORIZED).client_secret is None
    assert waiting.moved(S.REQUIRES_ACTION).client_secret == "pi_1_secret_x"


@pytest.mark.parametrize(
    ("intent_status", "reason", "has_error", "ours"),
    [
        ("requires_capture", None, False, S.AUTHORIZED),
        ("succeeded", None, False, S.CAPTURED),
        ("requires_action", None, False, S.REQUIRES_ACTION),
        ("canceled", "requested_by_customer", False, S.VOIDED),
        ("canceled", "automatic", False, S.EXPIRED),
        ("requires_payment_method", None, True, S.DECLINED),
        ("requires_payment_method", None, False, None),
        ("processing", None, False, None),
    ],
)
def test_intent_statuses_map_to_ours(intent_status, reason, has_error, ours):
    assert status_of_intent(intent_status, reason, has_error) == ours


@pytest.mark.parametrize(
    ("charge", "captured_locally", "refunded"),
    [
        ({"amount": 5_000, "amount_refunded": 1_500, "captured": True}, 5_000, 1_500),
        # partial capture of 8_000 on 10_000: the released 2_000 is not a refund (localstripe)
        ({"amount": 10_000, "amount_refunded": 5_000, "captured": True}, 8_000, 3_000),
        # Stripe with amount_captured: counted low whichever way the version reports the rest
        (
            {
                "amount": 10_000,
                "amount_captured": 8_000,
                "amount_refunded": 3_000,
                "captured": True,
            },
            8_000,
            1_000,
        ),
        ({"amount": 10_000, "amount_refunded": 0, "captured": True}, 10_000, 0),
    ],
)
def test_what_a_charge_says_was_refunded(charge, captured_locally, refunded):
    assert refunded_of_charge(charge, captured_locally) == refunded
