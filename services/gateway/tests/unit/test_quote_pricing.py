"""Pricing schedule items into quote lines."""

from __future__ import annotations

import pytest

from booking_shared.contracts.items import BookingItem
from booking_shared.money import Money
from gateway.domain.errors import InvalidInput
from gateway.domain.quotes import check_items, price_lines, quote_total

ROUTES = {"restaurant": "opentable", "event": "eventbrite"}


def item(id_: str = "i1", cost="$45.00", **kw) -> BookingItem:
    base = {
        "id": id_,
        "title": "Dinner",
        "category": "dinner",
        "start_time": "2026-12-05T20:00:00+00:00",
        "cost": cost,
    }
    if "event_id" not in kw:
        base |= {"venue_id": "rest_1", "party_size": 2}
    return BookingItem.model_validate(base | kw)


def test_items_in_two_currencies_are_refused_naming_the_item():
    with pytest.raises(InvalidInput) as exc:
        check_items([item("a"), item("b", cost="30 EUR")], ROUTES)
    assert [e.field for e in exc.value.errors] == ["items[1].cost"]


def test_duplicate_ids_and_unrouted_types_are_refused():
    with pytest.raises(InvalidInput) as exc:
        check_items([item("a"), item("a")], {"event": "eventbrite"})
    assert {e.field for e in exc.value.errors} == {"items[0]", "items[1]", "items[1].id"}


def test_the_providers_price_wins_and_the_item_is_repriced():
    answers = {
        "i1": {
            "item_id": "i1",
            "available": True,
            "unit_price": {"amount_minor": 5000, "currency": "USD"},
            "price": {"amount_minor": 10000, "currency": "USD"},
            "cancellation_policy": {"summary": "free"},
        }
    }
    [line] = price_lines([item()], ROUTES, answers)
    assert line.available and line.price == Money(amount_minor=10000, currency="USD")
    assert (
        line.item.cost == Money(amount_minor=5000, currency="USD") and line.provider == "opentable"
    )
    assert quote_total([line], "USD") == Money(amount_minor=10000, currency="USD")


def test_an_item_without_an_answer_or_unavailable_is_not_in_the_total():
    answers = {"i2": {"item_id": "i2", "available": False, "reason": "sold_out"}}
    lines = price_lines([item("i1"), item("i2")], ROUTES, answers)
    assert [(ln.available, ln.reason) for ln in lines] == [
        (False, "not_quoted"),
        (False, "sold_out"),
    ]
    assert quote_total(lines, "USD") == Money(amount_minor=0, currency="USD")


def test_a_provider_pricing_in_another_currency_is_refused():
    answers = {
        "i1": {"item_id": "i1", "available": True, "price": {"amount_minor": 1, "currency": "EUR"}}
    }
    with pytest.raises(InvalidInput):
        price_lines([item()], ROUTES, answers)
