"""The only place the Eventbrite provider's adapters are built and its app assembled."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import cast

from fastapi import FastAPI

from booking_shared.provider_kit import PartnerPort
from booking_shared.provider_kit.service import provider_app, wire_provider
from booking_shared.service import Runtime
from provider_eventbrite.adapters.partner_client import EventbriteClient
from provider_eventbrite.adapters.partner_port import EventbritePort
from provider_eventbrite.config import Settings
from provider_eventbrite.handlers import Deps

# This service's own migrations, applied after the kit's (none yet: the kit's tables suffice).
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

DESCRIPTION = (
    "Event tickets through an Eventbrite-style partner: v3 reads (events, venues, ticket classes) "
    "and a partner-order contract (hold -> order -> cancel) for writes."
)


def build_client(settings: Settings) -> EventbriteClient:
    """The partner's httpx client with its timeouts, retries and limits. Nothing connects here,
    so the service starts (and is ready) while the partner is down."""
    token = settings.eventbrite_token.get_secret_value() if settings.eventbrite_token else None
    return EventbriteClient(
        settings.eventbrite_base_url,
        timeout=settings.eventbrite_timeout_s,
        max_retries=settings.eventbrite_max_retries,
        max_concurrency=settings.eventbrite_max_concurrency,
        rate_per_second=settings.eventbrite_rate_per_second or None,
        backoff_base=settings.eventbrite_backoff_base_s,
        backoff_max=settings.eventbrite_backoff_max_s,
        token=token,
    )


def build_port(settings: Settings) -> EventbritePort:
    """Called by wire(), in the app's lifespan, never at import time."""
    return EventbritePort(
        build_client(settings),
        timezone=settings.eventbrite_timezone,
        hold_ttl_seconds=settings.eventbrite_hold_ttl_seconds,
        event_ttl_seconds=settings.eventbrite_event_cache_ttl_s,
    )


@dataclass(frozen=True)
class Overrides:
    """Adapters to use instead of the real ones (tests); None builds the real one."""

    port: PartnerPort | None = None


async def wire(rt: Runtime[Deps], overrides: Overrides | None = None) -> Deps:
    """Build the partner port (in the lifespan, never at import time) and hand it to the kit:
    command handlers, announcement, hold sweeper."""
    settings = cast(Settings, rt.settings)
    port = (overrides or Overrides()).port or build_port(settings)
    return await wire_provider(rt, port, sweep_interval_s=settings.hold_sweep_interval_s)


def create_app(settings: Settings | None = None, overrides: Overrides | None = None) -> FastAPI:
    """The service: the provider kit's internal API and handlers around our port."""
    settings = settings or Settings()
    return provider_app(
        settings,
        partial(wire, overrides=overrides),
        migrations_dir=MIGRATIONS,
        title="Eventbrite provider",
        description=DESCRIPTION,
    )
