"""/v1/payment-methods: saved cards through the payment service (tokens only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Request, Response

from gateway.domain.errors import MethodNotAllowed
from gateway.domain.models import Card
from gateway.entrypoints.api import examples as ex
from gateway.entrypoints.api.auth import CurrentUser, get_deps
from gateway.entrypoints.api.problems import GuardedRoute
from gateway.entrypoints.api.schemas import (
    PM_PATTERN,
    AttachPaymentMethod,
    CardList,
    SetupIntentView,
)
from gateway.handlers import payment_methods as pm

router = APIRouter(prefix="/v1/payment-methods", tags=["payment methods"], route_class=GuardedRoute)

PM_ID = Path(
    pattern=PM_PATTERN, description="A Stripe PaymentMethod id of yours.", examples=["pm_1Pq2w3"]
)


@router.post(
    "/setup-intent",
    status_code=201,
    response_model=SetupIntentView,
    summary="Start saving a card: a SetupIntent client_secret for Stripe.js",
    description="The browser confirms it with Stripe.js; the card number goes to Stripe, never to us. "
    "Then POST the resulting pm_... id to /v1/payment-methods.",
    responses={**ex.ok(ex.SETUP_INTENT, 201, "Created"), **ex.problems("unauthorized", "upstream")},
)
async def create_setup_intent(request: Request, user: CurrentUser) -> SetupIntentView:
    return SetupIntentView.model_validate(await pm.create_setup_intent(get_deps(request), user))


@router.api_route(
    "/setup-intent",
    methods=["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"],
    include_in_schema=False,
)
async def setup_intent_other_methods() -> None:
    # Without this, DELETE /setup-intent would reach DELETE /{payment_method_id} as an id.
    raise MethodNotAllowed(["POST"])


@router.post(
    "",
    status_code=201,
    response_model=Card,
    summary="Save a card (a pm_... token) for one-click booking",
    responses={
        **ex.ok(ex.CARD, 201, "Saved"),
        **ex.problems("unauthorized", "invalid", "pan", "declined", "pm_404", "upstream"),
    },
)
async def attach(
    request: Request,
    user: CurrentUser,
    body: Annotated[
        AttachPaymentMethod,
        Body(
            openapi_examples=ex.body(
                saved_card={"payment_method_id": "pm_1Pq2w3", "make_default": True}
            )
        ),
    ],
) -> Card:
    return await pm.attach_payment_method(
        get_deps(request), user, body.payment_method_id, body.make_default
    )


@router.get(
    "",
    response_model=CardList,
    summary="Your saved cards (brand, last4, expiry, default)",
    responses={**ex.ok({"payment_methods": [ex.CARD]}), **ex.problems("unauthorized", "upstream")},
)
async def list_cards(request: Request, user: CurrentUser) -> CardList:
    return CardList(payment_methods=await pm.list_payment_methods(get_deps(request), user))


@router.post(
    "/{payment_method_id}/default",
    response_model=Card,
    summary="Make a saved card the default",
    responses={**ex.ok(ex.CARD), **ex.problems("unauthorized", "pm_404", "invalid", "upstream")},
)
async def make_default(
    request: Request, user: CurrentUser, payment_method_id: Annotated[str, PM_ID]
) -> Card:
    return await pm.set_default_payment_method(get_deps(request), user, payment_method_id)


@router.delete(
    "/{payment_method_id}",
    status_code=204,
    response_class=Response,
    summary="Remove a saved card",
    responses={
        204: {"description": "Removed (no body)"},
        **ex.problems("unauthorized", "pm_404", "invalid", "upstream"),
    },
)
async def remove(
    request: Request, user: CurrentUser, payment_method_id: Annotated[str, PM_ID]
) -> Response:
    await pm.remove_payment_method(get_deps(request), user, payment_method_id)
    return Response(status_code=204)
