"""The only place the Gateway's adapters are built and its handlers registered."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from booking_shared import retention
from booking_shared.contracts import (
    BookingCancelled,
    BookingConfirmed,
    BookingFailed,
    SagaStateChanged,
)
from booking_shared.contracts.topics import BOOKING_EVENTS, SAGA_STATE
from booking_shared.service import Runtime, Wiring
from gateway.adapters.orchestrator import OrchestratorClient
from gateway.adapters.payment import PaymentClient
from gateway.adapters.postgres import booking_channel
from gateway.adapters.providers import ProviderClient
from gateway.adapters.retention import rules as retention_rules
from gateway.adapters.signals import BookingSignals
from gateway.config import Settings
from gateway.entrypoints.reconciler import Reconciler
from gateway.handlers.deps import Deps
from gateway.handlers.projection import record_booking_event, record_saga_state
from gateway.ports import OrchestratorPort, PaymentPort, ProviderPort

DEPS_KEY = "gateway"


@dataclass
class Ports:
    """Ports to use instead of the HTTP clients (tests); None builds the real client."""

    payment: PaymentPort | None = None
    providers: Mapping[str, ProviderPort] | None = None
    orchestrator: OrchestratorPort | None = None


def make_wire(ports: Ports | None = None) -> Wiring:
    ports = ports or Ports()

    async def wire(rt: Runtime) -> None:
        settings: Settings = rt.settings  # type: ignore[assignment]
        # httpx logs every request line at INFO (URLs with ids and search text): not in our logs.
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
        timeout = settings.http_timeout_s
        payment = ports.payment or PaymentClient(
            settings.payment_url, timeout, token=settings.payment_api_token
        )
        tokens = settings.provider_tokens
        providers = ports.providers or {
            name: ProviderClient(
                name,
                url,
                timeout,
                token=tokens.get(name),
                capabilities_ttl_s=settings.provider_capabilities_ttl_s,
            )
            for name, url in settings.provider_urls.items()
        }
        orchestrator = ports.orchestrator or OrchestratorClient(
            settings.orchestrator_url, timeout, token=settings.orchestrator_api_token
        )
        signals = BookingSignals(
            settings.service_database_url,
            booking_channel(settings.db_schema),
            {
                "search_path": settings.db_schema,
                "application_name": f"{settings.service_name}-signals",
            },
        )
        await signals.start()
        rt.extras[DEPS_KEY] = Deps(settings, rt.pool, payment, providers, orchestrator, signals)
        closers = rt.extras.setdefault("closers", [])
        closers += [
            signals.close,
            payment.close,
            orchestrator.close,
            *(p.close for p in providers.values()),
        ]

        reconciler = Reconciler(rt.pool, settings, rt.relay.wake, payment)
        reconciler.start()
        rt.extras["reconciler"] = reconciler
        closers.insert(0, reconciler.stop)
        retention.start(rt, retention_rules(settings))

        rt.router.on(SAGA_STATE, SagaStateChanged, record_saga_state)
        for event in (BookingConfirmed, BookingFailed, BookingCancelled):
            rt.router.on(BOOKING_EVENTS, event, record_booking_event)

    return wire


wire = make_wire()
