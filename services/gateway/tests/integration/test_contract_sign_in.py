"""CONTRACT TESTS: sign-in with email and password. A password is optional at sign-up and kept
only as an Argon2id hash; signing in returns a short-lived session token (kept hashed, with an
expiry) that works wherever the API key does; a wrong email and a wrong password get one and
the same answer; failed sign-ins are bounded per email and per client. API keys keep working."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from gateway.adapters.passwords import Passwords
from gateway.domain.errors import RateLimited, Unauthorized
from gateway.handlers import sessions
from gateway.handlers.deps import ClientInfo, Deps
from gateway.handlers.users import hash_token

from .conftest import bearer

PASSWORD = "correct horse battery staple"


async def _sign_up(client: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    tag = secrets.token_hex(4)
    body = {"name": f"Paula Pass {tag}", "email": f"Paula.{tag}@Example.com", **extra}
    r = await client.post("/v1/users", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def _sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/v1/sessions", json={"email": email, "password": password})


async def test_a_password_set_at_sign_up_signs_in_to_a_session_that_works_like_the_key(
    gateway, client
):
    signed_up = await _sign_up(client, password=PASSWORD)
    email = signed_up["user"]["email"]
    r = await _sign_in(client, email.lower(), PASSWORD)  # the email in any case
    assert r.status_code == 201, r.text
    session = r.json()
    assert session["token"].startswith("gs_") and session["token_type"] == "Bearer"
    assert session["user"]["id"] == signed_up["user"]["id"]
    me = await client.get("/v1/me", headers=bearer(session["token"]))
    assert me.status_code == 200 and me.json()["id"] == signed_up["user"]["id"]
    bookings = await client.get("/v1/bookings", headers=bearer(session["token"]))
    assert bookings.status_code == 200, bookings.text
    # The API key from sign-up keeps working beside the session.
    assert (await client.get("/v1/me", headers=bearer(signed_up["token"]))).status_code == 200

    row = await gateway.pool.fetchrow(
        "SELECT kind, expires_at - created_at AS ttl FROM api_tokens WHERE token_hash = $1",
        hash_token(session["token"]),
    )
    assert row["kind"] == "session"
    assert row["ttl"].total_seconds() == pytest.approx(gateway.settings.session_ttl_s, abs=5)
    assert not await gateway.pool.fetchval(
        "SELECT count(*) FROM api_tokens WHERE token_hash = $1", session["token"]
    )
    stored = await gateway.pool.fetchval(
        "SELECT password_hash FROM users WHERE id = $1", signed_up["user"]["id"]
    )
    assert stored.startswith("$argon2id$") and PASSWORD not in stored

    # Signing out revokes the session; the key still works.
    out = await client.post("/v1/tokens/revoke", headers=bearer(session["token"]))
    assert out.status_code == 204
    assert (await client.get("/v1/me", headers=bearer(session["token"]))).status_code == 401
    assert (await client.get("/v1/me", headers=bearer(signed_up["token"]))).status_code == 200


async def test_an_expired_session_is_refused(gateway, client):
    signed_up = await _sign_up(client, password=PASSWORD)
    token = (await _sign_in(client, signed_up["user"]["email"], PASSWORD)).json()["token"]
    await gateway.pool.execute(
        "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
        hash_token(token),
    )
    r = await client.get("/v1/me", headers=bearer(token))
    assert r.status_code == 401


async def test_a_wrong_password_an_unknown_email_and_no_password_get_the_same_answer(client):
    with_password = await _sign_up(client, password=PASSWORD)
    without = await _sign_up(client)  # an API-key account
    answers = [
        await _sign_in(client, with_password["user"]["email"], PASSWORD + "!"),
        await _sign_in(client, f"nobody.{secrets.token_hex(4)}@example.com", PASSWORD),
        await _sign_in(client, without["user"]["email"], PASSWORD),
    ]
    assert {a.status_code for a in answers} == {401}
    bodies = [{k: v for k, v in a.json().items() if k != "instance"} for a in answers]
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0]["detail"] == "the email or the password is wrong"
    assert "token" not in answers[0].text


async def test_a_bad_sign_in_or_password_names_the_field(client):
    r = await client.post("/v1/sessions", json={"email": "not-an-email", "password": "x"})
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"email"}
    r = await client.post("/v1/sessions", json={"email": "a@example.com"})
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"password"}
    tag = secrets.token_hex(4)
    r = await client.post(
        "/v1/users", json={"name": "Short", "email": f"s.{tag}@example.com", "password": "short"}
    )
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"password"}
    assert "short" not in r.text  # the password is never echoed


async def test_failed_sign_ins_are_bounded_per_email(gateway, client):
    signed_up = await _sign_up(client, password=PASSWORD)
    email = signed_up["user"]["email"]
    allowed = gateway.settings.sign_in_failures_per_email
    for _ in range(allowed):
        assert (await _sign_in(client, email, "wrong password")).status_code == 401
    refused = await _sign_in(client, email, "wrong password")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    # Even the right password waits: guessing cannot go on by luck.
    assert (await _sign_in(client, email, PASSWORD)).status_code == 429
    # The person's API key is not affected.
    assert (await client.get("/v1/me", headers=bearer(signed_up["token"]))).status_code == 200


async def test_failed_sign_ins_are_bounded_per_client_and_a_success_does_not_count(gateway):
    deps = Deps(
        settings=gateway.settings.model_copy(update={"sign_in_failures_per_client": 4}),
        pool=gateway.pool,
        payment=None,  # type: ignore[arg-type]
        providers={},
        orchestrator=None,  # type: ignore[arg-type]
        passwords=Passwords(time_cost=1, memory_kib=8192, parallelism=1),
    )
    client = ClientInfo(user_agent="test", ip=f"198.51.100.{secrets.randbelow(250)}")
    client = ClientInfo(user_agent="test", ip=f"{client.ip}-{secrets.token_hex(3)}")
    async with httpx.AsyncClient(base_url=gateway.url, timeout=15) as http:
        owner = await _sign_up(http, password=PASSWORD)
    email = owner["user"]["email"]
    # Successes give their token back: many in a row never reach the limit.
    for _ in range(gateway.settings.sign_in_failures_per_email + 2):
        user, session = await sessions.sign_in(deps, email, PASSWORD, client)
        assert user.id == owner["user"]["id"] and session.token.startswith("gs_")
    # Failures on many emails from one client: bounded by the client's bucket.
    for n in range(deps.settings.sign_in_failures_per_client):
        with pytest.raises(Unauthorized):
            await sessions.sign_in(
                deps, f"guess{n}.{secrets.token_hex(3)}@example.com", "x", client
            )
    with pytest.raises(RateLimited):
        await sessions.sign_in(deps, email, PASSWORD, client)
    other = ClientInfo(user_agent="test", ip=f"{client.ip}-other")
    user, _ = await sessions.sign_in(deps, email, PASSWORD, other)
    assert user.id == owner["user"]["id"]
