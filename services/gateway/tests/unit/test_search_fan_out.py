"""Search asks every provider at once; one down or slow is reported missing, the others answer."""

from __future__ import annotations

import time

from gateway.config import Settings
from gateway.handlers.deps import Deps
from gateway.handlers.search import search

from .fakes import FakeOrchestrator, FakePayment, FakeProvider


def result(id_: str, start: str, **kw) -> dict:
    item = {
        "id": id_,
        "title": id_,
        "category": "dinner",
        "start_time": start,
        "cost": {"amount_minor": 100, "currency": "EUR"},
    }
    item |= kw or {"venue_id": "r1", "party_size": 2}
    return {
        "item": item,
        "price": {"amount_minor": 200, "currency": "EUR"},
        "timezone": "Europe/Lisbon",
        "cancellation_policy": {"summary": "Free cancellation until 24 h before."},
        "available": True,
        "details": {},
    }


def deps(**providers: FakeProvider) -> Deps:
    return Deps(Settings(search_timeout_s=0.3), None, FakePayment(), providers, FakeOrchestrator())


async def test_results_are_merged_in_time_order():
    ot = FakeProvider(
        "opentable",
        [
            result("r-late", "2026-12-05T21:00:00+00:00"),
            result("r-early", "2026-12-05T19:00:00+00:00"),
        ],
    )
    eb = FakeProvider(
        "eventbrite",
        [result("e", "2026-12-05T20:00:00+00:00", event_id="e1", ticket_class_id="t", quantity=1)],
    )
    out = await search(
        deps(opentable=ot, eventbrite=eb), {"date": "2026-12-05"}, ["restaurant", "event"]
    )
    assert [r["item"]["id"] for r in out["results"]] == ["r-early", "e", "r-late"]
    assert out["missing_providers"] == [] and out["providers"] == ["eventbrite", "opentable"]
    assert (
        out["results"][1]["booking_type"] == "event"
        and out["results"][1]["provider"] == "eventbrite"
    )


async def test_a_provider_down_or_slow_is_named_missing_and_does_not_hold_the_answer():
    ot = FakeProvider("opentable", [result("r", "2026-12-05T19:00:00+00:00")])
    eb = FakeProvider("eventbrite", delay=5)
    started = time.monotonic()
    out = await search(
        deps(opentable=ot, eventbrite=eb), {"date": "2026-12-05"}, ["restaurant", "event"]
    )
    assert time.monotonic() - started < 1.5
    assert out["missing_providers"] == ["eventbrite"] and [
        r["item"]["id"] for r in out["results"]
    ] == ["r"]
    ot.down = True
    out = await search(
        deps(opentable=ot, eventbrite=FakeProvider("eventbrite")),
        {"date": "2026-12-05"},
        ["restaurant", "event"],
    )
    assert out["missing_providers"] == ["opentable"]


async def test_only_the_providers_of_the_asked_types_are_asked():
    ot = FakeProvider("opentable", [result("ok", "2026-12-05T19:00:00+00:00")])
    eb = FakeProvider("eventbrite")
    out = await search(deps(opentable=ot, eventbrite=eb), {"date": "2026-12-05"}, ["restaurant"])
    assert eb.seen == [] and [r["item"]["id"] for r in out["results"]] == ["ok"]


async def test_a_provider_never_heard_is_asked_whatever_the_types_and_named_missing():
    ot = FakeProvider("opentable", [result("ok", "2026-12-05T19:00:00+00:00")])
    eb = FakeProvider("eventbrite", down=True)
    eb.known_booking_types = lambda: None  # down since the gateway started
    out = await search(deps(opentable=ot, eventbrite=eb), {"date": "2026-12-05"}, ["restaurant"])
    assert out["missing_providers"] == ["eventbrite"] and [
        r["item"]["id"] for r in out["results"]
    ] == ["ok"]


async def test_bad_items_from_a_provider_are_skipped_by_its_client():
    """The client parses each offer into the contract; one that breaks it is skipped."""
    import httpx

    from gateway.adapters.providers import ProviderClient

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "provider": "opentable",
                "timezone": "Europe/Lisbon",
                "items": [result("bad", "no-date"), result("ok", "2026-12-05T19:00:00+00:00")],
            },
        )

    client = ProviderClient(
        "opentable", "http://ot.test", 1.0, transport=httpx.MockTransport(answer)
    )
    try:
        found = await client.search({"date": "2026-12-05"}, 1.0)
    finally:
        await client.close()
    assert [o.item.id for o in found.items] == ["ok"]
