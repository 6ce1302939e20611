"""/v1/quotes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Request, Response

from gateway.entrypoints.api import examples as ex
from gateway.entrypoints.api.auth import CurrentUser, get_deps
from gateway.entrypoints.api.problems import GuardedRoute
from gateway.entrypoints.api.schemas import ID_PATTERN, QuoteRequest, QuoteView
from gateway.handlers import quotes as handler

router = APIRouter(prefix="/v1/quotes", tags=["quotes"], route_class=GuardedRoute)


@router.post(
    "",
    status_code=201,
    response_model=QuoteView,
    summary="Price schedule items at their providers",
    description='Items take the schedule generator\'s shape (`cost` as "$45.00", a number or Money). Each is '
    "routed by booking type (restaurant -> opentable, event -> eventbrite) and priced by its provider. All items "
    "must be in one currency. The answer says whether your preferences allow booking it with confirm=false.",
    responses={
        **ex.ok(ex.QUOTE, 201, "Created"),
        **ex.problems("unauthorized", "invalid", "malformed", "pan", "rate", "upstream"),
    },
)
async def create_quote(
    request: Request,
    user: CurrentUser,
    response: Response,
    body: Annotated[QuoteRequest, Body(openapi_examples=ex.QUOTE_BODIES)],
) -> dict:
    quote = await handler.create_quote(get_deps(request), user, body.items)
    response.headers["Location"] = quote["links"]["self"]
    return quote


@router.get(
    "/{quote_id}",
    response_model=QuoteView,
    summary="One of your quotes",
    responses={**ex.ok(ex.QUOTE), **ex.problems("unauthorized", "quote_404")},
)
async def get_quote(
    request: Request,
    user: CurrentUser,
    quote_id: Annotated[str, Path(pattern=ID_PATTERN, examples=[ex.QT])],
) -> dict:
    return await handler.get_quote(get_deps(request), user, quote_id)
