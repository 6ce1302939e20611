"""/v1/search: every provider at once."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request

from gateway.domain.errors import FieldError, InvalidInput
from gateway.domain.models import ALL_BOOKING_TYPES
from gateway.entrypoints.api import examples as ex
from gateway.entrypoints.api.auth import CurrentUser, get_deps
from gateway.entrypoints.api.problems import GuardedRoute
from gateway.entrypoints.api.schemas import SearchView
from gateway.handlers import search as handler

router = APIRouter(prefix="/v1", tags=["search"], route_class=GuardedRoute)


# Stated in the OpenAPI document and enforced by the same patterns (a Unix time is no day).
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
TYPES_PATTERN = rf"^({'|'.join(ALL_BOOKING_TYPES)})(,({'|'.join(ALL_BOOKING_TYPES)}))*$"


@router.get(
    "/search",
    response_model=SearchView,
    summary="Search restaurants and events across providers, merged",
    description="Each provider is asked concurrently with a timeout; one that does not answer is listed in "
    "`missing_providers` and the others still answer. Each result's `item` can be posted to /v1/quotes as is.",
    responses={**ex.ok(ex.SEARCH), **ex.problems("unauthorized", "invalid", "pan")},
)
async def search(
    request: Request,
    user: CurrentUser,
    date: Annotated[
        str,
        Query(
            pattern=DATE_PATTERN,
            json_schema_extra={"format": "date"},
            description="Day, YYYY-MM-DD.",
            examples=["2026-12-05"],
        ),
    ],
    q: Annotated[
        str | None,
        Query(
            max_length=100, description="Free text (name, cuisine, artist).", examples=["seafood"]
        ),
    ] = None,
    party_size: Annotated[
        int, Query(ge=1, le=20, description="Covers (restaurants).", examples=[2])
    ] = 2,
    quantity: Annotated[
        int | None,
        Query(
            ge=1,
            le=20,
            description="Tickets (events); the party size when not given, so that a party "
            "searching together gets a ticket each.",
            examples=[2],
        ),
    ] = None,
    types: Annotated[
        str,
        Query(
            pattern=TYPES_PATTERN,
            description="Comma-separated booking types.",
            examples=["restaurant,event"],
        ),
    ] = "restaurant,event",
    time: Annotated[
        str | None,
        Query(
            pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
            description="Around this time, HH:MM.",
            examples=["20:00"],
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=50, examples=[20])] = 20,
) -> dict:
    try:
        day = dt.date.fromisoformat(date)  # the pattern let only YYYY-MM-DD through
    except ValueError:
        raise InvalidInput(
            "invalid input: date", [FieldError("date", "not a calendar day (YYYY-MM-DD)")]
        ) from None
    wanted = list(dict.fromkeys(types.split(",")))
    params = {
        "date": day.isoformat(),
        "q": q,
        "party_size": party_size,
        "quantity": party_size if quantity is None else quantity,
        "time": time,
        "limit": limit,
    }
    return await handler.search(get_deps(request), params, wanted)
