"""CONTRACT TESTS (other services stubbed, stubs.py): consent rules, each refusing a booking with
a 403 naming the field, recording nothing; and the evidence kept when a booking is allowed."""

from __future__ import annotations

from .conftest import add_card, bearer, book, event_item, quote, restaurant_item, sign_up

EUR = lambda minor: {"amount_minor": minor, "currency": "EUR"}  # noqa: E731


async def _refused(gateway, client, token, quote_id, **body):
    before = await gateway.counts()
    r = await book(client, token, quote_id, **body)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    after = await gateway.counts()
    assert after == before
    return r.json()


async def test_without_auto_booking_a_booking_needs_confirm_true(gateway, client):
    token, _ = await sign_up(client)
    await add_card(client, token)
    q = await quote(client, token)
    assert q["auto_book_allowed"] is False
    problem = await _refused(gateway, client, token, q["id"], confirm=False)
    assert problem["errors"][0]["field"] == "confirm"
    assert [r["code"] for r in problem["reasons"]] == ["auto_book_disabled"]
    assert (await book(client, token, q["id"], confirm=True)).status_code == 202


async def test_auto_booking_within_max_auto_spend_needs_no_confirmation_and_the_basis_is_recorded(
    gateway, client
):
    token, _ = await sign_up(client, auto_book_enabled=True, max_auto_spend=EUR(20000))
    await add_card(client, token)
    q = await quote(client, token)
    assert (
        q["auto_book_allowed"] is True
        and q["confirmation_required"] is False
        and q["reasons"] == []
    )
    r = await book(client, token, q["id"], confirm=False)
    assert r.status_code == 202, r.text
    row = await gateway.pool.fetchrow(
        "SELECT * FROM consents WHERE booking_id = $1", r.json()["booking_id"]
    )
    assert row["basis"] == "auto_book_within_preferences" and row["confirmed_explicitly"] is False


async def test_a_total_above_max_auto_spend_needs_confirmation(gateway, client):
    token, _ = await sign_up(client, auto_book_enabled=True, max_auto_spend=EUR(5000))
    await add_card(client, token)
    q = await quote(client, token)  # 110.00 EUR
    assert [r["code"] for r in q["reasons"]] == ["above_max_auto_spend"]
    problem = await _refused(gateway, client, token, q["id"])
    assert "max_auto_spend" in problem["errors"][0]["message"]
    assert (await book(client, token, q["id"], confirm=True)).status_code == 202


async def test_a_total_above_require_confirmation_above_needs_confirmation(gateway, client):
    token, _ = await sign_up(
        client,
        auto_book_enabled=True,
        max_auto_spend=EUR(50000),
        require_confirmation_above=EUR(10000),
    )
    await add_card(client, token)
    q = await quote(client, token)
    assert [r["code"] for r in q["reasons"]] == ["above_confirmation_threshold"]
    await _refused(gateway, client, token, q["id"], confirm=False)
    small = await quote(client, token, [restaurant_item(cost="10.00 EUR")])
    assert small["auto_book_allowed"] is True
    assert (await book(client, token, small["id"])).status_code == 202


async def test_auto_booking_without_a_spend_limit_or_in_another_currency_needs_confirmation(
    gateway, client
):
    token, _ = await sign_up(client, auto_book_enabled=True)
    await add_card(client, token)
    q = await quote(client, token)
    assert [r["code"] for r in q["reasons"]] == ["no_auto_spend_limit"]
    await _refused(gateway, client, token, q["id"])
    r = await client.patch(
        "/v1/me", json={"preferences": {"max_auto_spend": "500 USD"}}, headers=bearer(token)
    )
    assert r.status_code == 200
    q = await quote(client, token)
    assert [r["code"] for r in q["reasons"]] == ["currency_mismatch"]
    await _refused(gateway, client, token, q["id"])


async def test_a_booking_type_the_user_excluded_is_refused_even_when_confirmed(gateway, client):
    token, _ = await sign_up(client, allowed_booking_types=["restaurant"])
    await add_card(client, token)
    q = await quote(client, token, [restaurant_item(), event_item()])
    assert q["bookable"] is False and q["reasons"][0]["code"] == "booking_type_not_allowed"
    problem = await _refused(gateway, client, token, q["id"], confirm=True)
    assert (
        problem["errors"][0]["field"] == "quote_id" and "event" in problem["errors"][0]["message"]
    )
    ok = await quote(client, token, [restaurant_item()])
    assert (await book(client, token, ok["id"], confirm=True)).status_code == 202


async def test_preferences_changed_after_the_quote_are_the_ones_applied(gateway, client):
    token, _ = await sign_up(client, auto_book_enabled=True, max_auto_spend=EUR(50000))
    await add_card(client, token)
    q = await quote(client, token)
    assert q["auto_book_allowed"] is True
    r = await client.patch(
        "/v1/me", json={"preferences": {"auto_book_enabled": False}}, headers=bearer(token)
    )
    assert r.json()["preferences"]["max_auto_spend"] == EUR(50000)  # untouched by the patch
    await _refused(gateway, client, token, q["id"])


async def test_no_payment_method_on_file_is_a_clear_4xx(gateway, client):
    token, _ = await sign_up(client)
    q = await quote(client, token)
    before = await gateway.counts()
    r = await book(client, token, q["id"], confirm=True)
    assert r.status_code == 422
    assert r.json()["type"].endswith("/payment-method-required")
    assert (
        r.json()["errors"][0]["field"] == "payment_method_id"
        and "no payment method on file" in r.json()["detail"]
    )
    assert await gateway.counts() == before


async def test_an_unavailable_item_refuses_all_or_nothing_but_best_effort_books_the_rest(
    gateway, client
):
    token, _ = await sign_up(client)
    await add_card(client, token)
    gateway.upstreams.unavailable_items.add("gone-1")
    q = await quote(client, token, [restaurant_item("gone-1"), event_item("ok-2")])
    assert [i["available"] for i in q["items"]] == [False, True] and q["items"][0][
        "reason"
    ] == "slot_unavailable"
    assert q["total"] == EUR(6000)
    r = await book(client, token, q["id"], confirm=True)
    assert r.status_code == 409 and r.json()["items"] == ["gone-1"]
    r = await book(client, token, q["id"], confirm=True, mode="best_effort")
    assert r.status_code == 202 and r.json()["total"] == EUR(6000)


async def test_a_preference_sent_at_the_top_level_is_refused_with_where_it_belongs(client):
    token, _ = await sign_up(client)
    r = await client.patch(
        "/v1/me",
        json={"auto_book_enabled": True, "max_auto_spend": EUR(15000), "nickname": "x"},
        headers=bearer(token),
    )
    assert r.status_code == 422
    messages = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert messages["auto_book_enabled"].startswith("unknown field; it belongs under")
    assert '{"preferences": {"max_auto_spend": ...}}' in messages["max_auto_spend"]
    assert messages["nickname"] == "unknown field"  # not a preference: no hint
    me = await client.get("/v1/me", headers=bearer(token))
    assert me.json()["preferences"]["auto_book_enabled"] is False  # nothing changed
