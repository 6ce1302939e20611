"""Card numbers (PANs) are recognised in any field, in any common formatting."""

from __future__ import annotations

import pytest

from gateway.domain.pan import find_pans, looks_like_pan, luhn_ok


def grouped(number: str, sep: str) -> str:
    """A Stripe test card number written the way people type it, in groups of four."""
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424242",
        grouped("4242424242424242", " "),
        grouped("4000056655665556", "-"),
        "my card is 5555555555554444 ok",
        "378282246310005",
        "6011111111111117",
    ],
)
def test_card_numbers_are_recognised(text):
    assert looks_like_pan(text)


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424242"[:-1] + "1",  # the test card with a wrong check digit
        "+351 912 345 678",
        "pm_1Pq2w3",
        "2026-12-05T20:00:00+00:00",
        "1234",
        "0" * 16,
        "rest_001",
        "9" * 15 + "5",  # passes Luhn, but no card brand starts with 9
    ],
)
def test_other_numbers_are_not(text):
    assert not looks_like_pan(text)


def test_luhn():
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")


def test_the_path_of_every_pan_in_a_body_is_named():
    body = {
        "name": "A",
        "items": [{"title": "ok"}, {"title": "x 4242424242424242"}],
        "n": 4242424242424242,
        "f": True,
    }
    assert list(find_pans(body)) == ["items[1].title", "n"]
