"""Sign-up (with an optional password), bearer tokens (API keys and sign-in sessions, stored
hashed, with an expiry, revocable), the user's profile and booking preferences, and the operator
role (granted by user id, never by email)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from booking_shared.db import Connection
from gateway.adapters import postgres as db
from gateway.adapters.postgres import User
from gateway.domain.errors import Conflict, Forbidden, NotFound
from gateway.domain.ids import new_id
from gateway.domain.models import Preferences
from gateway.handlers.deps import Deps

OPS_BOOTSTRAP_ACTOR = "ops-bootstrap"


API_KEY_PREFIX = "gw_"
SESSION_PREFIX = "gs_"


def new_token(prefix: str = API_KEY_PREFIX) -> str:
    """32 random bytes, url-safe; shown once. gw_: an API key; gs_: a session from signing in."""
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A bearer token as issued: shown once, only its hash is stored."""

    token: str
    expires_at: datetime


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (with a role) and the hash of the token used, or the ops bootstrap
    token (no user)."""

    user: User | None
    role: str
    token_hash: str | None = None

    @property
    def actor(self) -> str:
        return self.user.id if self.user else OPS_BOOTSTRAP_ACTOR

    def require_user(self) -> User:
        if self.user is None:
            raise Forbidden("the ops bootstrap token is not a user; sign up to use this route")
        return self.user

    def require_ops(self) -> None:
        if self.role != "ops":
            raise Forbidden("this route needs the ops role")


async def issue(
    conn: Connection, user_id: str, ttl: timedelta, kind: str = "api_key"
) -> IssuedToken:
    token = new_token(SESSION_PREFIX if kind == "session" else API_KEY_PREFIX)
    expires_at = await db.insert_token(conn, hash_token(token), user_id, ttl, kind)
    return IssuedToken(token, expires_at)


async def sign_up(
    deps: Deps,
    name: str,
    email: str,
    phone: str | None,
    prefs: Preferences | None,
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    password: str | None = None,
) -> tuple[User, IssuedToken]:
    """A new user and their API key; with a password, they can also sign in with email and
    password (only its Argon2id hash is kept)."""
    password_hash = await deps.passwords.hash(password) if password else None
    try:
        async with deps.db().acquire() as conn, conn.transaction():
            user = await db.insert_user(
                conn,
                new_id("usr"),
                name,
                email,
                phone,
                prefs or Preferences(),
                first_name=first_name,
                last_name=last_name,
                password_hash=password_hash,
            )
            issued = await issue(conn, user.id, deps.settings.token_ttl)
    except asyncpg.UniqueViolationError:
        raise Conflict("email-taken", "a user with this email exists", "email") from None
    return user, issued


async def authenticate(deps: Deps, token: str | None) -> Principal | None:
    if not token:
        return None
    ops = deps.settings.ops_bootstrap_token
    if ops is not None and hmac.compare_digest(token.encode(), ops.get_secret_value().encode()):
        return Principal(None, "ops")
    digest = hash_token(token)
    user = await db.user_by_token(deps.db(), digest)
    return Principal(user, user.role, digest) if user else None


async def issue_token(deps: Deps, principal: Principal) -> IssuedToken:
    """A fresh token for the caller (to roll over before expiry); the current one stays valid
    until it is revoked or expires."""
    user = principal.require_user()
    async with deps.db().acquire() as conn:
        return await issue(conn, user.id, deps.settings.token_ttl)


async def revoke_token(deps: Deps, principal: Principal, *, everywhere: bool = False) -> int:
    """Revoke the token the caller used, or (everywhere) every token of the caller."""
    user = principal.require_user()
    async with deps.db().acquire() as conn:
        if everywhere:
            return await db.revoke_user_tokens(conn, user.id)
        assert principal.token_hash is not None  # a user principal always has one
        return int(await db.revoke_token(conn, principal.token_hash))


async def update_me(
    deps: Deps, user: User, changes: dict[str, Any], pref_changes: dict[str, Any] | None
) -> User:
    """Apply a partial update: only the fields present change; null clears a money limit."""
    fields: dict[str, Any] = dict(changes)
    if pref_changes is not None:
        merged = {**user.preferences.model_dump(), **pref_changes}
        fields["preferences"] = Preferences.model_validate(merged)
    if not fields:
        return user
    try:
        async with deps.db().acquire() as conn:
            return await db.update_user(conn, user.id, fields)
    except asyncpg.UniqueViolationError:
        raise Conflict("email-taken", "a user with this email exists", "email") from None


async def grant_ops(pool: asyncpg.Pool, user_id: str, ttl: timedelta) -> tuple[User, IssuedToken]:
    """For the CLI: give an existing account (named by id, which an operator checked out of band)
    the ops role. Every token the account had is revoked, so a token issued before the promotion
    (perhaps to someone else) never carries the role; a new token is issued."""
    async with pool.acquire() as conn, conn.transaction():
        user = await db.get_user(conn, user_id)
        if user is None:
            raise NotFound("user", "user_id")
        user = await db.update_user(conn, user.id, {"role": "ops"})
        await db.revoke_user_tokens(conn, user.id)
        issued = await issue(conn, user.id, ttl)
    return user, issued


async def create_ops_user(
    pool: asyncpg.Pool, name: str, email: str, ttl: timedelta, *, password_hash: str | None = None
) -> tuple[User, IssuedToken]:
    """For the CLI: a new ops principal. An email that an account already uses is refused: emails
    are not verified, so whoever registered it first may not be the operator."""
    try:
        async with pool.acquire() as conn, conn.transaction():
            user = await db.insert_user(
                conn,
                new_id("usr"),
                name,
                email,
                None,
                Preferences(),
                role="ops",
                password_hash=password_hash,
            )
            issued = await issue(conn, user.id, ttl)
    except asyncpg.UniqueViolationError:
        raise Conflict(
            "email-taken",
            "an account already uses this email; check who owns it, then grant the role with"
            " --user-id, or create the operator with another email",
            "email",
        ) from None
    return user, issued
