"""CONTRACT TESTS (other services stubbed, stubs.py): authentication, BOLA (another user's things
are 404), card numbers refused everywhere and stored nowhere, the ops role."""

from __future__ import annotations

import logging

from gateway.entrypoints.cli import _create_ops_user

from .conftest import OPS_TOKEN, add_card, bearer, book, quote, sign_up


def grouped(number: str, sep: str) -> str:
    """A Stripe test card number written the way people type it, in groups of four."""
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


PAN = grouped("4242424242424242", " ")


async def test_no_token_or_a_wrong_token_is_401_with_a_bearer_challenge(client):
    r = await client.get("/v1/me")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.get("/v1/me", headers=bearer("gw_not-a-token"))
    assert r.status_code == 401


async def test_another_users_booking_quote_and_card_are_not_found(gateway, client):
    owner, _ = await sign_up(client)
    pm = await add_card(client, owner)
    q = await quote(client, owner)
    booking_id = (await book(client, owner, q["id"], confirm=True)).json()["booking_id"]

    intruder, _ = await sign_up(client)
    await add_card(client, intruder)
    before = await gateway.counts()
    for method, path in [
        ("GET", f"/v1/bookings/{booking_id}"),
        ("GET", f"/v1/bookings/{booking_id}/events"),
        ("GET", f"/v1/bookings/{booking_id}/calendar.ics"),
        ("GET", f"/v1/bookings/{booking_id}/cancel-quote"),
        ("POST", f"/v1/bookings/{booking_id}/cancel"),
        ("GET", f"/v1/quotes/{q['id']}"),
        ("POST", f"/v1/payment-methods/{pm}/default"),
        ("DELETE", f"/v1/payment-methods/{pm}"),
    ]:
        r = await client.request(method, path, headers=bearer(intruder))
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["errors"][0]["field"] in ("booking_id", "quote_id", "payment_method_id")
    r = await book(client, intruder, q["id"], confirm=True)
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "quote_id"
    own = await quote(client, intruder)
    r = await book(client, intruder, own["id"], confirm=True, payment_method_id=pm)
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "payment_method_id"
    listed = (await client.get("/v1/bookings", headers=bearer(intruder))).json()
    assert booking_id not in {b["booking_id"] for b in listed["items"]}
    after = await gateway.counts()
    assert {k: v for k, v in after.items() if k != "quotes" and k != "rate_buckets"} == {
        k: v for k, v in before.items() if k != "quotes" and k != "rate_buckets"
    }
    # the owner still has the card and the booking
    assert (
        await client.get(f"/v1/bookings/{booking_id}", headers=bearer(owner))
    ).status_code == 200
    r = await client.delete(f"/v1/payment-methods/{pm}", headers=bearer(owner))
    assert r.status_code == 204


