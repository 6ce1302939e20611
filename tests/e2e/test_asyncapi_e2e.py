"""Each running service's AsyncAPI document is FastStream's, generated from its broker (GET
/asyncapi.json), and it says what the service really does: the types it consumes and sends
are the catalogue's (the source of the committed docs/asyncapi), and every message a service's
outbox held during the e2e run is one its document declares."""

from __future__ import annotations

import re

import asyncpg
import httpx
import pytest

from booking_shared.contracts.asyncapi import summary
from booking_shared.contracts.catalogue import SERVICES

from .helpers import day_plan_retried as plan

PARTS = {  # the stack's part -> the service in the catalogue, its database schema
    "gateway": ("gateway", "gateway"),
    "orchestrator": ("booking-orchestrator", "orchestrator"),
    "payment": ("payment", "payment"),
    "opentable": ("provider-opentable", "opentable"),
    "eventbrite": ("provider-eventbrite", "eventbrite"),
}


def _document(system, part: str) -> dict:
    headers = system.credential(part) if part != "gateway" else {}
    answer = httpx.get(system.url(part) + "/asyncapi.json", headers=headers, timeout=10)
    assert answer.status_code == 200, (part, answer.text[:300])
    document = answer.json()
    assert document["asyncapi"].startswith("3."), part
    return document


@pytest.mark.parametrize("part", list(PARTS))
def test_each_services_fastStream_document_matches_the_catalogue(system, part: str) -> None:
    name, _ = PARTS[part]
    expected = SERVICES[name]
    found = summary(_document(system, part))

    # What it reads: one subscriber, so one address (a topic list or a pattern) for all topics.
    addresses = list(found["receive"])
    for topic in expected.receives:
        assert any(a == topic or re.fullmatch(a, topic) for a in addresses), (part, topic)
    received = {t for types in found["receive"].values() for t in types}
    assert received == {m.__name__ for ms in expected.receives.values() for m in ms}, part

    # What it sends: one publisher per topic, with exactly the catalogue's types.
    assert found["send"] == {
        topic: {m.__name__ for m in models} for topic, models in expected.sends.items()
    }, part


def test_an_internal_services_document_needs_its_credential(system) -> None:
    assert httpx.get(system.url("payment") + "/asyncapi.json").status_code == 401


async def test_every_message_in_each_outbox_is_one_its_document_declares(system, person) -> None:
    quote = person.quote(plan(person, days_ahead=26, restaurant=2, events=1))
    bid = person.book(quote["id"]).json()["booking_id"]
    assert person.wait_final(bid)["state"] == "CONFIRMED"

    conn = await asyncpg.connect(system.database_url)
    try:
        for part, (_, schema) in PARTS.items():
            declared = summary(_document(system, part))["send"]
            rows = await conn.fetch(
                "SELECT DISTINCT o.topic, h->>1 AS type"
                f" FROM {schema}.outbox o, jsonb_array_elements(o.headers) h"
                " WHERE h->>0 = 'type' AND o.topic NOT LIKE '%.dlq'"  # dead letters: any type
            )
            sent: dict[str, set[str]] = {}
            for r in rows:
                sent.setdefault(r["topic"], set()).add(r["type"])
            assert sent, part
            undeclared = {t: types - declared.get(t, set()) for t, types in sent.items()}
            assert not any(undeclared.values()), (part, undeclared)
    finally:
        await conn.close()
