"""No card number touches our servers, databases, topics or logs: only Stripe tokens do."""

from __future__ import annotations

import asyncio

from booking_shared.testing import card_scan

from .helpers import Person, card_numbers

SERVICES = (
    "gateway",
    "booking-orchestrator",
    "payment",
    "provider-opentable",
    "provider-eventbrite",
)


def test_the_scanner_finds_card_numbers():
    assert card_numbers(b'{"n": "4242 4242 4242 4242"}') == ["4242424242424242"]
    assert card_numbers(b"4000-0000-0000-0002, 378282246310005") == [
        "4000000000000002",
        "378282246310005",
    ]
    assert card_numbers(b"order 1000000003 ref 5908596099") == []
    assert (
        card_numbers(b"00-cd026f4a0389e65bda34c1c961f3b996-a53352239406532b-01") == []
    )  # a trace id
    assert card_scan.find(
        card_numbers, {"log:x": b"card 4242424242424242", "log:y": b"pm_123"}
    ) == {"log:x": ["4242424242424242"]}


def test_no_card_number_in_our_databases_topics_or_logs_after_real_bookings(system):
    for number in ("4242424242424242", "5555555555554444"):
        p = Person(system.url("gateway"), system.url("stripe"))
        p.sign_up()
        p.add_card(number)
        booking_id = p.book(
            p.quote(p.day_plan(days_ahead=35, restaurant=len(number), events=1))["id"]
        ).json()["booking_id"]
        assert p.wait_final(booking_id)["state"] == "CONFIRMED"

    db = asyncio.run(card_scan.database_rows(system.database_url))
    assert any(b"pm_" in rows for rows in db.values())  # the tokens are there...
    assert card_scan.find(card_numbers, db) == {}  # ...and no card number
    topics = asyncio.run(card_scan.topic_messages(system.kafka))
    assert any(b"BookingRequested" in m or b"cus_" in m for m in topics.values())
    assert card_scan.find(card_numbers, topics) == {}
    logs = {name: system.log(name).encode() for name in SERVICES}
    assert all(logs.values()), [name for name, text in logs.items() if not text]
    assert card_scan.find(card_numbers, logs) == {}
