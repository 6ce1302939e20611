"""CONTRACT TESTS (other services stubbed, stubs.py): a booking takes its card from the gateway's
own copy of the user's cards, so it is accepted while the payment service is down; the copy
follows every change the gateway hears. A user without a copy is accepted too while the payment
service is down: the request waits for the card, chosen when the payment service answers."""

from __future__ import annotations

import asyncio
import json
import uuid

from booking_shared.contracts import BookingRequested
from booking_shared.contracts.topics import BOOKING_EVENTS
from booking_shared.testing.plugin import wait_for

from .conftest import add_card, bearer, book, quote, read_topic, sign_up


async def _copy(gateway, user_id: str) -> list[dict] | None:
    import json

    raw = await gateway.pool.fetchval("SELECT cards FROM card_copies WHERE user_id = $1", user_id)
    return None if raw is None else json.loads(raw)


async def test_a_booking_is_accepted_with_the_payment_service_down(gateway, client):
    token, user = await sign_up(client)
    pm = await add_card(client, token)
    q = await quote(client, token)
    calls = len(gateway.upstreams.calls)
    gateway.upstreams.down.add("payment")
    try:
        r = await book(client, token, q["id"], key=str(uuid.uuid4()), confirm=True)
    finally:
        gateway.upstreams.down.discard("payment")
    assert r.status_code == 202, r.text
    assert r.json()["payment_method_id"] == pm
    assert [c for c in gateway.upstreams.calls[calls:] if c[0] == "payment"] == []  # not asked
    booking = r.json()["booking_id"]
    state = await gateway.pool.fetchval("SELECT state FROM bookings WHERE id = $1", booking)
    assert state == "REQUESTED"


async def test_the_copy_follows_saving_choosing_and_removing_cards(gateway, client):
    token, user = await sign_up(client)
    first = await add_card(client, token)
    assert [(c["id"], c["is_default"]) for c in await _copy(gateway, user["id"])] == [(first, True)]
    second = await add_card(client, token, f"pm_{uuid.uuid4().hex[:12]}")
    assert {c["id"]: c["is_default"] for c in await _copy(gateway, user["id"])} == {
        first: False,
        second: True,
    }
    r = await client.post(f"/v1/payment-methods/{first}/default", headers=bearer(token))
    assert r.status_code == 200, r.text
    assert {c["id"]: c["is_default"] for c in await _copy(gateway, user["id"])} == {
        first: True,
        second: False,
    }
    r = await client.delete(f"/v1/payment-methods/{first}", headers=bearer(token))
    assert r.status_code == 204, r.text
    assert [c["id"] for c in await _copy(gateway, user["id"])] == [second]
    # Only tokens and display fields: never more than the payment service shows.
    assert set((await _copy(gateway, user["id"]))[0]) == {
        "id",
        "brand",
        "last4",
        "exp_month",
        "exp_year",
        "is_default",
    }


async def test_the_card_asked_for_must_be_in_the_copy(gateway, client):
    token, _ = await sign_up(client)
    await add_card(client, token)
    q = await quote(client, token)
    gateway.upstreams.down.add("payment")
    try:
        r = await book(
            client,
            token,
            q["id"],
            key=str(uuid.uuid4()),
            confirm=True,
            payment_method_id="pm_notmine1",
        )
    finally:
        gateway.upstreams.down.discard("payment")
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "payment_method_id"


async def test_a_user_whose_cards_were_never_heard_is_asked_for_once(gateway, client):
    token, user = await sign_up(client)
    pm = await add_card(client, token)
    await gateway.pool.execute("DELETE FROM card_copies WHERE user_id = $1", user["id"])
    q = await quote(client, token)
    r = await book(client, token, q["id"], key=str(uuid.uuid4()), confirm=True)
    assert r.status_code == 202 and r.json()["payment_method_id"] == pm
    assert [c["id"] for c in await _copy(gateway, user["id"])] == [pm]
    # Never heard and the payment service down: accepted all the same, the card chosen later.
    await gateway.pool.execute("DELETE FROM card_copies WHERE user_id = $1", user["id"])
    q = await quote(client, token)
    gateway.upstreams.down.add("payment")
    try:
        r = await book(client, token, q["id"], key=str(uuid.uuid4()), confirm=True)
    finally:
        gateway.upstreams.down.discard("payment")
    assert r.status_code == 202, r.text
    assert r.json()["payment_method_id"] is None


async def test_a_save_that_is_not_heard_drops_the_copy(gateway, client):
    token, user = await sign_up(client)
    await add_card(client, token)
    assert await _copy(gateway, user["id"]) is not None
    gateway.upstreams.down.add("payment")
    try:
        r = await client.post(
            "/v1/payment-methods", json={"payment_method_id": "pm_unheard1"}, headers=bearer(token)
        )
    finally:
        gateway.upstreams.down.discard("payment")
    assert r.status_code == 503
    assert await _copy(gateway, user["id"]) is None


async def _book_unheard_while_payment_is_down(gateway, client, token, user, **body) -> str:
    """A booking of a user whose cards are not known here, made while the payment service is
    down: accepted (202), no card yet, and nothing sent to the saga."""
    await gateway.pool.execute("DELETE FROM card_copies WHERE user_id = $1", user["id"])
    q = await quote(client, token)
    gateway.upstreams.down.add("payment")
    r = await book(client, token, q["id"], key=str(uuid.uuid4()), confirm=True, **body)
    assert r.status_code == 202, r.text
    assert r.json()["payment_method_id"] is None and r.json()["state"] == "REQUESTED"
    booking = r.json()["booking_id"]
    # Consent is recorded at once, as for any booking; the request waits for its card.
    assert (
        await gateway.pool.fetchval("SELECT count(*) FROM consents WHERE booking_id = $1", booking)
        == 1
    )
    assert (
        await gateway.pool.fetchval(
            "SELECT count(*) FROM bookings_awaiting_card WHERE booking_id = $1", booking
        )
        == 1
    )
    return booking


