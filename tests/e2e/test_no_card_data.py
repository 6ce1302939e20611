"""No card number touches our servers, databases, topics or logs: only Stripe tokens do."""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka import AIOKafkaConsumer

from booking_shared.contracts.topics import all_topics

from .helpers import Person, card_numbers

SERVICES = ("gateway", "booking-orchestrator", "payment", "provider-opentable", "provider-eventbrite")


def test_the_scanner_finds_card_numbers():
    assert card_numbers(b'{"n": "4242 4242 4242 4242"}') == ["4242424242424242"]
    assert card_numbers(b"4000-0000-0000-0002, 378282246310005") == ["4000000000000002", "378282246310005"]
    assert card_numbers(b"order 1000000003 ref 5908596099") == []
    assert card_numbers(b"00-cd026f4a0389e65bda34c1c961f3b996-a53352239406532b-01") == []  # a trace id


async def _database_text(url: str) -> bytes:
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'"
        )
        chunks = []
        for t in tables:
            rows = await conn.fetch(f'SELECT t::text AS r FROM "{t["table_schema"]}"."{t["table_name"]}" t')
            chunks += [r["r"].encode() for r in rows]
        return b"\n".join(chunks)
    finally:
        await conn.close()


async def _topics_text(bootstrap: str) -> bytes:
    consumer = AIOKafkaConsumer(*all_topics(), bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    chunks = []
    try:
        idle = 0
        while idle < 3:
            batch = await consumer.getmany(timeout_ms=500)
            idle = 0 if batch else idle + 1
            for records in batch.values():
                for r in records:
                    chunks.append(r.value or b"")
                    chunks += [v for _, v in r.headers]
    finally:
        await consumer.stop()
    return b"\n".join(chunks)


def test_no_card_number_in_our_databases_topics_or_logs_after_real_bookings(system):
    for number in ("4242424242424242", "5555555555554444"):
        p = Person(system.url("gateway"), system.url("stripe"))
        p.sign_up()
        p.add_card(number)
        booking_id = p.book(p.quote(p.day_plan(days_ahead=35, restaurant=len(number), events=1))["id"]).json()["booking_id"]
        assert p.wait_final(booking_id)["state"] == "CONFIRMED"

    db = asyncio.run(_database_text(system.database_url))
    assert b"pm_" in db  # the tokens are there...
    assert card_numbers(db) == []  # ...and no card number
    topics = asyncio.run(_topics_text(system.kafka))
    assert b"BookingRequested" in topics or b"cus_" in topics
    assert card_numbers(topics) == []
    for name in SERVICES:
        log = system.log(name).encode()
        assert log, f"no log for {name}"
        assert card_numbers(log) == [], f"card number in the {name} log"
