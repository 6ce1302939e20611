"""The internal HTTP API of a provider service (called by the gateway); its shapes are the shared
contract booking_shared.contracts.internal.provider."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from booking_shared.contracts import BookingItem
from booking_shared.contracts.internal.provider import (
    BookedItems,
    CancelQuote,
    ProviderCapabilities,
    QuoteRequest,
    QuoteResult,
    SearchResult,
)
from booking_shared.provider_kit.handlers import Deps, item_view
from booking_shared.provider_kit.port import Offer, PartnerPort, PartnerUnavailable, SearchQuery

router = APIRouter(prefix="/internal", tags=["internal"])


def _port(request: Request) -> PartnerPort:
    deps: Deps = request.app.state.runtime.deps
    return deps.port


def _offer(o: Offer) -> dict[str, Any]:
    return {
        "item": o.item.model_dump(mode="json"),
        "price": o.price.model_dump(),
        "timezone": o.timezone,
        "cancellation_policy": o.cancellation_policy.model_dump(mode="json"),
        "available": o.available,
        "details": o.details,
    }


@router.get(
    "/capabilities",
    summary="What this provider books and can do",
    response_model=ProviderCapabilities,
)
async def capabilities(request: Request) -> dict[str, Any]:
    port = _port(request)
    return {
        "provider": port.name,
        "booking_types": port.booking_types,
        "capabilities": port.capabilities.model_dump(),
    }


@router.get(
    "/search",
    summary="Bookable items for a date, in the booking flow's item shape",
    response_model=SearchResult,
)
async def search(
    request: Request,
    on: Annotated[date | None, Query(alias="date", description="YYYY-MM-DD")] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    party_size: Annotated[int, Query(ge=1, le=20)] = 2,
    quantity: Annotated[int, Query(ge=1, le=20)] = 1,
    time: Annotated[str | None, Query(pattern=r"^\d{2}:\d{2}$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    port = _port(request)
    try:
        offers = await port.search(
            SearchQuery(
                on=on, q=q, party_size=party_size, quantity=quantity, time=time, limit=limit
            )
        )
    except PartnerUnavailable as exc:
        raise HTTPException(503, f"{port.name} is unavailable: {exc}") from exc
    return {"provider": port.name, "timezone": port.timezone, "items": [_offer(o) for o in offers]}


@router.post(
    "/quote",
    summary="Current price, availability and policy of each item",
    response_model=QuoteResult,
)
async def quote(request: Request, body: QuoteRequest) -> dict[str, Any]:
    port = _port(request)
    lines = []
    # Each item's price and availability at once: a slow partner costs its slowest answer,
    # not the sum of them.
    answers = await asyncio.gather(*(port.quote(i) for i in body.items), return_exceptions=True)
    for line in answers:
        if isinstance(line, PartnerUnavailable):
            raise HTTPException(503, f"{port.name} is unavailable: {line}") from line
        if isinstance(line, BaseException):
            raise line
        lines.append(
            {
                "item_id": line.item_id,
                "available": line.available,
                "unit_price": line.unit_price.model_dump() if line.unit_price else None,
                "price": line.price.model_dump() if line.price else None,
                "cancellation_policy": line.cancellation_policy.model_dump(mode="json")
                if line.cancellation_policy
                else None,
                "reason": line.reason,
            }
        )
    return {"provider": port.name, "items": lines}


@router.get(
    "/bookings/{booking_id}/items",
    summary="Our record of each item of a booking at this partner",
    response_model=BookedItems,
)
async def booking_items(request: Request, booking_id: str) -> dict[str, Any]:
    pool = request.app.state.runtime.pool
    rows = await pool.fetch(
        "SELECT * FROM items WHERE booking_id = $1 ORDER BY created_at", booking_id
    )
    return {"provider": _port(request).name, "items": [item_view(r) for r in rows]}


@router.get(
    "/bookings/{booking_id}/items/{item_id}/cancel-quote",
    summary="What cancelling this item would refund now",
    response_model=CancelQuote,
)
async def cancel_quote(request: Request, booking_id: str, item_id: str) -> dict[str, Any]:
    pool = request.app.state.runtime.pool
    row = await pool.fetchrow(
        "SELECT * FROM items WHERE booking_id = $1 AND item_id = $2", booking_id, item_id
    )
    if row is None:
        raise HTTPException(404, f"no item {item_id} in booking {booking_id}")
    if row["status"] != "CONFIRMED":
        raise HTTPException(409, f"the item is {row['status'].lower()}, not confirmed")
    port = _port(request)
    item = BookingItem.model_validate_json(row["item"])
    try:
        out = await port.cancel_quote(item, row["partner_reference"])
    except PartnerUnavailable as exc:
        raise HTTPException(503, f"{port.name} is unavailable: {exc}") from exc
    view = item_view(row)
    return {
        "item_id": item_id,
        "cancellable": out.cancelled,
        "refund": out.refund.model_dump(),
        "fee": out.fee.model_dump(),
        "policy": view["cancellation_policy"],
    }
