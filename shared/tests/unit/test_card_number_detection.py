"""Card numbers (PANs) are recognised in any field, in any common formatting: the guard the
gateway runs on input, and the scanner the tests run over tables, topics and logs."""

from __future__ import annotations

import pytest

from booking_shared.pan import card_numbers, find_pans, looks_like_pan, luhn_ok


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


# -- the scanner ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "4242424242424242",
        "5555555555554444",
        "4000002500003155",
        "4000000000000341",
        "4000000000000002",
        "378282246310005",
        "6011111111111117",
    ],
)
def test_the_scanner_finds_stripe_test_cards_however_they_are_written(number):
    assert luhn_ok(number)
    assert card_numbers(f'{{"number": "{number}"}}') == [number]
    assert card_numbers(grouped(number, " ").encode()) == [number]


def test_the_scanner_reads_text_and_bytes_and_keeps_the_order():
    assert card_numbers("card 4242 4242 4242 4242 exp 12/34") == ["4242424242424242"]
    assert card_numbers("4242-4242-4242-4242") == ["4242424242424242"]
    assert card_numbers(b"4000-0000-0000-0002, 378282246310005") == [
        "4000000000000002",
        "378282246310005",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424242"[:-1] + "1",  # fails Luhn
        "pi_3Pq2w34242424242424242x",  # part of an id, not a number
        "2026-06-01T12:00:00Z 1718000000",
        "order 1000000003 ref 5908596099",
        "00-cd026f4a0389e65bda34c1c961f3b996-a53352239406532b-01",  # a trace id
        "qt_1a237f32904996012022e6c",  # the guard refuses this id; standing alone it is no card
    ],
)
def test_the_scanner_ignores_what_is_not_a_card_standing_alone(text):
    assert card_numbers(text) == []


def test_a_uuid_whose_first_groups_read_as_a_card_is_not_one():
    """A UUID's first three groups are 16 decimal digits about once in 2,000 UUIDs, and a
    Luhn-valid card shape one time in ten of those: the chaos run at N=1,000 met one in a
    command id. Neither the scanner nor the guard takes it for a card; the same digits
    written as a card still are."""
    visa = "4242424242424242"  # Stripe's test Visa
    command_id = f"{visa[:8]}-{visa[8:12]}-{visa[12:]}-ab12-0123456789ab"
    assert luhn_ok(visa)
    assert card_numbers(f'{{"command_id": "{command_id}"}}') == []
    assert not looks_like_pan(command_id)
    assert card_numbers(f'{{"note": "{grouped(visa, "-")}"}}') == [visa]
    assert looks_like_pan(grouped(visa, "-"))
