"""The only place the Gateway's adapters are built, its handlers registered and its app
assembled."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import cast

from fastapi import FastAPI

from booking_shared import retention
from booking_shared.service import Runtime
from booking_shared.service import create_app as create_service_app
from gateway.adapters.orchestrator import OrchestratorClient
from gateway.adapters.passwords import Passwords
from gateway.adapters.payment import PaymentClient
from gateway.adapters.postgres import booking_channel
from gateway.adapters.providers import ProviderClient
from gateway.adapters.retention import rules as retention_rules
from gateway.adapters.signals import BookingSignals
from gateway.config import Settings
from gateway.entrypoints import pages
from gateway.entrypoints.api import (
    body_limit,
    bookings,
    ops,
    payment_methods,
    problems,
    quotes,
    search,
    users,
    web,
)
from gateway.entrypoints.api.openapi import DESCRIPTION, TAGS
from gateway.entrypoints.api.openapi import install as install_openapi
from gateway.entrypoints.messaging import subscribe
from gateway.entrypoints.reconciler import Reconciler
from gateway.handlers.deps import Deps
from gateway.ports import OrchestratorPort, PaymentPort, ProviderPort

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
API_VERSION = "1.0.0"


@dataclass(frozen=True)
class Overrides:
    """Adapters to use instead of the HTTP clients (tests); None builds the real client."""

    payment: PaymentPort | None = None
    providers: Mapping[str, ProviderPort] | None = None
    orchestrator: OrchestratorPort | None = None


async def wire(rt: Runtime[Deps], overrides: Overrides | None = None) -> Deps:
    """Build the clients of the other services and the booking signals, register the projection
    of saga events, start the reconciler."""
    settings = cast(Settings, rt.settings)
    overrides = overrides or Overrides()
    # httpx logs every request line at INFO (URLs with ids and search text): not in our logs.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    timeout = settings.http_timeout_s
    payment = overrides.payment or PaymentClient(
        settings.payment_url, timeout, token=settings.payment_api_token
    )
    rt.closers.push_async_callback(payment.close)
    tokens = settings.provider_tokens
    providers = overrides.providers or {
        name: ProviderClient(
            name,
            url,
            timeout,
            token=tokens.get(name),
            capabilities_ttl_s=settings.provider_capabilities_ttl_s,
            quote_timeout_s=settings.quote_timeout_s,
        )
        for name, url in settings.provider_urls.items()
    }
    for provider in providers.values():
        rt.closers.push_async_callback(provider.close)
    orchestrator = overrides.orchestrator or OrchestratorClient(
        settings.orchestrator_url, timeout, token=settings.orchestrator_api_token
    )
    rt.closers.push_async_callback(orchestrator.close)
    signals = BookingSignals(
        settings.service_database_url,
        booking_channel(settings.db_schema),
        {
            "search_path": settings.db_schema,
            "application_name": f"{settings.service_name}-signals",
        },
    )
    await signals.start()
    rt.closers.push_async_callback(signals.close)
    passwords = Passwords(
        time_cost=settings.password_hash_time_cost,
        memory_kib=settings.password_hash_memory_kib,
        parallelism=settings.password_hash_parallelism,
    )
    deps = Deps(settings, rt.pool, payment, providers, orchestrator, signals, passwords=passwords)

    subscribe(rt.router, deps)
    rt.start_worker(Reconciler(rt.pool, settings, rt.relay.wake, deps.payment))
    retention.start(rt, retention_rules(settings))
    return deps


def create_app(settings: Settings | None = None, overrides: Overrides | None = None) -> FastAPI:
    """The process: a FastAPI app whose lifespan runs the consumers, the outbox relay and the
    reconciler, and serves the public API, the web UI and the ops dashboard."""
    settings = settings or Settings()
    app = create_service_app(
        settings,
        migrations_dir=MIGRATIONS,
        wire=partial(wire, overrides=overrides),
        routers=[
            users.router,
            payment_methods.router,
            search.router,
            quotes.router,
            bookings.router,
            ops.router,
            web.router,
        ],
        title="Gateway: one-click booking API",
        description=DESCRIPTION,
    )
    app.version = API_VERSION
    app.openapi_tags = TAGS
    problems.install(app)
    body_limit.install(app, settings.max_body_bytes)
    install_openapi(app)
    pages.install(app, settings)
    return app
