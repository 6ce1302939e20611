"""CONTRACT TESTS (other services stubbed, stubs.py): a booking takes its card from the gateway's
own copy of the user's cards, so it is accepted while the payment service is down; the copy
follows every change the gateway hears."""

from __future__ import annotations

import uuid

from .conftest import add_card, bearer, book, quote, sign_up


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
    # Never heard and the payment service down: the one case that still needs it.
    await gateway.pool.execute("DELETE FROM card_copies WHERE user_id = $1", user["id"])
    q = await quote(client, token)
    gateway.upstreams.down.add("payment")
    try:
        r = await book(client, token, q["id"], key=str(uuid.uuid4()), confirm=True)
    finally:
        gateway.upstreams.down.discard("payment")
    assert r.status_code == 503 and r.json()["service"] == "payment"


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
