"""CONTRACT TESTS (the other services are the stubs in stubs.py): the whole journey through HTTP
against the real gateway, real Postgres and the real broker: sign up, add a card, search, quote,
book; the SSE stream to a final state (driven by publishing the saga's events); calendar; cancel."""

from __future__ import annotations

import asyncio
import json

import httpx

from booking_shared.contracts import (
    BookingCancelled,
    BookingConfirmed,
    BookingFailed,
    BookingRequested,
    ConfirmedItem,
    FailureReason,
    ItemCancellation,
    ItemRefund,
    SagaStateChanged,
)
from booking_shared.contracts.topics import BOOKING_EVENTS, SAGA_STATE
from booking_shared.money import Money
from booking_shared.sealed import unseal
from booking_shared.testing.plugin import wait_for

from .conftest import add_card, bearer, book, quote, read_topic, sign_up


async def sse_events(
    client: httpx.AsyncClient, token: str, booking_id: str, wait_s: float = 20.0
) -> list[dict]:
    """Read the booking's event stream until the server ends it."""
    events: list[dict] = []

    async def run() -> None:
        async with client.stream(
            "GET", f"/v1/bookings/{booking_id}/events", headers=bearer(token)
        ) as r:
            assert r.status_code == 200, await r.aread()
            assert r.headers["content-type"].startswith("text/event-stream")
            current: dict = {}
            async for line in r.aiter_lines():
                if line.startswith("data:"):
                    current["data"] = json.loads(line[5:].strip())
                elif line.startswith("id:"):
                    current["id"] = line[3:].strip()
                elif line.startswith("event:"):
                    current["event"] = line[6:].strip()
                elif line == "" and current:
                    events.append(current)
                    current = {}

    await asyncio.wait_for(run(), wait_s)
    return events


async def test_sign_up_add_card_search_quote_and_book_puts_a_sealed_booking_requested_on_the_topic(
    gateway, client
):
    token, user = await sign_up(client)
    assert user["preferences"]["auto_book_enabled"] is False
    assert (
        await gateway.pool.fetchval("SELECT count(*) FROM api_tokens WHERE token_hash = $1", token)
        == 0
    )

    r = await client.post("/v1/payment-methods/setup-intent", headers=bearer(token))
    assert r.status_code == 201 and r.json()["client_secret"].startswith("seti_")
    pm = await add_card(client, token)
    cards = (await client.get("/v1/payment-methods", headers=bearer(token))).json()[
        "payment_methods"
    ]
    assert [c["id"] for c in cards] == [pm] and cards[0]["is_default"]

    r = await client.get(
        "/v1/search",
        params={"date": "2026-12-05", "party_size": 2, "quantity": 2},
        headers=bearer(token),
    )
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["missing_providers"] == [] and sorted(found["providers"]) == [
        "eventbrite",
        "opentable",
    ]
    items = [
        next(x["item"] for x in found["results"] if x["booking_type"] == t)
        for t in ("restaurant", "event")
    ]

    q = await quote(client, token, items)
    assert q["bookable"] and q["confirmation_required"] and not q["auto_book_allowed"]
    assert q["total"] == {"amount_minor": 2500 * 2 + 3000 * 2, "currency": "EUR"}
    assert {c["code"] for c in q["reasons"]} == {"auto_book_disabled"}

    r = await book(client, token, q["id"], confirm=True)
    assert r.status_code == 202, r.text
    booking_id = r.json()["booking_id"]
    assert r.headers["location"] == f"/v1/bookings/{booking_id}"
    assert (
        r.json()["state"] == "REQUESTED" and r.json()["consent"]["basis"] == "explicit_confirmation"
    )

    consent = await gateway.pool.fetchrow(
        "SELECT * FROM consents WHERE booking_id = $1", booking_id
    )
    assert consent["user_id"] == user["id"] and consent["quote_id"] == q["id"]
    assert consent["amount_minor"] == 11000 and consent["confirmed_explicitly"]
    assert consent["user_agent"].startswith("python-httpx") and consent["ip"] == "127.0.0.1"

    records = await read_topic(gateway.kafka, BOOKING_EVENTS, booking_id)
    assert len(records) == 1
    headers = dict(records[0].headers)
    assert (
        headers["type"] == b"BookingRequested" and headers["correlation_id"] == booking_id.encode()
    )
    msg = BookingRequested.model_validate_json(records[0].value)
    assert msg.user_id == user["id"] and msg.total == Money(amount_minor=11000, currency="EUR")
    assert msg.payment.payment_method_id == pm and msg.payment.customer_id.startswith("cus_")
    raw = records[0].value.decode()
    for pii in (user["email"], user["name"], "Silva", "912 345 678"):
        assert pii not in raw
    guest = unseal(msg.guest, gateway.settings.guest_data_key)
    assert guest.email == user["email"] and guest.first_name == "Ana"

    status = (await client.get(f"/v1/bookings/{booking_id}", headers=bearer(token))).json()
    assert status["state"] == "REQUESTED" and status["saga"]["source"] == "not_found"
    assert [i["status"] for i in status["items"]] == ["PENDING", "PENDING"]


