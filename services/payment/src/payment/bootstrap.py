"""The only place the Payment service's adapters are built, its handlers registered and its app
assembled."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import cast

from fastapi import FastAPI

from booking_shared import retention
from booking_shared.contracts.topics import dlq
from booking_shared.db import create_pool
from booking_shared.service import Runtime
from booking_shared.service import create_app as create_service_app
from payment.adapters.retention import rules as retention_rules
from payment.adapters.stripe_gateway import StripeGateway
from payment.config import Settings
from payment.domain.gateway import PaymentGateway
from payment.entrypoints.action_poll import ActionPoll
from payment.entrypoints.http import router, webhooks
from payment.entrypoints.messaging import subscribe
from payment.handlers import Deps

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

DESCRIPTION = (
    "The only service that talks to Stripe. Internal API for saved cards (tokens only) and payment "
    "status; Stripe webhooks; AuthorizePayment/CapturePayment/VoidPayment/RefundPayment on "
    "payment.commands.v1, replies on payment.replies.v1. Stripe's webhook is served on a port of "
    "its own (WEBHOOK_PORT), apart from this internal API."
)

GatewayFactory = Callable[[Settings], PaymentGateway]


def stripe_gateway(settings: Settings) -> PaymentGateway:
    return StripeGateway(
        settings.stripe_api_key,
        api_base=settings.stripe_api_base,
        max_attempts=settings.stripe_max_attempts,
        timeout_s=settings.stripe_timeout_s,
    )


def service_topics(settings: Settings) -> list[str]:
    """The topics this service reads and writes (configurable, so tests can use their own)."""
    return [
        settings.commands_topic,
        settings.replies_topic,
        dlq(settings.commands_topic),
        dlq(settings.replies_topic),
    ]


@dataclass(frozen=True)
class Overrides:
    """Adapters to use instead of the real ones (tests); None builds the real one."""

    # Builds the payment gateway in the lifespan (a fake, or one that fails on cue).
    gateway_factory: GatewayFactory | None = None


async def wire(rt: Runtime[Deps], overrides: Overrides | None = None) -> Deps:
    """Build the Stripe gateway, register the command handlers, start the 3-D Secure poll."""
    settings = cast(Settings, rt.settings)
    gateway = ((overrides or Overrides()).gateway_factory or stripe_gateway)(settings)
    rt.closers.push_async_callback(gateway.close)
    # Each use is one statement, never waiting on anything else: a few connections do.
    attempts = await create_pool(settings.model_copy(update={"db_pool_min": 1, "db_pool_max": 4}))
    rt.closers.push_async_callback(attempts.close)
    deps = Deps(gateway=gateway, pool=rt.pool, settings=settings, attempts=attempts)
    subscribe(rt.router, deps)
    retention.start(rt, retention_rules(settings))
    if settings.action_poll_interval_s > 0:
        rt.start_worker(ActionPoll(deps, settings.action_poll_interval_s, rt.relay.wake))
    return deps


def create_app(settings: Settings | None = None, overrides: Overrides | None = None) -> FastAPI:
    """The process: a FastAPI app whose lifespan runs the consumers and the outbox relay, with
    the internal API, and Stripe's webhook on a public app of its own (app.state.public_app)."""
    settings = settings or Settings()
    return create_service_app(
        settings,
        migrations_dir=MIGRATIONS,
        wire=partial(wire, overrides=overrides),
        routers=[router],
        public_routers=[webhooks],
        public_title="Payment service: Stripe webhooks",
        topics=service_topics(settings),
        title="Payment service",
        description=DESCRIPTION,
    )
