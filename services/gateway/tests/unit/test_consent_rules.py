"""Consent rules, table-style: preferences x total x types -> decision."""

from __future__ import annotations

import pytest

from booking_shared.money import Money
from gateway.domain import consent
from gateway.domain.models import Preferences


def eur(minor: int) -> Money:
    return Money(amount_minor=minor, currency="EUR")


BOTH = {"restaurant", "event"}

TABLE = [
    # preferences, total, types, auto_book_allowed, blocked, reason codes
    ({}, eur(1000), BOTH, False, False, ["auto_book_disabled"]),
    ({"auto_book_enabled": True}, eur(1000), BOTH, False, False, ["no_auto_spend_limit"]),
    ({"auto_book_enabled": True, "max_auto_spend": eur(1000)}, eur(1000), BOTH, True, False, []),
    (
        {"auto_book_enabled": True, "max_auto_spend": eur(999)},
        eur(1000),
        BOTH,
        False,
        False,
        ["above_max_auto_spend"],
    ),
    (
        {"auto_book_enabled": True, "max_auto_spend": Money.of(50, "USD")},
        eur(1000),
        BOTH,
        False,
        False,
        ["currency_mismatch"],
    ),
    (
        {
            "auto_book_enabled": True,
            "max_auto_spend": eur(5000),
            "require_confirmation_above": eur(999),
        },
        eur(1000),
        BOTH,
        False,
        False,
        ["above_confirmation_threshold"],
    ),
    (
        {
            "auto_book_enabled": True,
            "max_auto_spend": eur(5000),
            "require_confirmation_above": eur(1000),
        },
        eur(1000),
        BOTH,
        True,
        False,
        [],
    ),
    (
        {"allowed_booking_types": ["restaurant"]},
        eur(1000),
        {"event"},
        False,
        True,
        ["booking_type_not_allowed", "auto_book_disabled"],
    ),
    (
        {"auto_book_enabled": True, "max_auto_spend": eur(5000), "allowed_booking_types": []},
        eur(1000),
        {"restaurant"},
        False,
        True,
        ["booking_type_not_allowed"],
    ),
]


@pytest.mark.parametrize(("prefs", "total", "types", "auto", "blocked", "codes"), TABLE)
def test_the_decision_follows_the_preferences(prefs, total, types, auto, blocked, codes):
    d = consent.evaluate(Preferences(**prefs), total, types)
    assert (d.auto_book_allowed, d.blocked, [r.code for r in d.reasons]) == (auto, blocked, codes)
    assert d.confirmation_required is (not auto)


def test_an_explicit_confirmation_covers_every_limit():
    prefs = Preferences(
        auto_book_enabled=True, max_auto_spend=eur(10), require_confirmation_above=eur(10)
    )
    granted = consent.check(prefs, eur(100000), BOTH, confirm=True)
    assert granted.basis == consent.EXPLICIT


def test_without_confirmation_a_booking_outside_the_limits_is_refused_as_needing_it():
    with pytest.raises(consent.Refusal) as exc:
        consent.check(Preferences(), eur(100), BOTH, confirm=False)
    assert exc.value.needs_confirmation


def test_an_excluded_booking_type_is_refused_even_when_confirmed():
    with pytest.raises(consent.Refusal) as exc:
        consent.check(
            Preferences(allowed_booking_types=["event"]), eur(100), {"restaurant"}, confirm=True
        )
    assert not exc.value.needs_confirmation


def test_within_the_limits_auto_booking_is_the_basis():
    prefs = Preferences(auto_book_enabled=True, max_auto_spend=eur(5000))
    assert consent.check(prefs, eur(5000), BOTH, confirm=False).basis == consent.AUTO


def test_preferences_take_money_as_strings_but_never_floats():
    assert Preferences(max_auto_spend="$100.00").max_auto_spend == Money.of("100", "USD")
    with pytest.raises(ValueError):
        Preferences(max_auto_spend=100.5)
    with pytest.raises(ValueError):
        Preferences(max_auto_spend={"amount_minor": 100.5, "currency": "EUR"})
    with pytest.raises(ValueError):
        Preferences(max_auto_spend="-5 EUR")
