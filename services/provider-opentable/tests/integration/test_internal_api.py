"""The internal HTTP API the gateway calls: capabilities, search, quote, booking items, cancel quote."""

from __future__ import annotations

from datetime import time

from booking_shared.contracts import BookingItem, ItemCancelled, ItemConfirmed
from provider_opentable.adapters.partner_port import GUEST_REQUIREMENTS

from .conftest import new_booking, restaurant_item, slot


async def test_capabilities_name_the_booking_type_and_the_hold(provider):
    body = (await provider.http.get("/internal/capabilities")).json()
    assert body == {
        "provider": "opentable",
        "booking_types": ["restaurant"],
        "capabilities": {
            "hold": True,
            "api_book": True,
            "cancel": True,
            "refund_policy": "per_item_policy",
            "hold_ttl_seconds": 180,
            "guest_requirements": GUEST_REQUIREMENTS.model_dump(),
        },
    }


async def test_search_returns_bookable_items_in_the_booking_flows_shape(provider):
    start = slot(days_ahead=4)
    resp = await provider.http.get(
        "/internal/search",
        params={"date": start.date().isoformat(), "party_size": 3, "time": "19:30", "limit": 6},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["provider"], body["timezone"], len(body["items"])) == (
        "opentable",
        "Europe/Lisbon",
        6,
    )
    for entry in body["items"]:
        item = BookingItem.model_validate(entry["item"])  # what the booking flow takes, unchanged
        assert item.start_time == start and item.party_size == 3 and item.category == "dinner"
        assert item.id == f"ot:{item.venue_id}:{start:%Y-%m-%dT%H:%M}"
        assert entry["price"] == {"amount_minor": item.cost.amount_minor * 3, "currency": "EUR"}
        assert entry["available"] and entry["timezone"] == "Europe/Lisbon"
        assert set(entry["cancellation_policy"]) == {"summary", "free_until", "refundable"}
        assert entry["details"]["restaurant_name"] in item.title


async def test_a_search_item_quotes_as_available_and_an_unknown_restaurant_does_not(provider):
    start = slot(days_ahead=4, at=time(13, 0))
    found = (
        await provider.http.get(
            "/internal/search",
            params={"date": start.date().isoformat(), "q": "Taberna Velha", "time": "13:00"},
        )
    ).json()["items"]
    item = found[0]["item"]
    assert item["venue_id"] == "rest_026" and item["category"] == "lunch"
    ghost_restaurant = {**item, "id": "item-x", "venue_id": "rest_404"}
    resp = await provider.http.post("/internal/quote", json={"items": [item, ghost_restaurant]})
    assert resp.status_code == 200, resp.text
    good, missing = resp.json()["items"]
    assert (
        good["available"]
        and good["price"] == found[0]["price"]
        and good["unit_price"] == item["cost"]
    )
    assert good["cancellation_policy"] == found[0]["cancellation_policy"]
    assert (missing["item_id"], missing["available"], missing["reason"]) == (
        "item-x",
        False,
        "not_found",
    )


async def test_bad_search_input_is_a_422_naming_the_field(provider):
    resp = await provider.http.get("/internal/search", params={"party_size": 0})
    assert resp.status_code == 422 and "party_size" in resp.text


async def test_a_partner_outage_is_a_503_on_search(provider):
    async with provider.faults(error_rate=1):
        resp = await provider.http.get(
            "/internal/search", params={"date": slot().date().isoformat()}
        )
    assert resp.status_code == 503 and "opentable" in resp.text


async def test_booking_items_and_cancel_quote_follow_the_booking(provider):
    bid = new_booking()
    start = slot(
        days_ahead=1
    )  # rest_028: free until 48 h before, then 50%: tomorrow is inside the fee band
    item = restaurant_item("rest_028", start, party_size=2)
    held = await provider.hold(bid, item)

    [view] = (await provider.http.get(f"/internal/bookings/{bid}/items")).json()["items"]
    assert (view["status"], view["partner_status"], view["hold_id"]) == (
        "HELD",
        "Active",
        held.hold_id,
    )
    assert view["price"] == held.price.model_dump()
    not_yet = await provider.http.get(f"/internal/bookings/{bid}/items/item-1/cancel-quote")
    assert not_yet.status_code == 409

    booked = await provider.confirm(bid, item)
    assert isinstance(booked, ItemConfirmed)
    [view] = (await provider.http.get(f"/internal/bookings/{bid}/items")).json()["items"]
    assert (view["status"], view["partner_status"]) == ("CONFIRMED", "Confirmed")
    assert (view["confirmation_code"], view["partner_reference"]) == (
        booked.confirmation_code,
        booked.partner_reference,
    )
    assert view["cancellation_policy"]["summary"] == booked.cancellation_policy.summary

    quote = (await provider.http.get(f"/internal/bookings/{bid}/items/item-1/cancel-quote")).json()
    fee = held.price.amount_minor // 2
    assert quote["fee"] == {"amount_minor": fee, "currency": "EUR"}
    assert quote["refund"] == {"amount_minor": held.price.amount_minor - fee, "currency": "EUR"}
    cancelled = await provider.cancel(bid, "item-1")
    assert isinstance(cancelled, ItemCancelled)
    assert (cancelled.fee.model_dump(), cancelled.refund.model_dump()) == (
        quote["fee"],
        quote["refund"],
    )

    missing = await provider.http.get(f"/internal/bookings/{bid}/items/item-9/cancel-quote")
    assert missing.status_code == 404
    assert (await provider.http.get("/internal/bookings/bk_none/items")).json()["items"] == []