async def test_card_numbers_are_refused_everywhere_and_stored_nowhere(gateway, client, caplog):
    caplog.set_level(logging.DEBUG)
    token, _ = await sign_up(client)
    before = await gateway.counts()
    attempts = [
        ("POST", "/v1/users", {"name": PAN, "email": "x@example.com"}, "name"),
        (
            "POST",
            "/v1/payment-methods",
            {"payment_method_id": "pm_x", "card_number": PAN},
            "card_number",
        ),
        (
            "POST",
            "/v1/payment-methods",
            {"payment_method_id": "4242424242424242"},
            "payment_method_id",
        ),
        ("PATCH", "/v1/me", {"phone": grouped("4000056655665556", "-")}, "phone"),
        ("POST", "/v1/payment-methods", b"card=4242424242424242&exp=12/30", "body"),
        (
            "POST",
            "/v1/quotes",
            {"items": [{"id": "i", "title": f"card {PAN}", "cost": 1}]},
            "items[0].title",
        ),
        (
            "POST",
            "/v1/bookings",
            {
                "quote_id": "qt_x",
                "guest": {"first_name": "A", "email": "a@b.co", "phone": "5555555555554444"},
            },
            "guest.phone",
        ),
    ]
    for method, path, body, field in attempts:
        headers = {**bearer(token), "Idempotency-Key": "k1"}
        if isinstance(body, bytes):
            r = await client.request(
                method,
                path,
                content=body,
                headers={**headers, "content-type": "application/x-www-form-urlencoded"},
            )
        else:
            r = await client.request(method, path, json=body, headers=headers)
        assert r.status_code == 422, (path, r.text)
        assert r.json()["type"].endswith("/card-number-refused")
        assert [e["field"] for e in r.json()["errors"]] == [field]
        assert "4242" not in r.text and "5556" not in r.text and "4444" not in r.text
    r = await client.get(
        "/v1/search", params={"date": "2026-12-05", "q": PAN}, headers=bearer(token)
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "q"
    assert await gateway.counts() == before
    assert PAN not in caplog.text and "4242424242424242" not in caplog.text
    dump = await gateway.pool.fetchval(
        "SELECT string_agg(t::text, ' ') FROM (SELECT row_to_json(x)::text AS t FROM (SELECT * FROM users) x"
        " UNION ALL SELECT row_to_json(y)::text FROM (SELECT * FROM outbox) y) z"
    )
    assert "4242424242424242" not in (dump or "") and PAN not in (dump or "")


async def test_a_declined_card_is_402_naming_the_field(client):
    token, _ = await sign_up(client)
    r = await client.post(
        "/v1/payment-methods", json={"payment_method_id": "pm_card_declined"}, headers=bearer(token)
    )
    assert r.status_code == 402 and r.json()["code"] == "card_declined"
    assert r.json()["errors"][0]["field"] == "payment_method_id"


async def test_the_payment_service_down_is_503_with_retry_after(gateway, client):
    token, _ = await sign_up(client)
    gateway.upstreams.down.add("payment")
    try:
        r = await client.post("/v1/payment-methods/setup-intent", headers=bearer(token))
    finally:
        gateway.upstreams.down.discard("payment")
    assert r.status_code == 503 and r.headers["retry-after"] and r.json()["service"] == "payment"


async def test_ops_routes_need_the_ops_role_and_proxy_the_orchestrator(gateway, client):
    token, user = await sign_up(client)
    assert (await client.get("/v1/ops/sagas", headers=bearer(token))).status_code == 403
    ops = bearer(OPS_TOKEN)
    assert (
        await client.get("/v1/me", headers=ops)
    ).status_code == 403  # the bootstrap token is no user

    gateway.upstreams.sagas["bk_opsstuck1"] = {
        "booking_id": "bk_opsstuck1",
        "state": "HOLDING",
        "history": [],
    }
    r = await client.get(
        "/v1/ops/sagas", params={"state": "HOLDING", "older_than_s": 60}, headers=ops
    )
    assert r.status_code == 200 and "bk_opsstuck1" in {s["booking_id"] for s in r.json()["sagas"]}
    assert (
        gateway.upstreams.list_queries[-1]["older_than_s"] == "60"
    )  # the filters reach the orchestrator
    assert (await client.get("/v1/ops/sagas/bk_opsstuck1", headers=ops)).json()[
        "state"
    ] == "HOLDING"
    assert (await client.get("/v1/ops/sagas/bk_nosuch", headers=ops)).status_code == 404

    printed = await _create_ops_user(
        gateway.settings, name="Olga Ops", email=f"olga.{user['id']}@example.com"
    )  # the CLI's work
    ops_token = printed.split("token (shown once): ")[1].strip()
    r = await client.post(
        "/v1/ops/sagas/bk_opsstuck1/retry",
        json={"reason": "partner is back"},
        headers=bearer(ops_token),
    )
    assert r.status_code == 200, r.text
    action = gateway.upstreams.actions[-1]
    assert (
        action["action"] == "retry"
        and action["reason"] == "partner is back"
        and action["actor"].startswith("usr_")
    )
    r = await client.post("/v1/ops/sagas/bk_opsstuck1/explode", json={"reason": "x"}, headers=ops)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "action"
    r = await client.post("/v1/ops/sagas/bk_opsstuck1/pause", json={}, headers=ops)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    gateway.upstreams.sagas["bk_opsstuck1"]["state"] = "CONFIRMED"
    r = await client.post(
        "/v1/ops/sagas/bk_opsstuck1/compensate", json={"reason": "x"}, headers=ops
    )
    assert r.status_code == 409


async def test_the_openapi_document_and_docs_are_served(client):
    doc = (await client.get("/openapi.json")).json()
    assert doc["info"]["version"] == "1.0.0" and "/v1/bookings" in doc["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_the_gateway_presents_each_services_own_credential(gateway, client):
    """The real services refuse a call without their INTERNAL_API_TOKEN (401) or with another
    one (403); the stand-ins check the same way, each with its own credential."""
    up = gateway.upstreams
    before = len(up.calls)
    token, _ = await sign_up(client)
    await add_card(client, token)  # payment: the Stripe customer and the card
    r = await client.get("/v1/search", params={"date": "2026-12-05"}, headers=bearer(token))
    assert r.status_code == 200, r.text
    up.sagas["bk_credentials1"] = {
        "booking_id": "bk_credentials1",
        "state": "HOLDING",
        "history": [],
    }
    assert (
        await client.get("/v1/ops/sagas/bk_credentials1", headers=bearer(OPS_TOKEN))
    ).status_code == 200
    assert {service for service, _ in up.calls[before:]} >= {
        "payment",
        "opentable",
        "eventbrite",
        "orchestrator",
    }
    assert up.refused == []
