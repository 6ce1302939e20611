"""CONTRACT TESTS (other services stubbed, stubs.py): input at the edges. Numbers of any size,
partner ids that would change a partner URL, and bodies over MAX_BODY_BYTES that stream in
without a Content-Length are each a clear 4xx that changes nothing."""

from __future__ import annotations

import json

import pytest

from .conftest import bearer, event_item, restaurant_item, sign_up

pytestmark = pytest.mark.integration


async def post_quote_raw(client, token: str, raw: bytes):
    return await client.post(
        "/v1/quotes",
        content=raw,
        headers={**bearer(token), "content-type": "application/json"},
    )


@pytest.mark.parametrize(
    ("cost_json", "field"),
    [
        ("1e999", "items[0].cost"),
        ("-1e999", "items[0].cost"),
        ("45.5", "items[0].cost"),
        ("1" + "0" * 400, "items[0].cost"),
        ('"99999999999999999999 EUR"', "items[0].cost"),
        ('{"amount_minor": 100000000, "currency": "EUR"}', "items[0].cost"),
        ('{"amount_minor": ' + "9" * 30 + ', "currency": "EUR"}', "items[0].cost"),
        ('{"amount_minor": "4500", "currency": "EUR"}', "items[0].cost.amount_minor"),
        ('{"amount_minor": -1, "currency": "EUR"}', "items[0].cost"),
    ],
)
async def test_a_huge_or_ill_typed_cost_is_a_422_naming_it_and_changes_nothing(
    gateway, client, cost_json, field
):
    token, _ = await sign_up(client)
    item = restaurant_item(cost="__COST__")
    raw = json.dumps({"items": [item]}).replace('"__COST__"', cost_json).encode()
    before = await gateway.counts()
    r = await post_quote_raw(client, token, raw)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]]
    assert await gateway.counts() == before


async def test_the_largest_allowed_cost_is_quoted(client):
    token, _ = await sign_up(client)
    r = await client.post(
        "/v1/quotes",
        json={"items": [restaurant_item(cost="999999.99 EUR", party_size=1)]},
        headers=bearer(token),
    )
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (restaurant_item(venue_id="rest_001/../../admin"), "items[0].venue_id"),
        (restaurant_item(venue_id="rest_001?x=1"), "items[0].venue_id"),
        (event_item(event_id="evt 001"), "items[0].event_id"),
        (event_item(ticket_class_id="tc_001_a#frag"), "items[0].ticket_class_id"),
        (event_item(ticket_class_id="%2e%2e"), "items[0].ticket_class_id"),
        (event_item(event_id="é" * 3), "items[0].event_id"),
    ],
)
async def test_a_partner_id_that_would_change_a_partner_url_is_a_422(gateway, client, item, field):
    token, _ = await sign_up(client)
    before = await gateway.counts()
    r = await client.post("/v1/quotes", json={"items": [item]}, headers=bearer(token))
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]
    assert await gateway.counts() == before


async def test_a_chunked_body_over_the_limit_is_413_before_the_token_is_even_looked_at(
    gateway, client
):
    limit = gateway.settings.max_body_bytes

    async def chunks():
        yield b'{"items": [{"title": "'
        for _ in range(limit // 1024 + 2):
            yield b"x" * 1024
        yield b'"}]}'

    before = await gateway.counts()
    r = await client.post(
        "/v1/quotes",
        content=chunks(),
        headers={"content-type": "application/json", "authorization": "Bearer gw_not-a-token"},
    )
    assert "content-length" not in r.request.headers
    assert r.request.headers["transfer-encoding"] == "chunked"
    assert r.status_code == 413, r.text
    assert r.json()["errors"] == [{"field": "body", "message": f"larger than {limit} bytes"}]
    assert "www-authenticate" not in r.headers
    assert await gateway.counts() == before


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"name": "Nu\\u0000l", "email": "nul@example.com"}', "name"),
        (b'{"name": "Zo\\u00eb", "email": "z\\ud800@example.com"}', "email"),
        (b'{"name": "Zo", "email": "z@example.com", "preferences": {"\\u0000": 1}}', "preferences"),
    ],
)
async def test_a_nul_or_a_lone_surrogate_in_a_string_is_a_422_not_a_database_error(
    gateway, client, raw, field
):
    before = await gateway.counts()
    r = await client.post("/v1/users", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]
    assert await gateway.counts() == before


async def test_a_cursor_that_is_not_one_of_your_bookings_is_404(client):
    token, _ = await sign_up(client)
    r = await client.get(
        "/v1/bookings", params={"cursor": "bk_nosuchbooking"}, headers=bearer(token)
    )
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/v1/me", "GET, PATCH"),
        ("PUT", "/v1/bookings", "GET, POST"),
        ("DELETE", "/v1/payment-methods/setup-intent", "POST"),
    ],
)
async def test_a_method_the_path_does_not_serve_is_405_naming_every_method_it_does(
    client, method, path, allow
):
    token, _ = await sign_up(client)
    r = await client.request(method, path, headers=bearer(token))
    assert r.status_code == 405, r.text
    assert r.headers["allow"] == allow
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_an_idempotency_key_with_a_quote_inside_is_a_400_that_says_why(gateway, client):
    token, _ = await sign_up(client)
    before = await gateway.counts()
    r = await client.post(
        "/v1/bookings",
        json={"quote_id": "qt_x", "confirm": True},
        headers={**bearer(token), "Idempotency-Key": 'ab"cd'},
    )
    assert r.status_code == 400, r.text
    assert r.json()["errors"] == [
        {
            "field": "Idempotency-Key",
            "message": "the Idempotency-Key header must be printable ASCII without spaces or quotes",
        }
    ]
    assert await gateway.counts() == before
