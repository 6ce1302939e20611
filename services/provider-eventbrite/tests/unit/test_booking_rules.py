"""Eventbrite's rules in our contract's words: item ids, categories, references, policies, money."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from booking_shared.money import Money
from provider_eventbrite.config import Settings
from provider_eventbrite.domain import rules

START = datetime(2026, 12, 20, 20, 0, tzinfo=UTC)
STANDARD = {
    "policy_type": "STANDARD",
    "description": "Full refund until 7 days before the event; 50% until 48 hours before; no refund after.",
    "bands": [
        {"min_hours_before_start": 168, "refund_percent": 100},
        {"min_hours_before_start": 48, "refund_percent": 50},
    ],
}
FLEXIBLE = {
    "policy_type": "FLEXIBLE",
    "description": "Full refund until 24 hours before the event; no refund after.",
    "bands": [{"min_hours_before_start": 24, "refund_percent": 100}],
}
NO_REFUNDS = {"policy_type": "NO_REFUNDS", "description": "No refunds.", "bands": []}


def test_item_ids_name_the_event_and_the_ticket_class():
    assert rules.item_id("712345678901", "1234567890") == "eb:712345678901:1234567890"


@pytest.mark.parametrize(
    ("category_id", "ours"), [("103", "concert"), ("105", "show"), ("109", "tour"), (None, "event")]
)
def test_eventbrite_categories_become_schedule_categories(category_id, ours):
    assert rules.category(category_id) == ours


def test_a_long_reference_becomes_a_stable_digest_that_fits_the_partner():
    short = "bk_1:item-1"
    assert rules.partner_reference(short) == short
    long = "b" * 64 + ":" + "i" * 64
    ref = rules.partner_reference(long)
    assert len(ref) <= rules.MAX_PARTNER_REFERENCE and ref == rules.partner_reference(long) != long


@pytest.mark.parametrize(
    ("policy", "free_hours", "refundable"),
    [(STANDARD, 168, True), (FLEXIBLE, 24, True), (NO_REFUNDS, None, False)],
)
def test_the_events_refund_policy_becomes_a_cancellation_policy(policy, free_hours, refundable):
    p = rules.cancellation_policy(policy, START)
    assert p.summary == policy["description"] and p.refundable is refundable
    assert p.free_until == (START - timedelta(hours=free_hours) if free_hours else None)


def test_an_event_without_a_policy_is_shown_as_not_refundable():
    p = rules.cancellation_policy(None, START)
    assert not p.refundable and p.free_until is None and p.summary


@pytest.mark.parametrize(
    ("hours", "percent"), [(200, 100), (168, 100), (100, 50), (48, 50), (47, 0), (-1, 0)]
)
def test_refund_bands_match_the_partners(hours, percent):
    assert rules.refund_percent_at(STANDARD, START, START - timedelta(hours=hours)) == percent


def test_the_buyer_pays_face_value_plus_fee_and_the_fee_kept_is_the_rest():
    unit = rules.unit_price(Money.of("25.00", "EUR"), Money.of("1.72", "EUR"))
    assert unit == Money.of("26.72", "EUR") and rules.times(unit, 2) == Money.of("53.44", "EUR")
    assert rules.unit_price(Money.of("10", "EUR"), None) == Money.of("10", "EUR")
    refund, fee = rules.fee_kept(Money.of("53.44", "EUR"), Money.of("26.72", "EUR"))
    assert (refund, fee) == (Money.of("26.72", "EUR"), Money.of("26.72", "EUR"))
    assert rules.fee_kept(Money.of("10", "EUR"), None) == (Money.zero("EUR"), Money.of("10", "EUR"))


def test_settings_point_at_the_dev_sandbox_and_read_the_environment(monkeypatch):
    assert Settings().eventbrite_base_url == "http://127.0.0.1:8104"
    monkeypatch.setenv("EVENTBRITE_BASE_URL", "http://partner.example:9000")
    monkeypatch.setenv("EVENTBRITE_RATE_PER_SECOND", "5")
    s = Settings()
    assert (
        s.eventbrite_base_url == "http://partner.example:9000" and s.eventbrite_rate_per_second == 5
    )
