"""The payment service's HTTP routes: the internal API the gateway calls (saved cards, payment
status; `router`, behind the service credential) and Stripe's webhook endpoint (`webhooks`,
public, served on a listener of its own). Thin: validate, call one use case, map the result."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Path, Request, Response
from fastapi.responses import JSONResponse

from booking_shared.contracts.internal.payment import (
    AttachIn,
    Card,
    CardList,
    CustomerIn,
    CustomerOut,
    PaymentView,
    SetupIntentOut,
)
from booking_shared.http import problem
from booking_shared.money import Money
from payment import cards
from payment.adapters import repository as repo
from payment.domain.gateway import (
    CardDisplay,
    Declined,
    PaymentMethodNotOwned,
    StripeRequestFailed,
    StripeUnavailable,
    UnsupportedPaymentMethod,
    WebhookVerificationError,
)
from payment.handlers import Deps, handle_stripe_event

log = logging.getLogger(__name__)
T = TypeVar("T")

router = APIRouter()
webhooks = APIRouter()  # public: Stripe proves itself with the signature, not our credential

CustomerId = Annotated[str, Path(pattern=r"^cus_\w+$", max_length=255, examples=["cus_Q1w2e3"])]
PaymentMethodId = Annotated[str, Path(pattern=r"^pm_\w+$", max_length=255, examples=["pm_1Pq2w3"])]
MAX_WEBHOOK_BYTES = 1_000_000


def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.runtime.deps
    return deps


# --- shapes: booking_shared.contracts.internal.payment (shared with the gateway's client) ------


def _card(card: CardDisplay) -> Card:
    return Card(
        id=card.pm_id,
        brand=card.brand,
        last4=card.last4,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        is_default=card.is_default,
    )


# --- error mapping -------------------------------------------------------------------------


async def _stripe(call: Awaitable[T], *, attaching: bool = False) -> T:
    """Run a use case; map what it raises to a problem+json answer."""
    try:
        return await call
    except cards.UnknownCustomer as exc:
        raise HTTPException(
            404, {"title": "Unknown customer", "detail": f"{exc} is not a customer of this service"}
        ) from None
    except PaymentMethodNotOwned:
        if attaching:  # someone else's card: a conflict, not a missing resource
            raise HTTPException(
                409,
                {
                    "title": "Payment method belongs to another customer",
                    "code": "payment_method_not_owned",
                },
            ) from None
        raise HTTPException(
            404, {"title": "Unknown payment method", "detail": "not one of this customer's cards"}
        ) from None
    except cards.UnknownCard:
        raise HTTPException(
            404, {"title": "Unknown payment method", "detail": "not one of this customer's cards"}
        ) from None
    except UnsupportedPaymentMethod as exc:
        raise HTTPException(
            422,
            {
                "title": "Invalid request",
                "detail": exc.message,
                "errors": [{"field": "payment_method_id", "message": "only cards are supported"}],
            },
        ) from None
    except StripeRequestFailed as exc:
        if exc.http_status == 404:
            if attaching:
                raise HTTPException(
                    422,
                    {
                        "title": "Invalid request",
                        "detail": "Stripe does not know this payment method",
                        "errors": [
                            {"field": "payment_method_id", "message": "no such payment method"}
                        ],
                    },
                ) from None
            raise HTTPException(
                404, {"title": "Unknown payment method", "detail": "Stripe does not know it"}
            ) from None
        log.error(
            "Stripe refused a request", extra={"error": exc.message, "operation": exc.operation}
        )
        raise HTTPException(
            502, {"title": "Stripe refused the request", "code": exc.stripe_code}
        ) from None
    except StripeUnavailable:
        raise HTTPException(
            503,
            {"title": "Stripe is unavailable", "detail": "try again shortly"},
            headers={"Retry-After": "2"},
        ) from None


# --- routes --------------------------------------------------------------------------------


@router.post(
    "/internal/customers",
    response_model=CustomerOut,
    tags=["internal"],
    summary="Create or reuse the user's Stripe customer",
)
async def create_customer(request: Request, body: CustomerIn) -> CustomerOut:
    customer_id = await _stripe(cards.ensure_customer(_deps(request), body.user_id, body.email))
    return CustomerOut(customer_id=customer_id)


@router.post(
    "/internal/customers/{customer_id}/setup-intents",
    status_code=201,
    response_model=SetupIntentOut,
    tags=["internal"],
    summary="Start saving a card (the browser confirms it with Stripe.js)",
)
async def create_setup_intent(request: Request, customer_id: CustomerId) -> SetupIntentOut:
    setup = await _stripe(cards.create_setup_intent(_deps(request), customer_id))
    return SetupIntentOut(setup_intent_id=setup.setup_intent_id, client_secret=setup.client_secret)


@router.get(
    "/internal/customers/{customer_id}/payment-methods",
    response_model=CardList,
    tags=["internal"],
    summary="The customer's saved cards",
)
async def list_payment_methods(request: Request, customer_id: CustomerId) -> CardList:
    found = await _stripe(cards.list_cards(_deps(request), customer_id))
    return CardList(payment_methods=[_card(c) for c in found])


@router.post(
    "/internal/customers/{customer_id}/payment-methods",
    status_code=201,
    response_model=Card,
    tags=["internal"],
    summary="Save a card token (pm_...) for the customer",
    responses={402: {"description": "The card was refused; `code` is Stripe's decline code."}},
)
async def attach_payment_method(request: Request, customer_id: CustomerId, body: AttachIn) -> Any:
    result = await _stripe(
        cards.save_card(_deps(request), customer_id, body.payment_method_id, body.make_default),
        attaching=True,
    )
    if isinstance(result, Declined):
        return problem(402, "Card declined", result.message, code=result.decline_code)
    return _card(result)


@router.post(
    "/internal/customers/{customer_id}/payment-methods/{pm_id}/default",
    response_model=Card,
    tags=["internal"],
    summary="Make one of the customer's cards the default",
)
async def set_default_payment_method(
    request: Request, customer_id: CustomerId, pm_id: PaymentMethodId
) -> Card:
    return _card(await _stripe(cards.make_default(_deps(request), customer_id, pm_id)))


@router.delete(
    "/internal/customers/{customer_id}/payment-methods/{pm_id}",
    status_code=204,
    tags=["internal"],
    summary="Remove a saved card (idempotent)",
)
async def detach_payment_method(
    request: Request, customer_id: CustomerId, pm_id: PaymentMethodId
) -> Response:
    await _stripe(cards.remove_card(_deps(request), customer_id, pm_id))
    return Response(status_code=204)


@router.get(
    "/internal/payments/{booking_id}",
    response_model=PaymentView,
    tags=["internal"],
    summary="The payment of one booking",
)
async def get_payment(
    request: Request, booking_id: Annotated[str, Path(min_length=1, max_length=64)]
) -> PaymentView:
    deps = _deps(request)
    async with deps.pool.acquire() as conn:
        row = await repo.get_payment_row(conn, booking_id)
    if row is None:
        raise HTTPException(
            404, {"title": "Unknown payment", "detail": f"no payment for booking {booking_id}"}
        )
    currency = row["currency"]
    return PaymentView(
        booking_id=row["booking_id"],
        status=row["status"],
        payment_intent_id=row["payment_intent_id"],
        amount_authorized=Money(amount_minor=row["amount_authorized"], currency=currency),
        amount_captured=Money(amount_minor=row["amount_captured"], currency=currency),
        amount_refunded=Money(amount_minor=row["amount_refunded"], currency=currency),
        capture_before=row["capture_before"],
        client_secret=row["client_secret"] if row["status"] == "requires_action" else None,
    )


@webhooks.post(
    "/webhooks/stripe", tags=["webhooks"], summary="Stripe events (Stripe-Signature verified)"
)
async def stripe_webhook(request: Request) -> JSONResponse:
    deps = _deps(request)
    raw = await request.body()  # the signature covers these exact bytes: never re-serialize
    if len(raw) > MAX_WEBHOOK_BYTES:
        return problem(413, "Payload too large")
    try:
        event = deps.gateway.construct_webhook_event(
            raw,
            request.headers.get("stripe-signature"),
            deps.settings.stripe_webhook_secret,
            deps.settings.stripe_webhook_tolerance_s,
        )
    except WebhookVerificationError as exc:
        log.warning("webhook rejected", extra={"code": exc.code})
        return problem(400, "Webhook rejected", exc.message, code=exc.code)
    outcome = await handle_stripe_event(deps, event)
    return JSONResponse({"received": True, "event_id": event.id, "outcome": outcome})
