"""CONTRACT TESTS (other services stubbed, stubs.py): per-user rate limits (429 + Retry-After),
search fan-out with a provider down or slow, pagination."""

from __future__ import annotations

from .conftest import add_card, bearer, book, quote, restaurant_item, sign_up


async def test_quotes_beyond_the_users_bucket_are_429_with_retry_after(gateway, client):
    token, _ = await sign_up(client)
    capacity = gateway.settings.rate_quotes_capacity
    for _ in range(capacity):
        await quote(client, token, [restaurant_item()])
    before = await gateway.counts()
    r = await client.post("/v1/quotes", json={"items": [restaurant_item()]}, headers=bearer(token))
    assert r.status_code == 429, r.text
    assert int(r.headers["retry-after"]) >= 1 and r.json()["retry_after"] == int(
        r.headers["retry-after"]
    )
    assert (await gateway.counts())["quotes"] == before["quotes"]
    other, _ = await sign_up(client)  # per user: someone else is not limited
    await quote(client, other, [restaurant_item()])


async def test_bookings_beyond_the_users_bucket_are_429_and_leave_the_key_free(gateway, client):
    token, _ = await sign_up(client)
    await add_card(client, token)
    capacity = gateway.settings.rate_bookings_capacity
    quotes = [await quote(client, token, [restaurant_item()]) for _ in range(capacity + 1)]
    for q in quotes[:capacity]:
        assert (await book(client, token, q["id"], confirm=True)).status_code == 202
    before = await gateway.counts()
    r = await book(client, token, quotes[-1]["id"], key="over-the-limit", confirm=True)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    after = await gateway.counts()
    assert {k: after[k] for k in ("bookings", "outbox", "consents", "idempotency_keys")} == {
        k: before[k] for k in ("bookings", "outbox", "consents", "idempotency_keys")
    }

    page = (await client.get("/v1/bookings", params={"limit": 2}, headers=bearer(token))).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = (
        await client.get(
            "/v1/bookings",
            params={"limit": 2, "cursor": page["next_cursor"]},
            headers=bearer(token),
        )
    ).json()
    assert len(rest["items"]) == capacity - 2 and rest["next_cursor"] is None
    ids = [b["booking_id"] for b in page["items"] + rest["items"]]
    assert len(set(ids)) == capacity


async def test_search_answers_without_a_provider_that_is_down_or_too_slow(gateway, client):
    token, _ = await sign_up(client)
    params = {"date": "2026-12-05"}
    gateway.upstreams.down.add("eventbrite")
    try:
        r = await client.get("/v1/search", params=params, headers=bearer(token))
    finally:
        gateway.upstreams.down.discard("eventbrite")
    assert r.status_code == 200
    assert r.json()["missing_providers"] == ["eventbrite"] and r.json()["providers"] == [
        "opentable"
    ]
    assert {x["booking_type"] for x in r.json()["results"]} == {"restaurant"}

    gateway.upstreams.delay["opentable"] = gateway.settings.search_timeout_s + 1
    try:
        r = await client.get("/v1/search", params=params, headers=bearer(token))
    finally:
        gateway.upstreams.delay.pop("opentable", None)
    assert r.json()["missing_providers"] == ["opentable"] and r.json()["results"]

    r = await client.get("/v1/search", params={**params, "types": "event"}, headers=bearer(token))
    assert r.json()["providers"] == ["eventbrite"] and r.json()["missing_providers"] == []


async def test_a_quote_when_its_provider_is_down_is_503_and_stores_nothing(gateway, client):
    token, _ = await sign_up(client)
    gateway.upstreams.down.add("opentable")
    try:
        before = (await gateway.counts())["quotes"]
        r = await client.post(
            "/v1/quotes", json={"items": [restaurant_item()]}, headers=bearer(token)
        )
    finally:
        gateway.upstreams.down.discard("opentable")
    assert r.status_code == 503 and r.json()["service"] == "provider-opentable"
    assert (await gateway.counts())["quotes"] == before


async def test_a_party_searching_gets_a_ticket_each_unless_it_asks_for_another_number(client):
    token, _ = await sign_up(client)
    params = {"date": "2026-12-05", "types": "event", "party_size": 3}
    r = await client.get("/v1/search", params=params, headers=bearer(token))
    assert r.status_code == 200 and r.json()["results"]
    assert {x["item"]["quantity"] for x in r.json()["results"]} == {3}
    r = await client.get("/v1/search", params={**params, "quantity": 1}, headers=bearer(token))
    assert {x["item"]["quantity"] for x in r.json()["results"]} == {1}
