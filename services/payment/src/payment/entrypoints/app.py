"""The Payment service's process: FastAPI app whose lifespan runs the consumers and the outbox relay."""

from pathlib import Path

from fastapi import FastAPI

from booking_shared.service import create_app as create_service_app
from payment.bootstrap import GatewayFactory, make_wiring, service_topics, stripe_gateway
from payment.config import Settings
from payment.entrypoints.http import router, webhooks

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"

DESCRIPTION = (
    "The only service that talks to Stripe. Internal API for saved cards (tokens only) and payment "
    "status; Stripe webhooks; AuthorizePayment/CapturePayment/VoidPayment/RefundPayment on "
    "payment.commands.v1, replies on payment.replies.v1. Stripe's webhook is served on a port of "
    "its own (WEBHOOK_PORT), apart from this internal API."
)


def create_app(
    settings: Settings | None = None, *, gateway_factory: GatewayFactory = stripe_gateway
) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings,
        migrations_dir=MIGRATIONS,
        wire=make_wiring(gateway_factory),
        routers=[router],
        public_routers=[webhooks],
        public_title="Payment service: Stripe webhooks",
        topics=service_topics(settings),
        title="Payment service",
        description=DESCRIPTION,
    )
