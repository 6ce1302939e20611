"""What the web pages need beyond the JSON API: single-use tickets for the event stream, and the
ops dashboard's counts and dead-letter view."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from typing import Any

from gateway.adapters import dead_letters
from gateway.adapters import postgres as db
from gateway.adapters import stream_tickets as tickets
from gateway.adapters.postgres import User
from gateway.domain.errors import NotFound, Unauthorized, UpstreamUnavailable
from gateway.handlers.deps import Deps
from gateway.handlers.users import Principal, hash_token

# Every state a saga can be in (the orchestrator's SagaState), in the order of its diagram.
SAGA_STATES = (
    "REQUESTED",
    "HOLDING",
    "AUTHORIZING",
    "ACTION_REQUIRED",
    "CONFIRMING",
    "CAPTURING",
    "CONFIRMED",
    "COMPENSATING",
    "FAILED",
    "COMPENSATION_FAILED",
    "CANCELLING",
    "CANCELLED",
    "PARTIALLY_CANCELLED",
)
TICKET_PREFIX = "st_"


async def issue_stream_ticket(deps: Deps, user: User, booking_id: str) -> dict[str, Any]:
    """A ticket for one stream of one of the user's bookings: shown once, kept hashed, single-use."""
    if await db.get_booking(deps.db(), booking_id, user.id) is None:
        raise NotFound("booking", "booking_id")
    ticket = TICKET_PREFIX + secrets.token_urlsafe(32)
    ttl = timedelta(seconds=deps.settings.stream_ticket_ttl_s)
    async with deps.db().acquire() as conn:
        await tickets.insert_ticket(conn, hash_token(ticket), user.id, booking_id, ttl)
    return {"ticket": ticket, "expires_in_s": deps.settings.stream_ticket_ttl_s}


async def redeem_stream_ticket(deps: Deps, ticket: str, booking_id: str) -> User:
    """The user the ticket was issued to; a used, expired, unknown or other booking's ticket is 401."""
    user_id = None
    if ticket.startswith(TICKET_PREFIX) and len(ticket) < 100:
        user_id = await tickets.redeem_ticket(deps.db(), hash_token(ticket), booking_id)
    user = await db.get_user(deps.db(), user_id) if user_id else None
    if user is None:
        raise Unauthorized("the stream ticket is invalid, expired or already used")
    return user


async def saga_counts(deps: Deps, principal: Principal) -> dict[str, Any]:
    """How many sagas are in each state (one count per state from the orchestrator)."""
    principal.require_ops()

    async def one(state: str) -> int:
        page = await deps.orchestrator.list_sagas({"state": state, "limit": 1, "offset": 0})
        return page.total

    totals = await asyncio.gather(*(one(s) for s in SAGA_STATES))
    return {"counts": dict(zip(SAGA_STATES, totals, strict=True)), "total": sum(totals)}


async def read_dead_letters(deps: Deps, principal: Principal, per_topic: int) -> dict[str, Any]:
    principal.require_ops()
    try:
        return await dead_letters.read_dead_letters(
            deps.settings.kafka_bootstrap_servers, per_topic=per_topic
        )
    except Exception as exc:  # noqa: BLE001 -- the broker is away: say so, in words
        raise UpstreamUnavailable("broker", f"the broker could not be read: {exc}") from None
