"""CONTRACT TESTS (the other services are the stubs in stubs.py): what the web pages need from
the gateway: the pages themselves with a strict policy, and single-use tickets for the event
stream (EventSource sends no Authorization header; the bearer token never goes into a URL)."""

from __future__ import annotations

import asyncio

import httpx

from .conftest import add_card, bearer, book, quote, sign_up


async def _booking(client: httpx.AsyncClient) -> tuple[str, str]:
    token, _ = await sign_up(client)
    await add_card(client, token)
    r = await book(client, token, (await quote(client, token))["id"], confirm=True)
    assert r.status_code == 202, r.text
    return token, r.json()["booking_id"]


async def _first_event(client: httpx.AsyncClient, url: str) -> tuple[int, str]:
    async def run() -> tuple[int, str]:
        async with client.stream("GET", url) as r:
            if r.status_code != 200:
                return r.status_code, (await r.aread()).decode()
            async for line in r.aiter_lines():
                if line.startswith("data:"):
                    return 200, line
        return 200, ""

    return await asyncio.wait_for(run(), 15)


async def test_a_stream_ticket_opens_its_booking_stream_once(client):
    token, booking_id = await _booking(client)
    r = await client.post(f"/v1/bookings/{booking_id}/stream-ticket", headers=bearer(token))
    assert r.status_code == 201, r.text
    ticket = r.json()["ticket"]
    assert ticket.startswith("st_") and r.json()["expires_in_s"] > 0

    url = f"/v1/bookings/{booking_id}/events?ticket={ticket}"
    status, first = await _first_event(client, url)
    assert status == 200 and booking_id in first, first
    status, body = await _first_event(client, url)  # spent
    assert status == 401 and "already used" in body, body


async def test_a_ticket_is_for_one_booking_of_its_user_only(client, gateway):
    token, booking_id = await _booking(client)
    _, other_booking = await _booking(client)
    stranger, _ = await sign_up(client)

    r = await client.post(f"/v1/bookings/{booking_id}/stream-ticket", headers=bearer(stranger))
    assert r.status_code == 404, r.text  # another user's booking is "not found"
    ticket = (
        await client.post(f"/v1/bookings/{booking_id}/stream-ticket", headers=bearer(token))
    ).json()["ticket"]
    status, _ = await _first_event(client, f"/v1/bookings/{other_booking}/events?ticket={ticket}")
    assert status == 401
    for forged in ("st_nothing", "gw_" + "x" * 43, token):  # the bearer token is no ticket
        status, _ = await _first_event(client, f"/v1/bookings/{booking_id}/events?ticket={forged}")
        assert status == 401, forged
    # Expired: the stored row is aged past its expiry.
    await gateway.pool.execute(
        "UPDATE stream_tickets SET expires_at = now() - interval '1 second' WHERE used_at IS NULL"
    )
    status, _ = await _first_event(client, f"/v1/bookings/{booking_id}/events?ticket={ticket}")
    assert status == 401
    # Only the hash is kept.
    assert (
        await gateway.pool.fetchval(
            "SELECT count(*) FROM stream_tickets WHERE ticket_hash = $1", ticket
        )
        == 0
    )
    # Without a ticket the stream still needs the bearer token.
    status, _ = await _first_event(client, f"/v1/bookings/{booking_id}/events")
    assert status == 401


async def test_the_pages_are_served_with_a_strict_policy(client):
    for path, marker in (("/", "One-click booking"), ("/ops", "Sagas by state")):
        r = await client.get(path)
        assert r.status_code == 200 and marker in r.text, path
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    r = await client.get("/static/app.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    cfg = (await client.get("/ui/config.json")).json()
    assert cfg["stripe_js_url"].endswith("/v3/") and cfg["stripe_publishable_key"].startswith("pk_")


async def test_ops_dashboard_routes_need_the_ops_role(client):
    token, _ = await sign_up(client)
    for path in ("/v1/ops/saga-counts", "/v1/ops/dead-letters"):
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, headers=bearer(token))).status_code == 403


async def test_the_dead_letter_reader_shows_the_newest_records_of_each_dlq_topic(gateway_kafka):
    import json
    import secrets

    from aiokafka import AIOKafkaProducer

    from gateway.adapters.dead_letters import read_dead_letters

    topic = f"test.web.{secrets.token_hex(4)}.v1.dlq"
    producer = AIOKafkaProducer(bootstrap_servers=gateway_kafka)
    await producer.start()
    try:
        for n in range(3):
            await producer.send_and_wait(
                topic,
                json.dumps({"type": "Broken", "n": n}).encode(),
                partition=0,
                headers=[("dlq_error", f"boom {n}".encode()), ("dlq_consumer", b"test")],
            )
    finally:
        await producer.stop()
    found = {}
    for _ in range(20):  # a new topic shows in the broker's metadata within moments
        found = {
            t["topic"]: t for t in (await read_dead_letters(gateway_kafka, per_topic=2))["topics"]
        }
        if found.get(topic, {}).get("total") == 3:
            break
        await asyncio.sleep(0.5)
    mine = found[topic]
    assert mine["total"] == 3
    assert [r["value"]["n"] for r in mine["records"]] == [2, 1]  # the newest two, newest first
    assert mine["records"][0]["headers"] == {"dlq_error": "boom 2", "dlq_consumer": "test"}
