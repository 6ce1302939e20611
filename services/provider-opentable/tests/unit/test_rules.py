"""The OpenTable rules in our contract's words: reject reasons, policy, fees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from provider_opentable.domain.rules import PolicyTerms, refund_and_fee, reject_reason

START = datetime(2026, 12, 5, 20, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("client_reason", "ours"),
    [
        ("slot_unavailable", "slot_unavailable"),
        ("slot_taken", "slot_taken"),
        ("hold_expired", "hold_expired"),
        ("hold_released", "hold_expired"),
        ("hold_not_found", "hold_expired"),
        ("restaurant_not_found", "not_found"),
        ("party_size_unsupported", "invalid_item"),
        ("invalid_request", "invalid_item"),
        ("partner_error", "partner_unavailable"),
        ("something_new", "slot_unavailable"),
        (None, "slot_unavailable"),
    ],
)
def test_partner_refusals_become_the_contracts_reason_codes(client_reason, ours):
    assert reject_reason(client_reason) == ours


def test_cancelling_is_free_until_the_policy_hours_and_then_costs_the_late_share():
    terms = PolicyTerms(free_until_hours_before=24, late_fee_percent=50)
    assert terms.free_until(START) == START - timedelta(hours=24)
    assert terms.fee(9000, START, START - timedelta(hours=24)) == 0
    assert terms.fee(9000, START, START - timedelta(hours=23, minutes=59)) == 4500
    # rounded down, as the partner does
    assert terms.fee(9001, START, START - timedelta(hours=1)) == 4500


def test_the_policy_says_when_it_stops_being_free_and_whether_anything_can_come_back():
    full_fee = PolicyTerms(12, 100, "Free until 12 h before; then 100% of the deposit.")
    early = full_fee.policy(START, START - timedelta(days=2))
    assert early.free_until == START - timedelta(hours=12)
    assert early.refundable and early.summary.startswith("Free until 12 h")
    assert not full_fee.policy(START, START - timedelta(hours=2)).refundable
    assert PolicyTerms(12, 50).policy(START, START - timedelta(hours=2)).refundable
    assert "12 h before" in PolicyTerms(12, 50).policy(START, START).summary


def test_a_fee_never_exceeds_the_deposit():
    assert refund_and_fee(9000, 4500) == (4500, 4500)
    assert refund_and_fee(9000, 12000) == (0, 9000)
    assert refund_and_fee(9000, -5) == (9000, 0)
