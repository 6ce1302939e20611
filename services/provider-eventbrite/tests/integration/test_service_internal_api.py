"""The internal HTTP API the gateway calls: capabilities, search, quote, booking items, cancel quote."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from booking_shared.contracts import BookingItem, ConfirmItem, HoldItem
from booking_shared.internal_auth import bearer
from booking_shared.money import Money
from provider_eventbrite.adapters.partner_port import GUEST_REQUIREMENTS

LISBON = ZoneInfo("Europe/Lisbon")


@pytest.fixture
async def api(provider):
    async with httpx.AsyncClient(
        base_url=provider.url, timeout=10, headers=bearer(provider.settings.internal_api_token)
    ) as http:
        yield http


async def test_capabilities_name_the_provider_its_booking_type_and_hold_lifetime(api):
    body = (await api.get("/internal/capabilities")).json()
    assert body == {
        "provider": "eventbrite",
        "booking_types": ["event"],
        "capabilities": {
            "hold": True,
            "api_book": True,
            "cancel": True,
            "refund_policy": "per_item_policy",
            "hold_ttl_seconds": 900,
            "guest_requirements": GUEST_REQUIREMENTS.model_dump(),
        },
    }


async def test_search_returns_bookable_items_of_the_day_in_the_booking_flows_shape(api, sandbox):
    events = await sandbox.events()
    event = events[3]
    start = datetime.fromisoformat(event["start"]["utc"])
    day = start.astimezone(LISBON).date()
    resp = await api.get("/internal/search", params={"date": day.isoformat(), "quantity": 2})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["provider"] == "eventbrite" and body["timezone"] == "Europe/Lisbon"
    same_day = {
        e["id"]
        for e in events
        if datetime.fromisoformat(e["start"]["utc"]).astimezone(LISBON).date() == day
    }
    assert {i["item"]["event_id"] for i in body["items"]} == same_day

    [offer, *_] = [i for i in body["items"] if i["item"]["event_id"] == event["id"]]
    tc = next(t for t in event["ticket_classes"] if t["id"] == offer["item"]["ticket_class_id"])
    item = BookingItem.model_validate(offer["item"])  # the shape the booking flow takes
    assert (
        item.id == f"eb:{event['id']}:{tc['id']}"
        and item.quantity == 2
        and item.booking_type == "event"
    )
    assert item.category in {"concert", "show", "tour"}
    assert (
        item.start_time == start
        and item.start_time.utcoffset() == start.astimezone(LISBON).utcoffset()
    )
    assert (
        datetime.fromisoformat(offer["item"]["start_time"]).utcoffset() is not None
    )  # Z in winter
    unit = tc["cost"]["value"] + tc["fee"]["value"]
    assert item.cost == Money(amount_minor=unit, currency="EUR")
    assert offer["price"] == {"amount_minor": 2 * unit, "currency": "EUR"}
    assert offer["timezone"] == "Europe/Lisbon"
    assert set(offer["cancellation_policy"]) == {"summary", "free_until", "refundable"}
    assert (
        offer["details"]["venue"]["name"]
        and offer["details"]["face_value"]["amount_minor"] == tc["cost"]["value"]
    )


async def test_search_marks_sold_out_classes_unavailable_and_filters_by_words(api, sandbox):
    events = await sandbox.events()
    early = next(
        (e, t) for e in events for t in e["ticket_classes"] if t["name"] == "Early Bird"
    )  # Early Bird classes are sold out in the catalogue
    event, tc = early
    day = datetime.fromisoformat(event["start"]["utc"]).astimezone(LISBON).date()
    body = (await api.get("/internal/search", params={"date": day.isoformat()})).json()
    [offer] = [i for i in body["items"] if i["item"]["ticket_class_id"] == tc["id"]]
    assert offer["available"] is False and offer["details"]["on_sale_status"] == "SOLD_OUT"

    body = (await api.get("/internal/search", params={"q": "fado", "limit": 100})).json()
    assert body["items"] and all(
        "fado" in i["details"]["event_name"].lower()
        or "fado" in (i["details"]["venue"] or {}).get("name", "").lower()
        for i in body["items"]
    )


async def test_search_answers_503_while_the_partner_is_down(api, sandbox):
    await sandbox.faults(error_rate=1.0)
    resp = await api.get("/internal/search")
    assert resp.status_code == 503 and "eventbrite" in resp.json()["detail"]


async def test_quote_gives_price_policy_and_availability_per_item(api, sandbox, item_for):
    # The last match: the first is where other tests' late holds land. Pending counts too.
    event, tc = await sandbox.bookable(policy="FLEXIBLE", min_left=2, pick=-1)
    ok = item_for(event, tc, quantity=2, item_id="ok")
    taken = tc["quantity_sold"] + tc["quantity_pending"]
    tc = await sandbox.set_inventory(tc["id"], capacity=taken + 1)
    assert tc["quantity_total"] - tc["quantity_sold"] - tc["quantity_pending"] == 1
    short = item_for(event, tc, quantity=2, item_id="short")
    gone = ok.model_copy(update={"id": "gone", "event_id": "999999999999"})
    resp = await api.post(
        "/internal/quote",
        json={
            "items": [
                i.model_dump(mode="json")
                for i in (ok.model_copy(update={"quantity": 1}), short, gone)
            ]
        },
    )
    assert resp.status_code == 200, resp.text
    lines = {line["item_id"]: line for line in resp.json()["items"]}
    unit = tc["cost"]["value"] + tc["fee"]["value"]
    assert lines["ok"]["available"] and lines["ok"]["price"] == {
        "amount_minor": unit,
        "currency": "EUR",
    }
    assert lines["ok"]["unit_price"] == {"amount_minor": unit, "currency": "EUR"}
    policy = lines["ok"]["cancellation_policy"]
    start = datetime.fromisoformat(event["start"]["utc"])
    assert policy["refundable"] and datetime.fromisoformat(
        policy["free_until"]
    ) == start - timedelta(hours=24)
    assert not lines["short"]["available"] and lines["short"]["reason"] == "insufficient_inventory"
    assert not lines["gone"]["available"] and lines["gone"]["reason"] == "not_found"


async def test_a_quote_asks_the_partner_about_its_items_at_once(api, sandbox, item_for):
    event, tc = await sandbox.bookable(min_left=2)
    items = [item_for(event, tc, quantity=1, item_id=f"i{n}") for n in range(4)]
    await sandbox.faults(latency_ms=400)
    try:
        started = time.monotonic()
        resp = await api.post(
            "/internal/quote", json={"items": [i.model_dump(mode="json") for i in items]}
        )
        took = time.monotonic() - started
    finally:
        await sandbox.faults()
    assert resp.status_code == 200, resp.text
    assert [line["item_id"] for line in resp.json()["items"]] == ["i0", "i1", "i2", "i3"]
    # one after another, four partner answers would take 1.6 s at least
    assert took < 1.2, took


async def test_booking_items_and_the_cancel_quote_follow_the_partners_records(
    provider, api, sandbox, item_for
):
    event, tc = await sandbox.bookable(policy="STANDARD", min_days_ahead=3, min_left=2)
    bid = f"bk_api_{uuid.uuid4().hex[:8]}"
    item = item_for(event, tc, quantity=2)
    assert (
        await provider.process(HoldItem(booking_id=bid, command_id=uuid.uuid4(), item=item))
        == "handled"
    )
    [row] = (await api.get(f"/internal/bookings/{bid}/items")).json()["items"]
    assert row["status"] == "HELD" and row["hold_id"] and row["hold_expires_at"]
    assert (await api.get(f"/internal/bookings/{bid}/items/item-1/cancel-quote")).status_code == 409

    confirm = ConfirmItem(booking_id=bid, command_id=uuid.uuid4(), item=item, guest=provider.seal())
    assert await provider.process(confirm) == "handled"
    [row] = (await api.get(f"/internal/bookings/{bid}/items")).json()["items"]
    [order] = await sandbox.orders(f"{bid}:item-1")
    assert row["status"] == "CONFIRMED" and row["partner_status"] == "CONFIRMED"
    assert row["partner_reference"] == row["confirmation_code"] == order["order_id"]
    total = 2 * (tc["cost"]["value"] + tc["fee"]["value"])
    assert row["price"] == {"amount_minor": total, "currency": "EUR"}

    # Between 7 days and 48 hours before the start, STANDARD gives half back.
    start = datetime.fromisoformat(event["start"]["utc"])
    await sandbox.clock((start - await sandbox.now()).total_seconds() - 72 * 3600)
    quote = (await api.get(f"/internal/bookings/{bid}/items/item-1/cancel-quote")).json()
    assert quote["refund"] == {"amount_minor": total // 2, "currency": "EUR"}
    assert quote["fee"] == {"amount_minor": total - total // 2, "currency": "EUR"}
    assert quote["policy"] == row["cancellation_policy"] and quote["policy"]["refundable"]
    [order] = await sandbox.orders(f"{bid}:item-1")
    assert order["status"] == "CONFIRMED"  # a quote changes nothing

    assert (await api.get(f"/internal/bookings/{bid}/items/nope/cancel-quote")).status_code == 404
    assert (await api.get("/internal/bookings/nobody/items")).json()["items"] == []
