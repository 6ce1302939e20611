"""Quotes: price schedule items at their providers, total them in one currency, and say whether
the user's preferences allow booking them without an explicit confirmation."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import timedelta
from typing import Any

from booking_shared.contracts.items import BookingItem
from booking_shared.money import Money
from gateway.adapters import postgres as db
from gateway.adapters.postgres import User
from gateway.domain import consent, guest
from gateway.domain.errors import (
    FieldError,
    InvalidInput,
    NotFound,
    UpstreamRejected,
    UpstreamUnavailable,
    upstream_field_errors,
)
from gateway.domain.ids import new_id
from gateway.domain.models import ALL_BOOKING_TYPES, QuoteLine, Reason
from gateway.domain.quotes import check_items, price_lines, quote_total
from gateway.handlers import limits, routing
from gateway.handlers.deps import Deps


async def create_quote(deps: Deps, user: User, items: list[BookingItem]) -> dict[str, Any]:
    known = await routing.routes(deps)
    routes = known.by_type
    if known.unheard and any(i.booking_type not in routes for i in items):
        # A provider that may book these items has not been heard since start: it is down.
        raise UpstreamUnavailable(f"provider-{known.unheard[0]}", "what it books is not known yet")
    check_items(items, routes)
    async with deps.db().acquire() as conn, conn.transaction():
        await limits.take_or_refuse(deps, conn, user.id, limits.QUOTES)

    by_provider: dict[str, list[BookingItem]] = defaultdict(list)
    for item in items:
        by_provider[routes[item.booking_type]].append(item)
    names = list(by_provider)
    replies = await asyncio.gather(
        *(deps.providers[n].quote(by_provider[n]) for n in names), return_exceptions=True
    )
    # What each provider needs of the guest, from the capabilities it declares (cached).
    declared = await asyncio.gather(*(deps.providers[n].capabilities() for n in names))
    requirements = {n: caps.guest_requirements for n, caps in zip(names, declared, strict=True)}
    answers: dict[str, dict[str, Any]] = {}
    for name, reply in zip(names, replies, strict=True):
        if isinstance(reply, UpstreamRejected):
            raise InvalidInput(
                f"{name} cannot quote these items",
                _item_errors(reply.body, items, by_provider[name]),
            )
        if isinstance(reply, BaseException):
            raise reply
        for ans in reply:
            answers[ans.item_id] = ans.model_dump(mode="json")

    lines = [
        ln.model_copy(update={"guest_requirements": requirements[ln.provider]})
        for ln in price_lines(items, routes, answers)
    ]
    currency = items[0].cost.currency
    total = quote_total(lines, currency)
    now = deps.clock()
    decision = _decision(user, lines, total)
    quote_id = new_id("qt")
    row = await db.insert_quote(
        deps.db(),
        quote_id,
        user.id,
        [ln.model_dump(mode="json") for ln in lines],
        total.amount_minor,
        currency,
        decision.model_dump(mode="json"),
        now + timedelta(seconds=deps.settings.quote_ttl_s),
    )
    return quote_view(row, decision, user)


def _decision(user: User, lines: list[QuoteLine], total: Money) -> consent.ConsentDecision:
    available = [ln for ln in lines if ln.available]
    types = {ln.booking_type for ln in available} or set(ALL_BOOKING_TYPES)
    decision = consent.evaluate(user.preferences, total, types)
    if not available:
        decision = decision.model_copy(
            update={
                "auto_book_allowed": False,
                "confirmation_required": True,
                "blocked": True,
                "reasons": [
                    Reason(code="nothing_available", message="No item of this quote can be booked.")
                ]
                + decision.reasons,
            }
        )
    return decision


def _item_errors(
    body: dict[str, Any], items: list[BookingItem], sent: list[BookingItem]
) -> list[FieldError]:
    """Map a provider's field names (items[i] of what it was sent) back to the caller's items[j]."""
    index = {it.id: i for i, it in enumerate(items)}
    out = []
    for e in upstream_field_errors(body, "items"):
        name = e.field
        if name.startswith("items[") and "]" in name:
            try:
                k = int(name[6 : name.index("]")])
                name = f"items[{index[sent[k].id]}]{name[name.index(']') + 1 :]}"
            except (ValueError, IndexError, KeyError):
                pass
        out.append(FieldError(name, e.message))
    return out


async def get_quote(deps: Deps, user: User, quote_id: str) -> dict[str, Any]:
    row = await db.get_quote(deps.db(), quote_id, user.id)
    if row is None:
        raise NotFound("quote", "quote_id")
    decision = consent.ConsentDecision.model_validate(db.loads(row["consent"]))
    return quote_view(row, decision, user)


def lines_of(row: Any) -> list[QuoteLine]:
    return [QuoteLine.model_validate(x) for x in db.loads(row["lines"])]


def provider_needs(lines: list[QuoteLine]) -> list[guest.ProviderNeeds]:
    """Per provider of these lines: its declared guest requirements and its items."""
    needs: dict[str, guest.ProviderNeeds] = {}
    for ln in lines:
        need = needs.setdefault(
            ln.provider, guest.ProviderNeeds(ln.provider, ln.guest_requirements, [])
        )
        need.items.append(ln.item_id)
    return list(needs.values())


def profile_guest(user: User) -> guest.GuestDetails:
    return guest.from_profile(user.name, user.email, user.phone, user.first_name, user.last_name)


def quote_view(row: Any, decision: consent.ConsentDecision, user: User) -> dict[str, Any]:
    lines = lines_of(row)
    # Checked against the profile as it is now: a PATCH /v1/me after the quote counts.
    issues = guest.guest_issues(
        profile_guest(user), provider_needs([ln for ln in lines if ln.available])
    )
    reasons = [r.model_dump() for r in decision.reasons]
    if issues:
        fields = ", ".join(dict.fromkeys(i.field for i in issues))
        reasons.insert(
            0,
            {
                "code": "guest_details_missing",
                "message": f"The partners need guest details your profile lacks ({fields}): "
                "send them as `guest` in POST /v1/bookings, or set them with PATCH /v1/me "
                "(first_name, last_name, phone).",
            },
        )
    return {
        "id": row["id"],
        "items": [ln.model_dump(mode="json") for ln in lines],
        "currency": row["currency"],
        "total": {"amount_minor": row["total_minor"], "currency": row["currency"]},
        "bookable": any(ln.available for ln in lines) and not decision.blocked and not issues,
        "all_available": all(ln.available for ln in lines),
        "auto_book_allowed": decision.auto_book_allowed and not issues,
        "confirmation_required": decision.confirmation_required,
        "reasons": reasons,
        "guest": {
            "source": "profile",
            "complete": not issues,
            "issues": [i.view() for i in issues],
        },
        "created_at": row["created_at"],
        "expires_at": row["expires_at"],
        "links": {"self": f"/v1/quotes/{row['id']}", "book": "/v1/bookings"},
    }
