"""CONTRACT TESTS (other services stubbed, stubs.py): bearer tokens expire and can be revoked;
the ops role is granted to an account named by id (its earlier tokens revoked) or to a new
account, never to whoever registered an operator's email first."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain.errors import Conflict, NotFound
from gateway.entrypoints.cli import _create_ops_user
from gateway.handlers.users import hash_token

from .conftest import bearer, sign_up

pytestmark = pytest.mark.integration


def printed_token(printed: str) -> str:
    return printed.split("token (shown once): ")[1].strip()


async def test_a_new_token_expires_after_the_configured_lifetime_and_is_refused_after(
    gateway, client
):
    token, _ = await sign_up(client)
    r = await client.post(
        "/v1/users", json={"name": "Ōtsuka", "email": f"o.{secrets.token_hex(4)}@example.jp"}
    )
    expires_at = datetime.fromisoformat(r.json()["expires_at"])
    expected = datetime.now(UTC) + timedelta(days=gateway.settings.token_ttl_days)
    assert abs(expires_at - expected) < timedelta(minutes=1)

    assert (await client.get("/v1/me", headers=bearer(token))).status_code == 200
    await gateway.pool.execute(
        "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
        hash_token(token),
    )
    r = await client.get("/v1/me", headers=bearer(token))
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert "expired" in r.json()["detail"]


async def test_revoke_signs_out_only_the_token_used_and_revoke_all_signs_out_every_one(client):
    first, _ = await sign_up(client)
    r = await client.post("/v1/tokens", headers=bearer(first))
    assert r.status_code == 201 and r.json()["token"].startswith("gw_")
    second = r.json()["token"]

    r = await client.post("/v1/tokens/revoke", headers=bearer(first))
    assert r.status_code == 204
    assert (await client.get("/v1/me", headers=bearer(first))).status_code == 401
    assert (await client.get("/v1/me", headers=bearer(second))).status_code == 200
    # a revoked token cannot revoke anything, nor mint a new one
    assert (await client.post("/v1/tokens", headers=bearer(first))).status_code == 401

    third = (await client.post("/v1/tokens", headers=bearer(second))).json()["token"]
    assert (await client.post("/v1/tokens/revoke-all", headers=bearer(third))).status_code == 204
    for t in (second, third):
        assert (await client.get("/v1/me", headers=bearer(t))).status_code == 401


async def test_an_email_someone_registered_first_never_becomes_an_operator(gateway, client):
    email = f"olga.{secrets.token_hex(4)}@example.com"
    squatter, _ = await sign_up_as(client, "Olga", email)
    with pytest.raises(Conflict) as refused:
        await _create_ops_user(gateway.settings, name="Olga", email=email.upper())
    assert refused.value.errors[0].field == "email"
    assert (await client.get("/v1/ops/sagas", headers=bearer(squatter))).status_code == 403
    me = (await client.get("/v1/me", headers=bearer(squatter))).json()
    assert me["role"] == "user"


async def test_the_ops_role_is_granted_by_user_id_and_revokes_the_accounts_earlier_tokens(
    gateway, client
):
    old, user = await sign_up_as(client, "Zé", f"ze.{secrets.token_hex(4)}@example.pt")
    other = (await client.post("/v1/tokens", headers=bearer(old))).json()["token"]

    printed = await _create_ops_user(gateway.settings, user_id=user["id"])
    assert user["id"] in printed and "token expires" in printed
    new = printed_token(printed)

    for t in (old, other):
        assert (await client.get("/v1/me", headers=bearer(t))).status_code == 401
    me = await client.get("/v1/me", headers=bearer(new))
    assert me.status_code == 200 and me.json()["role"] == "ops" and me.json()["id"] == user["id"]
    assert (await client.get("/v1/ops/sagas", headers=bearer(new))).status_code == 200

    with pytest.raises(NotFound):
        await _create_ops_user(gateway.settings, user_id="usr_nosuchuser")


async def sign_up_as(client, name: str, email: str) -> tuple[str, dict]:
    r = await client.post("/v1/users", json={"name": name, "email": email})
    assert r.status_code == 201, r.text
    return r.json()["token"], r.json()["user"]
