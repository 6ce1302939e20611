"""Money: integer minor units, exact parsing, currencies with 0, 2 and 3 decimals."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from booking_shared.money import Money, total


@pytest.mark.parametrize(
    ("text", "minor", "currency"),
    [
        ("$45.00", 4500, "USD"),
        ("€12.5", 1250, "EUR"),
        ("£0.99", 99, "GBP"),
        ("¥1200", 1200, "JPY"),
        ("45 EUR", 4500, "EUR"),
        ("1,234.56 USD", 123456, "USD"),
        ("KWD 1.234", 1234, "KWD"),
    ],
)
def test_schedule_costs_are_read_exactly(text, minor, currency):
    m = Money.parse(text)
    assert (m.amount_minor, m.currency) == (minor, currency)


def test_numbers_use_the_default_currency_without_float_error():
    assert Money.parse(19.99, "EUR").amount_minor == 1999
    assert Money.parse(45, "JPY").amount_minor == 45
    assert Money.parse(Decimal("3.10"), "USD").amount_minor == 310


def test_zero_decimal_currencies_refuse_fractions():
    with pytest.raises(ValueError, match="JPY"):
        Money.of("12.5", "JPY")


def test_a_fractional_amount_minor_is_refused_and_a_whole_one_is_the_integer():
    # JSON has one number type: 12.0 is the integer 12 (so says JSON Schema), 12.5 no amount.
    assert Money(amount_minor=12.0, currency="EUR").amount_minor == 12
    for bad in (12.5, float("inf"), float("nan"), 1e300, "12", True):
        with pytest.raises(ValidationError):
            Money(amount_minor=bad, currency="EUR")


def test_currencies_do_not_mix():
    with pytest.raises(ValueError, match="EUR"):
        Money.of(1, "EUR") + Money.of(1, "USD")


def test_totals_and_display():
    assert total([Money.of("1.10", "EUR"), Money.of("2.20", "EUR")]) == Money.of("3.30", "EUR")
    assert total([], "JPY") == Money.zero("JPY")
    assert Money.of("1200", "JPY").display() == "1200 JPY"
    assert Money.of("3.3", "EUR").display() == "3.30 EUR"


@pytest.mark.parametrize("bad", ["forty", "$", "12.3.4", "XX1"])
def test_unreadable_amounts_are_refused(bad):
    with pytest.raises(ValueError):
        Money.parse(bad)
