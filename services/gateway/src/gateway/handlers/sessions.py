"""Sign-in with email and password: a short-lived session token (a bearer token like an API key,
stored hashed, with an expiry), one answer for a wrong email or a wrong password, and a bounded
rate of failed attempts per email and per client."""

from __future__ import annotations

import hashlib

from gateway.adapters import postgres as db
from gateway.adapters.postgres import User
from gateway.adapters.retention import SIGN_IN_BUCKET
from gateway.domain.errors import RateLimited, Unauthorized
from gateway.domain.ratelimit import BucketRule
from gateway.handlers.deps import ClientInfo, Deps
from gateway.handlers.users import SESSION_PREFIX, IssuedToken, issue
from gateway.metrics import RATE_LIMITED, SIGN_INS

BUCKET = SIGN_IN_BUCKET
WRONG = "the email or the password is wrong"


def _keys(deps: Deps, email: str, client: ClientInfo) -> list[tuple[str, BucketRule]]:
    """The failure buckets an attempt pays into: its email's (hashed: no address kept in the
    buckets) and its client's."""
    s = deps.settings
    email_key = "sign-in:email:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return [
        (
            email_key,
            BucketRule(s.sign_in_failures_per_email, s.sign_in_failures_per_email_per_hour / 60),
        ),
        (
            f"sign-in:client:{client.ip or 'unknown'}",
            BucketRule(s.sign_in_failures_per_client, s.sign_in_failures_per_client_per_hour / 60),
        ),
    ]


async def sign_in(
    deps: Deps, email: str, password: str, client: ClientInfo
) -> tuple[User, IssuedToken]:
    """A session for the account with this email and password. Every attempt takes a token from
    both buckets before the password is checked (so that parallel guesses cannot outrun them);
    a successful one gives them back, so only failures count."""
    keys = _keys(deps, email, client)
    async with deps.db().acquire() as conn:
        async with conn.transaction():
            taken = [await db.take_token(conn, key, BUCKET, rule) for key, rule in keys]
            refused = [t for t in taken if not t.allowed]
            if refused:  # leaving the transaction by raising rolls the takes back
                RATE_LIMITED.labels(BUCKET).inc()
                SIGN_INS.labels("rate_limited").inc()
                wait = max(t.retry_after_s for t in refused)
                raise RateLimited(f"too many failed sign-ins; try again in {wait} s", wait)
        found = await db.user_for_sign_in(conn, email.strip())
    user, stored = found if found is not None else (None, None)
    ok, rehash = await deps.passwords.verify(stored, password)
    if not ok or user is None:
        SIGN_INS.labels("refused").inc()
        raise Unauthorized(WRONG)
    new_hash = await deps.passwords.hash(password) if rehash else None
    async with deps.db().acquire() as conn, conn.transaction():
        for key, rule in keys:
            await db.give_back_token(conn, key, BUCKET, rule)
        if new_hash is not None:
            await db.set_password_hash(conn, user.id, new_hash)
        session = await issue(conn, user.id, deps.settings.session_ttl, kind="session")
    SIGN_INS.labels("ok").inc()
    assert session.token.startswith(SESSION_PREFIX)
    return user, session
