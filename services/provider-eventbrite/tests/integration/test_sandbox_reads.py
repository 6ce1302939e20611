"""The sandbox's reads keep Eventbrite API v3 shapes, and the client reads them."""

from __future__ import annotations

from datetime import datetime, timedelta

from booking_shared.money import Money


def _is_cost(obj: dict) -> bool:
    return (
        obj["currency"] == "EUR"
        and isinstance(obj["value"], int)
        and obj["major_value"] == f"{obj['value'] // 100}.{obj['value'] % 100:02d}"
        and obj["display"] == f"€{obj['major_value']}"
    )


async def test_search_pages_through_about_thirty_lisbon_events(sandbox):
    resp = await sandbox.http.get("/v3/events/search/", params={"page_size": 10})
    assert resp.status_code == 200
    data = resp.json()
    p = data["pagination"]
    assert p["page_number"] == 1 and p["page_size"] == 10 and p["has_more_items"] is True
    assert 25 <= p["object_count"] <= 35
    seen = [e["id"] for e in data["events"]]
    while data["pagination"]["has_more_items"]:
        data = (
            await sandbox.http.get(
                "/v3/events/search/",
                params={"page_size": 10, "continuation": data["pagination"]["continuation"]},
            )
        ).json()
        seen += [e["id"] for e in data["events"]]
    assert len(seen) == len(set(seen)) == p["object_count"]

    e = (await sandbox.events())[0]
    assert set(e["name"]) == {"text", "html"}
    assert e["start"]["timezone"] == "Europe/Lisbon" and e["start"]["utc"].endswith("Z")
    local = datetime.fromisoformat(e["start"]["local"])
    assert local.tzinfo is None and e["end"]["utc"] > e["start"]["utc"]
    assert e["currency"] == "EUR" and e["venue_id"] and e["status"] == "live"


async def test_search_filters_by_words_and_start_range(sandbox):
    events = await sandbox.events()
    fado = (await sandbox.http.get("/v3/events/search/", params={"q": "fado"})).json()["events"]
    assert fado and all("fado" in (e["name"]["text"] + e["summary"]).lower() for e in fado)

    third = datetime.fromisoformat(events[2]["start"]["utc"])
    window = {
        "start_date.range_start": events[2]["start"]["utc"],
        "start_date.range_end": (third + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    found = (await sandbox.http.get("/v3/events/search/", params=window)).json()["events"]
    assert found[0]["id"] == events[2]["id"]
    assert all(
        third <= datetime.fromisoformat(e["start"]["utc"]) <= third + timedelta(days=3)
        for e in found
    )


async def test_event_expands_venue_and_ticket_classes_with_eventbrite_costs(sandbox):
    e = (await sandbox.events())[0]
    resp = await sandbox.http.get(
        f"/v3/events/{e['id']}/", params={"expand": "venue,ticket_classes"}
    )
    event = resp.json()
    assert event["venue"]["id"] == event["venue_id"]
    assert event["venue"]["address"]["city"] == "Lisboa"
    assert event["refund_policy"]["policy_type"] in {"STANDARD", "FLEXIBLE", "NO_REFUNDS"}
    for tc in event["ticket_classes"]:
        assert _is_cost(tc["cost"]) and _is_cost(tc["fee"])
        assert tc["on_sale_status"] in {"AVAILABLE", "SOLD_OUT", "NOT_YET_ON_SALE", "SALES_ENDED"}
        assert 0 <= tc["quantity_sold"] <= tc["capacity"]

    venue = (await sandbox.http.get(f"/v3/venues/{event['venue_id']}/")).json()
    assert venue == event["venue"]
    listed = (await sandbox.http.get(f"/v3/events/{e['id']}/ticket_classes/")).json()
    assert listed["pagination"]["object_count"] == len(event["ticket_classes"])
    assert [t["id"] for t in listed["ticket_classes"]] == [t["id"] for t in event["ticket_classes"]]
    tiers = (await sandbox.http.get(f"/v3/events/{e['id']}/inventory_tiers/")).json()[
        "inventory_tiers"
    ]
    for tier, tc in zip(tiers, event["ticket_classes"], strict=True):
        assert tier["ticket_class_ids"] == [tc["id"]]
        assert tier["quantity_available"] == tc["capacity"] - tc["quantity_sold"]


async def test_the_catalogue_has_small_sold_out_and_no_refund_classes(sandbox):
    events = await sandbox.events()
    classes = [tc for e in events for tc in e["ticket_classes"]]
    assert any(tc["on_sale_status"] == "SOLD_OUT" for tc in classes)
    assert any(tc["capacity"] <= 10 for tc in classes)
    policies = {e["refund_policy"]["policy_type"] for e in events}
    assert policies == {"STANDARD", "FLEXIBLE", "NO_REFUNDS"}
    assert {e["category_id"] for e in events} == {"103", "105", "109"}  # concerts, shows, tours


async def test_unknown_ids_and_bad_arguments_get_eventbrite_errors(sandbox):
    missing = await sandbox.http.get("/v3/events/1/")
    assert missing.status_code == 404 and missing.json()["error"] == "NOT_FOUND"
    bad = await sandbox.http.get("/v3/events/search/", params={"start_date.range_start": "soon"})
    assert bad.status_code == 400
    assert bad.json()["error"] == "ARGUMENTS_ERROR"
    assert "start_date.range_start" in bad.json()["error_detail"]["ARGUMENTS_ERROR"]
    bad_expand = await sandbox.http.get("/v3/events/search/", params={"expand": "organizer"})
    assert bad_expand.status_code == 400 and "expand" in bad_expand.json()["error_description"]


async def test_client_reads_events_classes_and_venues(sandbox, make_client):
    client = make_client()
    events = await client.search_events(page_size=7)  # follows five continuations
    assert len(events) == len(await sandbox.events())
    first = events[0]
    assert first.start.tzinfo is not None and first.timezone == "Europe/Lisbon"
    assert first.venue is not None and first.venue.city == "Lisboa"
    assert first.ticket_classes and all(isinstance(tc.cost, Money) for tc in first.ticket_classes)

    again = await client.get_event(first.id)
    assert again is not None and again.ticket_classes == first.ticket_classes
    assert await client.get_event("1") is None
    classes = await client.ticket_classes(first.id)
    assert [tc.id for tc in classes] == [tc.id for tc in first.ticket_classes]
    assert all(tc.available == tc.capacity - tc.quantity_sold for tc in classes)
    venue = await client.get_venue(first.venue_id)
    assert venue == first.venue

    later = await client.search_events("walking tour", start_after=first.start + timedelta(days=1))
    assert all(
        "Walking Tour" in e.name and e.start >= first.start + timedelta(days=1) for e in later
    )