async def test_the_event_stream_follows_the_saga_to_confirmed_then_calendar_and_cancellation(
    gateway, client
):
    token, _ = await sign_up(client)
    await add_card(client, token)
    q = await quote(client, token)
    booking_id = (await book(client, token, q["id"], confirm=True)).json()["booking_id"]

    stream = asyncio.create_task(sse_events(client, token, booking_id))
    path = ["REQUESTED", "HOLDING", "AUTHORIZING", "CONFIRMING", "CAPTURING", "CONFIRMED"]
    for a, b in zip(path, path[1:], strict=False):
        await gateway.publish(
            SAGA_STATE, SagaStateChanged(booking_id=booking_id, from_state=a, to_state=b)
        )
    await wait_for(
        lambda: _state_is(gateway, booking_id, "CONFIRMED"), what="the saga states consumed"
    )
    await gateway.publish(
        BOOKING_EVENTS,
        BookingConfirmed(
            booking_id=booking_id,
            items=[
                ConfirmedItem(
                    item_id="item-1",
                    provider="opentable",
                    confirmation_code="OT-8K2M4Q",
                    amount=Money.of("90", "EUR"),
                ),
                ConfirmedItem(
                    item_id="item-2",
                    provider="eventbrite",
                    confirmation_code="EB-77",
                    amount=Money.of("60", "EUR"),
                ),
            ],
            amount_captured=Money.of("150", "EUR"),
        ),
    )
    events = await stream
    assert [e["data"]["state"] for e in events] == path + ["CONFIRMED"]
    assert events[-1]["data"]["type"] == "BookingConfirmed" and events[-1]["data"]["final"] is True
    assert events[-1]["data"]["details"]["items"][0]["confirmation_code"] == "OT-8K2M4Q"
    ids = [int(e["id"]) for e in events if "id" in e]
    assert ids == sorted(ids)

    await wait_for(
        lambda: _codes(client, token, booking_id), what="the confirmation codes in the projection"
    )
    status = (await client.get(f"/v1/bookings/{booking_id}", headers=bearer(token))).json()
    assert {i["item_id"]: i["confirmation_code"] for i in status["items"]} == {
        "item-1": "OT-8K2M4Q",
        "item-2": "EB-77",
    }
    assert status["payment"]["captured"] == {"amount_minor": 15000, "currency": "EUR"}

    r = await client.get(f"/v1/bookings/{booking_id}/calendar.ics", headers=bearer(token))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    assert r.text.count("BEGIN:VEVENT") == 2
    assert f"UID:{booking_id}.item-1@booking.local" in r.text and "OT-8K2M4Q" in r.text
    again = await client.get(f"/v1/bookings/{booking_id}/calendar.ics", headers=bearer(token))
    assert again.text == r.text  # stable UIDs and stamp

    r = await client.get(f"/v1/bookings/{booking_id}/cancel-quote", headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json()["total_refund"] == {"amount_minor": 8000, "currency": "EUR"}

    r = await client.post(
        f"/v1/bookings/{booking_id}/cancel", json={"reason": "plans changed"}, headers=bearer(token)
    )
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "CANCELLATION_REQUESTED"
    again = await client.post(f"/v1/bookings/{booking_id}/cancel", headers=bearer(token))
    assert again.status_code == 202
    rows = await gateway.pool.fetch(
        "SELECT payload FROM outbox WHERE msg_key = $1 AND headers::text LIKE '%BookingCancellationRequested%'",
        booking_id,
    )
    assert len(rows) == 1 and json.loads(rows[0]["payload"])["reason"] == "plans changed"

    stream = asyncio.create_task(sse_events(client, token, booking_id))
    await gateway.publish(
        SAGA_STATE,
        SagaStateChanged(booking_id=booking_id, from_state="CONFIRMED", to_state="CANCELLING"),
    )
    await gateway.publish(
        BOOKING_EVENTS,
        BookingCancelled(
            booking_id=booking_id,
            refunds=[
                ItemRefund(
                    item_id="item-1", refunded=Money.of("40", "EUR"), fee=Money.of("50", "EUR")
                )
            ],
            total_refunded=Money.of("40", "EUR"),
        ),
    )
    events = await stream
    assert events[-1]["data"]["state"] == "CANCELLED"
    status = (await client.get(f"/v1/bookings/{booking_id}", headers=bearer(token))).json()
    assert status["state"] == "CANCELLED" and status["payment"]["refunded"] == {
        "amount_minor": 4000,
        "currency": "EUR",
    }

    r = await client.post(f"/v1/bookings/{booking_id}/cancel", headers=bearer(token))
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "booking_id"


async def test_a_cancellation_a_partner_refused_for_one_item_shows_each_items_outcome(
    gateway, client
):
    token, _ = await sign_up(client)
    await add_card(client, token)
    q = await quote(client, token)
    booking_id = (await book(client, token, q["id"], confirm=True)).json()["booking_id"]
    path = ["REQUESTED", "HOLDING", "AUTHORIZING", "CONFIRMING", "CAPTURING", "CONFIRMED"]
    for a, b in zip(path, path[1:], strict=False):
        await gateway.publish(
            SAGA_STATE, SagaStateChanged(booking_id=booking_id, from_state=a, to_state=b)
        )
    await wait_for(
        lambda: _state_is(gateway, booking_id, "CONFIRMED"), what="the saga states consumed"
    )
    r = await client.post(f"/v1/bookings/{booking_id}/cancel", headers=bearer(token))
    assert r.status_code == 202, r.text
    for a, b in (("CONFIRMED", "CANCELLING"), ("CANCELLING", "PARTIALLY_CANCELLED")):
        await gateway.publish(
            SAGA_STATE, SagaStateChanged(booking_id=booking_id, from_state=a, to_state=b)
        )
    await gateway.publish(
        BOOKING_EVENTS,
        BookingCancelled(
            booking_id=booking_id,
            refunds=[
                ItemRefund(
                    item_id="item-1", refunded=Money.of("90", "EUR"), fee=Money.of("0", "EUR")
                )
            ],
            total_refunded=Money.of("90", "EUR"),
            partial=True,
            items=[
                ItemCancellation(
                    item_id="item-1",
                    outcome="cancelled",
                    refunded=Money.of("90", "EUR"),
                    fee=Money.of("0", "EUR"),
                ),
                ItemCancellation(
                    item_id="item-2",
                    outcome="not_cancellable",
                    refunded=Money.of("0", "EUR"),
                    fee=Money.of("0", "EUR"),
                    reason_code="not_cancellable",
                    detail="The event has started: the order cannot be cancelled.",
                ),
            ],
        ),
    )

    async def shown() -> dict | None:
        status = (await client.get(f"/v1/bookings/{booking_id}", headers=bearer(token))).json()
        return status if status["cancellation"] and status["cancellation"]["partial"] else None

    status = await wait_for(shown, what="the partial cancellation in the projection")
    assert status["state"] == "PARTIALLY_CANCELLED"
    items = {i["item_id"]: i for i in status["items"]}
    assert items["item-1"]["status"] == "CANCELLED"
    assert items["item-1"]["cancellation"] == {
        "outcome": "cancelled",
        "refund": {"amount_minor": 9000, "currency": "EUR"},
        "fee": {"amount_minor": 0, "currency": "EUR"},
        "reason_code": None,
        "detail": "",
    }
    assert items["item-2"]["status"] == "NOT_CANCELLABLE"
    assert items["item-2"]["cancellation"]["outcome"] == "not_cancellable"
    assert items["item-2"]["cancellation"]["refund"] is None
    assert "started" in items["item-2"]["cancellation"]["detail"]
    assert status["payment"]["refunded"] == {"amount_minor": 9000, "currency": "EUR"}
    assert [r["item_id"] for r in status["cancellation"]["refunds"]] == ["item-1"]
    # Final: a second cancellation is refused.
    r = await client.post(f"/v1/bookings/{booking_id}/cancel", headers=bearer(token))
    assert r.status_code == 409


async def _codes(client, token, booking_id) -> bool:
    status = (await client.get(f"/v1/bookings/{booking_id}", headers=bearer(token))).json()
    return all(i["confirmation_code"] for i in status["items"])


async def test_a_card_needing_3d_secure_streams_the_client_secret(gateway, client):
    token, _ = await sign_up(client)
    await add_card(client, token)
    q = await quote(client, token)
    booking_id = (await book(client, token, q["id"], confirm=True)).json()["booking_id"]
    gateway.upstreams.sagas[booking_id] = {
        "booking_id": booking_id,
        "state": "ACTION_REQUIRED",
        "items": [],
        "payment": {
            "payment_intent_id": "pi_1",
            "authorized": None,
            "captured": None,
            "refunded": None,
            "client_secret": "pi_1_secret_3ds",
        },
    }
    stream = asyncio.create_task(sse_events(client, token, booking_id))
    await gateway.publish(
        SAGA_STATE,
        SagaStateChanged(booking_id=booking_id, from_state="REQUESTED", to_state="HOLDING"),
    )
    await gateway.publish(
        SAGA_STATE,
        SagaStateChanged(booking_id=booking_id, from_state="HOLDING", to_state="AUTHORIZING"),
    )
    await gateway.publish(
        SAGA_STATE,
        SagaStateChanged(
            booking_id=booking_id, from_state="AUTHORIZING", to_state="ACTION_REQUIRED"
        ),
    )
    await wait_for(
        lambda: _state_is(gateway, booking_id, "ACTION_REQUIRED"), what="ACTION_REQUIRED"
    )
    status = (await client.get(f"/v1/bookings/{booking_id}", headers=bearer(token))).json()
    assert status["payment"]["client_secret"] == "pi_1_secret_3ds"

    gateway.upstreams.sagas[booking_id]["payment"]["client_secret"] = None
    gateway.upstreams.sagas[booking_id]["state"] = "FAILED"
    await gateway.publish(
        SAGA_STATE,
        SagaStateChanged(
            booking_id=booking_id, from_state="ACTION_REQUIRED", to_state="COMPENSATING"
        ),
    )
    await gateway.publish(
        SAGA_STATE,
        SagaStateChanged(booking_id=booking_id, from_state="COMPENSATING", to_state="FAILED"),
    )
    await gateway.publish(
        BOOKING_EVENTS,
        BookingFailed(
            booking_id=booking_id,
            reasons=[FailureReason(code="authentication_required", detail="3DS not completed")],
        ),
    )
    events = await stream
    action = [e for e in events if e["data"]["state"] == "ACTION_REQUIRED"]
    assert action and action[0]["data"]["client_secret"] == "pi_1_secret_3ds"
    assert events[-1]["data"]["state"] == "FAILED" and events[-1]["data"]["final"]

    r = await client.get(f"/v1/bookings/{booking_id}/calendar.ics", headers=bearer(token))
    assert r.status_code == 409


async def _state_is(gateway, booking_id, state) -> bool:
    return (
        await gateway.pool.fetchval("SELECT state FROM bookings WHERE id = $1", booking_id) == state
    )


async def test_an_outcome_before_the_saga_states_is_kept_and_foreign_bookings_are_ignored(
    gateway, client
):
    token, _ = await sign_up(client)
    await add_card(client, token)
    q = await quote(client, token)
    booking_id = (await book(client, token, q["id"], confirm=True)).json()["booking_id"]
    await gateway.publish(
        BOOKING_EVENTS,
        BookingConfirmed(
            booking_id=booking_id,
            items=[
                ConfirmedItem(
                    item_id="item-1",
                    provider="opentable",
                    confirmation_code="OT-1",
                    amount=Money.of("90", "EUR"),
                )
            ],
            amount_captured=Money.of("90", "EUR"),
            failed_items=[FailureReason(item_id="item-2", code="sold_out", detail="gone")],
        ),
    )
    await wait_for(
        lambda: _state_is(gateway, booking_id, "CONFIRMED"), what="CONFIRMED from the outcome"
    )
    late = await gateway.publish(
        SAGA_STATE,
        SagaStateChanged(booking_id=booking_id, from_state="CONFIRMING", to_state="CAPTURING"),
    )
    foreign = await gateway.publish(
        SAGA_STATE,
        SagaStateChanged(booking_id="bk_made_elsewhere", from_state=None, to_state="HOLDING"),
    )

    async def handled() -> bool:
        ids = {late.message_id, foreign.message_id}
        return (
            await gateway.pool.fetchval(
                "SELECT count(*) FROM inbox WHERE message_id = ANY($1::uuid[])", list(ids)
            )
            == 2
        )

    await wait_for(handled, what="the late and the foreign message handled")
    status = (await client.get(f"/v1/bookings/{booking_id}", headers=bearer(token))).json()
    assert status["state"] == "CONFIRMED"
    assert {i["item_id"]: i["status"] for i in status["items"]} == {
        "item-1": "CONFIRMED",
        "item-2": "FAILED",
    }
    assert await gateway.pool.fetchval("SELECT count(*) FROM dead_letters") == 0
    ics = (await client.get(f"/v1/bookings/{booking_id}/calendar.ics", headers=bearer(token))).text
    assert ics.count("BEGIN:VEVENT") == 1 and "OT-1" in ics  # best effort: only the booked item
