"""The only place the Eventbrite provider's adapters are built and its app assembled."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from booking_shared.provider_kit.service import create_provider_app
from provider_eventbrite.adapters.partner_client import EventbriteClient
from provider_eventbrite.adapters.partner_port import EventbritePort
from provider_eventbrite.config import Settings

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
    """Called in the app's lifespan (the kit's port_factory), never at import time."""
    return EventbritePort(
        build_client(settings),
        timezone=settings.eventbrite_timezone,
        hold_ttl_seconds=settings.eventbrite_hold_ttl_seconds,
        event_ttl_seconds=settings.eventbrite_event_cache_ttl_s,
    )


def build_app(settings: Settings) -> FastAPI:
    """The service: the provider kit's handlers, sweeper and internal API around our port."""
    return create_provider_app(
        settings,
        port_factory=lambda: build_port(settings),
        migrations_dir=MIGRATIONS,
        title="Eventbrite provider",
        description=DESCRIPTION,
        sweep_interval_s=settings.hold_sweep_interval_s,
    )
