"""CONTRACT TESTS (other services stubbed, stubs.py): the Idempotency-Key rules of POST /v1/bookings
(draft-ietf-httpapi-idempotency-key-header)."""

from __future__ import annotations

import asyncio
import uuid

from .conftest import add_card, bearer, book, quote, sign_up


async def _ready(client):
    token, _ = await sign_up(client)
    await add_card(client, token)
    return token, await quote(client, token)


async def test_a_booking_without_an_idempotency_key_is_400_and_changes_nothing(gateway, client):
    token, q = await _ready(client)
    before = await gateway.counts()
    r = await client.post(
        "/v1/bookings", json={"quote_id": q["id"], "confirm": True}, headers=bearer(token)
    )
    assert r.status_code == 400
    assert r.json()["errors"] == [
        {
            "field": "Idempotency-Key",
            "message": "the Idempotency-Key header is required on this request",
        }
    ]
    r = await book(client, token, q["id"], key="has spaces in it", confirm=True)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await gateway.counts() == before


async def test_the_same_key_and_body_answer_the_same_booking_once(gateway, client):
    token, q = await _ready(client)
    key = str(uuid.uuid4())
    first = await book(client, token, q["id"], key=key, confirm=True)
    assert first.status_code == 202
    before = await gateway.counts()
    again = await book(
        client, token, q["id"], key=f'"{key}"', confirm=True
    )  # the draft's sf-string form
    assert again.status_code == 202
    assert again.json() == first.json() and again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await gateway.counts() == before  # no second booking, no second message
    published = await gateway.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE msg_key = $1", first.json()["booking_id"]
    )
    assert published == 1


async def test_the_same_key_with_another_body_is_422(gateway, client):
    token, q = await _ready(client)
    key = str(uuid.uuid4())
    assert (await book(client, token, q["id"], key=key, confirm=True)).status_code == 202
    r = await book(client, token, q["id"], key=key, confirm=True, mode="best_effort")
    assert r.status_code == 422
    assert (
        r.json()["type"].endswith("/idempotency-key-reused")
        and r.json()["errors"][0]["field"] == "Idempotency-Key"
    )


async def test_the_same_key_while_the_first_request_runs_is_409(gateway, client):
    token, q = await _ready(client)
    key = str(uuid.uuid4())
    # The first request waits on the payment service: the user's cards were never heard (no
    # copy), so the booking asks for them once, slowly.
    await gateway.pool.execute("DELETE FROM card_copies")
    gateway.upstreams.delay["list-cards"] = 1.0
    try:
        first = asyncio.create_task(book(client, token, q["id"], key=key, confirm=True))
        await asyncio.sleep(0.4)
        second = await book(client, token, q["id"], key=key, confirm=True)
        assert second.status_code == 409, second.text
        assert second.headers["retry-after"] == "1"
        assert (await first).status_code == 202
    finally:
        gateway.upstreams.delay.pop("list-cards", None)
    third = await book(client, token, q["id"], key=key, confirm=True)
    assert third.status_code == 202 and third.json() == (await first).json()


async def test_a_refused_request_leaves_its_key_free_for_the_corrected_one(gateway, client):
    token, q = await _ready(client)
    key = str(uuid.uuid4())
    refused = await book(client, token, q["id"], key=key, confirm=False)
    assert refused.status_code == 403
    # Same key, same body again: still refused (not replayed from a stored 403).
    assert (await book(client, token, q["id"], key=key, confirm=False)).status_code == 403
    assert (
        await gateway.pool.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = $1", key)
        == 0
    )


async def test_keys_are_per_user(gateway, client):
    token_a, qa = await _ready(client)
    token_b, qb = await _ready(client)
    key = str(uuid.uuid4())
    a = await book(client, token_a, qa["id"], key=key, confirm=True)
    b = await book(client, token_b, qb["id"], key=key, confirm=True)
    assert (
        a.status_code == b.status_code == 202 and a.json()["booking_id"] != b.json()["booking_id"]
    )


async def test_a_quote_is_booked_once_whatever_the_key(gateway, client):
    token, q = await _ready(client)
    first = await book(client, token, q["id"], confirm=True)
    again = await book(client, token, q["id"], confirm=True)
    assert again.status_code == 409 and again.json()["booking_id"] == first.json()["booking_id"]