async def _decided(gateway, booking: str):
    async def gone():
        waiting = await gateway.pool.fetchval(
            "SELECT count(*) FROM bookings_awaiting_card WHERE booking_id = $1", booking
        )
        return waiting == 0

    await wait_for(gone, timeout=10, what="the booking's card to be chosen")
    return await gateway.pool.fetchrow("SELECT * FROM bookings WHERE id = $1", booking)


async def test_a_booking_without_a_copy_waits_for_the_card_and_is_sent_when_payment_is_back(
    gateway, client
):
    token, user = await sign_up(client)
    await add_card(client, token)
    default = await add_card(client, token, f"pm_{uuid.uuid4().hex[:12]}")  # the newest: default
    try:
        booking = await _book_unheard_while_payment_is_down(gateway, client, token, user)
        await asyncio.sleep(1.0)  # several reconciler passes while it is down
        assert (
            await gateway.pool.fetchval(
                "SELECT count(*) FROM sent_requests WHERE booking_id = $1", booking
            )
            == 0
        )  # nothing went to the saga: no hold, no charge
        tries = await gateway.pool.fetchval(
            "SELECT attempts FROM bookings_awaiting_card WHERE booking_id = $1", booking
        )
        assert tries >= 1
        row = await gateway.pool.fetchrow("SELECT * FROM bookings WHERE id = $1", booking)
        assert row["state"] == "REQUESTED" and row["payment_method_id"] is None
    finally:
        gateway.upstreams.down.discard("payment")

    row = await _decided(gateway, booking)
    assert row["state"] == "REQUESTED" and row["payment_method_id"] == default
    records = await read_topic(gateway.kafka, BOOKING_EVENTS, booking)
    sent = BookingRequested.model_validate_json(records[0].value)
    assert sent.payment.payment_method_id == default
    assert sent.payment.customer_id.startswith("cus_") and sent.user_id == user["id"]
    # The copy was heard again: the next booking needs no call to the payment service.
    assert {c["id"] for c in await _copy(gateway, user["id"])} >= {default}
    r = await client.get(f"/v1/bookings/{booking}", headers=bearer(token))
    assert r.json()["payment"]["payment_method_id"] == default


async def test_a_waiting_booking_without_any_card_fails_with_a_reason_and_sends_nothing(
    gateway, client
):
    token, user = await sign_up(client)
    pm = await add_card(client, token)
    try:
        booking = await _book_unheard_while_payment_is_down(gateway, client, token, user)
        # Removed at the payment service while the gateway did not hear it (e.g. in Stripe).
        customer = gateway.upstreams.customers[user["id"]]
        gateway.upstreams.cards[customer] = [
            c for c in gateway.upstreams.cards[customer] if c["id"] != pm
        ]
    finally:
        gateway.upstreams.down.discard("payment")

    row = await _decided(gateway, booking)
    assert row["state"] == "FAILED" and row["payment_method_id"] is None
    reasons = json.loads(row["failure_reasons"])
    assert [r["code"] for r in reasons] == ["payment_method_required"]
    assert (
        await gateway.pool.fetchval(
            "SELECT count(*) FROM sent_requests WHERE booking_id = $1", booking
        )
        == 0
    )
    r = await client.get(f"/v1/bookings/{booking}", headers=bearer(token))
    assert r.json()["state"] == "FAILED"
    assert r.json()["failure_reasons"][0]["code"] == "payment_method_required"
    timeline = await gateway.pool.fetch(
        "SELECT type, state FROM booking_timeline WHERE booking_id = $1 ORDER BY id", booking
    )
    assert [(t["type"], t["state"]) for t in timeline][-1] == ("BookingFailed", "FAILED")


async def test_a_waiting_booking_for_a_card_that_is_not_the_users_fails_with_a_reason(
    gateway, client
):
    token, user = await sign_up(client)
    await add_card(client, token)
    try:
        booking = await _book_unheard_while_payment_is_down(
            gateway, client, token, user, payment_method_id="pm_notmine2"
        )
    finally:
        gateway.upstreams.down.discard("payment")

    row = await _decided(gateway, booking)
    assert row["state"] == "FAILED"
    assert [r["code"] for r in json.loads(row["failure_reasons"])] == ["payment_method_not_found"]
    assert (
        await gateway.pool.fetchval(
            "SELECT count(*) FROM sent_requests WHERE booking_id = $1", booking
        )
        == 0
    )


async def test_a_booking_waiting_longer_than_card_wait_max_fails_as_payment_unavailable(
    gateway, client
):
    token, user = await sign_up(client)
    await add_card(client, token)
    try:
        booking = await _book_unheard_while_payment_is_down(gateway, client, token, user)
        wait = gateway.settings.card_wait_max_s
        await gateway.pool.execute(
            "UPDATE bookings_awaiting_card SET created_at = now() - make_interval(secs => $2)"
            " WHERE booking_id = $1",
            booking,
            wait + 1,
        )
        row = await _decided(gateway, booking)  # while the payment service is still down
    finally:
        gateway.upstreams.down.discard("payment")
    assert row["state"] == "FAILED"
    assert [r["code"] for r in json.loads(row["failure_reasons"])] == ["payment_unavailable"]
    assert (
        await gateway.pool.fetchval(
            "SELECT count(*) FROM sent_requests WHERE booking_id = $1", booking
        )
        == 0
    )
