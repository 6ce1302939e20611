"""Sign-up, bearer tokens (stored hashed), the user's profile and booking preferences."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import asyncpg

from gateway.adapters import postgres as db
from gateway.adapters.postgres import User
from gateway.domain.errors import Conflict, Forbidden
from gateway.domain.ids import new_id
from gateway.domain.models import Preferences
from gateway.handlers.deps import Deps

OPS_BOOTSTRAP_ACTOR = "ops-bootstrap"


def new_token() -> str:
    """32 random bytes, url-safe; shown once."""
    return "gw_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (with a role), or the ops bootstrap token (no user)."""

    user: User | None
    role: str

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


async def sign_up(
    deps: Deps,
    name: str,
    email: str,
    phone: str | None,
    prefs: Preferences | None,
    *,
    first_name: str | None = None,
    last_name: str | None = None,
) -> tuple[User, str]:
    token = new_token()
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
            )
            await db.insert_token(conn, hash_token(token), user.id)
    except asyncpg.UniqueViolationError:
        raise Conflict("email-taken", "a user with this email exists", "email") from None
    return user, token


async def authenticate(deps: Deps, token: str | None) -> Principal | None:
    if not token:
        return None
    ops = deps.settings.ops_bootstrap_token
    if ops is not None and hmac.compare_digest(token.encode(), ops.get_secret_value().encode()):
        return Principal(None, "ops")
    user = await db.user_by_token(deps.db(), hash_token(token))
    return Principal(user, user.role) if user else None


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


async def create_ops_user(pool: asyncpg.Pool, name: str, email: str) -> tuple[User, str]:
    """For the CLI: create an ops user (or promote the user with this email) and issue a token."""
    token = new_token()
    async with pool.acquire() as conn, conn.transaction():
        user = await db.user_by_email(conn, email)
        if user is None:
            user = await db.insert_user(
                conn, new_id("usr"), name, email, None, Preferences(), role="ops"
            )
        else:
            user = await db.update_user(conn, user.id, {"role": "ops"})
        await db.insert_token(conn, hash_token(token), user.id)
    return user, token
