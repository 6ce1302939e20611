"""CONTRACT TESTS (other services stubbed, stubs.py): malformed input of every kind gets a 4xx
problem+json naming the field, and changes nothing (row counts of every table unchanged)."""

from __future__ import annotations

import httpx
import pytest

from .conftest import add_card, bearer, event_item, restaurant_item, sign_up


@pytest.fixture(scope="module")
async def token(gateway) -> str:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=15) as c:
        t, _ = await sign_up(c)
        await add_card(c, t)
        return t


R = restaurant_item
CASES = [
    # (name, method, path, json | raw bytes | None, query, expected status, expected field)
    ("not json", "POST", "/v1/users", b'{"name": "Ana",', None, 400, "body"),
    ("a list, not an object", "POST", "/v1/users", [1, 2], None, 422, "body"),
    ("missing email", "POST", "/v1/users", {"name": "Ana"}, None, 422, "email"),
    (
        "bad email",
        "POST",
        "/v1/users",
        {"name": "Ana", "email": "ana-at-example"},
        None,
        422,
        "email",
    ),
    (
        "blank name",
        "POST",
        "/v1/users",
        {"name": "   ", "email": "a@example.com"},
        None,
        422,
        "name",
    ),
    (
        "unknown field",
        "POST",
        "/v1/users",
        {"name": "A", "email": "a@example.com", "admin": True},
        None,
        422,
        "admin",
    ),
    (
        "bad phone",
        "POST",
        "/v1/users",
        {"name": "A", "email": "a@example.com", "phone": "call me"},
        None,
        422,
        "phone",
    ),
    (
        "float money",
        "POST",
        "/v1/users",
        {"name": "A", "email": "a@example.com", "preferences": {"max_auto_spend": 99.5}},
        None,
        422,
        "preferences.max_auto_spend",
    ),
    (
        "float minor units",
        "POST",
        "/v1/users",
        {
            "name": "A",
            "email": "a@example.com",
            "preferences": {"max_auto_spend": {"amount_minor": 1.5, "currency": "EUR"}},
        },
        None,
        422,
        "preferences.max_auto_spend.amount_minor",
    ),
    (
        "unknown booking type",
        "POST",
        "/v1/users",
        {"name": "A", "email": "a@example.com", "preferences": {"allowed_booking_types": ["spa"]}},
        None,
        422,
        "preferences.allowed_booking_types[0]",
    ),
    ("null name", "PATCH", "/v1/me", {"name": None}, None, 422, "name"),
    (
        "null auto_book_enabled",
        "PATCH",
        "/v1/me",
        {"preferences": {"auto_book_enabled": None}},
        None,
        422,
        "preferences.auto_book_enabled",
    ),
    (
        "not a bool",
        "PATCH",
        "/v1/me",
        {"preferences": {"auto_book_enabled": "maybe"}},
        None,
        422,
        "preferences.auto_book_enabled",
    ),
    (
        "bad currency",
        "PATCH",
        "/v1/me",
        {"preferences": {"require_confirmation_above": "12 E1"}},
        None,
        422,
        "preferences.require_confirmation_above",
    ),
    (
        "not a pm id",
        "POST",
        "/v1/payment-methods",
        {"payment_method_id": "card_123"},
        None,
        422,
        "payment_method_id",
    ),
    ("no pm id", "POST", "/v1/payment-methods", {}, None, 422, "payment_method_id"),
    ("bad pm in path", "DELETE", "/v1/payment-methods/visa", None, None, 422, "payment_method_id"),
    ("no date", "GET", "/v1/search", None, {}, 422, "date"),
    ("bad date", "GET", "/v1/search", None, {"date": "2026-13-45"}, 422, "date"),
    (
        "party of 0",
        "GET",
        "/v1/search",
        None,
        {"date": "2026-12-05", "party_size": 0},
        422,
        "party_size",
    ),
    (
        "party of abc",
        "GET",
        "/v1/search",
        None,
        {"date": "2026-12-05", "party_size": "abc"},
        422,
        "party_size",
    ),
    (
        "unknown type",
        "GET",
        "/v1/search",
        None,
        {"date": "2026-12-05", "types": "spa"},
        422,
        "types",
    ),
    ("bad time", "GET", "/v1/search", None, {"date": "2026-12-05", "time": "25:00"}, 422, "time"),
    ("no items", "POST", "/v1/quotes", {"items": []}, None, 422, "items"),
    ("items missing", "POST", "/v1/quotes", {}, None, 422, "items"),
    (
        "unreadable cost",
        "POST",
        "/v1/quotes",
        {"items": [R(cost="lots")]},
        None,
        422,
        "items[0].cost",
    ),
    (
        "float cost minor",
        "POST",
        "/v1/quotes",
        {"items": [R(cost={"amount_minor": 4.5, "currency": "EUR"})]},
        None,
        422,
        "items[0].cost.amount_minor",
    ),
    (
        "venue and event",
        "POST",
        "/v1/quotes",
        {"items": [R(event_id="evt_1", ticket_class_id="tc")]},
        None,
        422,
        "items[0]",
    ),
    (
        "no offset",
        "POST",
        "/v1/quotes",
        {"items": [R(start_time="2026-12-05T20:00:00")]},
        None,
        422,
        "items[0].start_time",
    ),
    (
        "party of 99",
        "POST",
        "/v1/quotes",
        {"items": [R(party_size=99)]},
        None,
        422,
        "items[0].party_size",
    ),
    (
        "event without ticket class",
        "POST",
        "/v1/quotes",
        {"items": [event_item(ticket_class_id=None)]},
        None,
        422,
        "items[0]",
    ),
    (
        "two currencies",
        "POST",
        "/v1/quotes",
        {"items": [R(), event_item(cost="$30.00")]},
        None,
        422,
        "items[1].cost",
    ),
    ("duplicate ids", "POST", "/v1/quotes", {"items": [R("a"), R("a")]}, None, 422, "items[1].id"),
    (
        "21 items",
        "POST",
        "/v1/quotes",
        {"items": [R(f"i{i}") for i in range(21)]},
        None,
        422,
        "items",
    ),
    ("no quote id", "POST", "/v1/bookings", {"confirm": True}, None, 422, "quote_id"),
    (
        "bad mode",
        "POST",
        "/v1/bookings",
        {"quote_id": "qt_x", "mode": "sometimes"},
        None,
        422,
        "mode",
    ),
    (
        "confirm not bool",
        "POST",
        "/v1/bookings",
        {"quote_id": "qt_x", "confirm": "yes please"},
        None,
        422,
        "confirm",
    ),
    (
        "pm not a token",
        "POST",
        "/v1/bookings",
        {"quote_id": "qt_x", "payment_method_id": "visa"},
        None,
        422,
        "payment_method_id",
    ),
    (
        "guest bad email",
        "POST",
        "/v1/bookings",
        {"quote_id": "qt_x", "guest": {"first_name": "R", "email": "nope"}},
        None,
        422,
        "guest.email",
    ),
    (
        "unknown quote",
        "POST",
        "/v1/bookings",
        {"quote_id": "qt_doesnotexist", "confirm": True},
        None,
        404,
        "quote_id",
    ),
    ("limit 0", "GET", "/v1/bookings", None, {"limit": 0}, 422, "limit"),
    ("bad cursor", "GET", "/v1/bookings", None, {"cursor": "%%%"}, 422, "cursor"),
    ("bad booking id", "GET", "/v1/bookings/bk x", None, None, 422, "booking_id"),
    ("unknown booking", "GET", "/v1/bookings/bk_nosuchbooking", None, None, 404, "booking_id"),
    (
        "reason not text",
        "POST",
        "/v1/bookings/bk_nosuch/cancel",
        {"reason": 5},
        None,
        422,
        "reason",
    ),
    (
        "reason too long",
        "POST",
        "/v1/bookings/bk_nosuch/cancel",
        {"reason": "x" * 501},
        None,
        422,
        "reason",
    ),
    (
        "not json content type",
        "POST",
        "/v1/users",
        b'{"name": "A", "email": "a@example.com"}',
        None,
        415,
        "Content-Type",
    ),
    ("body too large", "POST", "/v1/quotes", {"items": [R(title="x" * 70000)]}, None, 413, "body"),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "query", "status", "field"), CASES, ids=[c[0] for c in CASES]
)
async def test_malformed_input_is_a_4xx_naming_the_field_and_changes_nothing(
    gateway, client, token, name, method, path, body, query, status, field
):
    before = await gateway.counts()
    headers = {**bearer(token), "Idempotency-Key": f"malformed-{name.replace(' ', '-')}"}
    if isinstance(body, bytes):
        media = "text/plain" if status == 415 else "application/json"
        kwargs = {"content": body, "headers": {**headers, "content-type": media}}
    else:
        kwargs = {"json": body, "headers": headers}
    r = await client.request(method, path, params=query, **kwargs)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    assert field in [e["field"] for e in problem["errors"]], problem
    assert await gateway.counts() == before


async def test_an_unknown_route_and_a_wrong_method_are_problems_too(client):
    r = await client.get("/v1/nowhere")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = await client.put("/v1/me")
    assert r.status_code == 405 and r.headers["content-type"].startswith("application/problem+json")
