"""The only place the OpenTable provider's adapters are built and the service is assembled."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import cast

from fastapi import FastAPI

from booking_shared.provider_kit import PartnerPort
from booking_shared.provider_kit.service import provider_app, wire_provider
from booking_shared.service import Runtime
from provider_opentable.adapters.partner_client import OpenTableClient
from provider_opentable.adapters.partner_port import OpenTablePort
from provider_opentable.config import Settings
from provider_opentable.handlers import Deps

TITLE = "OpenTable provider"
DESCRIPTION = (
    "Restaurant bookings through an OpenTable-style partner API: slot lock -> reservation -> cancel, "
    "behind the provider-neutral HoldItem/ConfirmItem/CancelItem contract."
)


def build_client(settings: Settings) -> OpenTableClient:
    headers = {}
    if settings.opentable_api_key is not None:
        headers["Authorization"] = f"Bearer {settings.opentable_api_key.get_secret_value()}"
    return OpenTableClient(
        settings.opentable_base_url,
        timeout=settings.opentable_timeout_s,
        max_retries=settings.opentable_max_retries,
        max_concurrency=settings.opentable_max_concurrency,
        rate_per_second=settings.opentable_rate_per_second or None,
        backoff_base=settings.opentable_backoff_base_s,
        headers=headers,
    )


def build_port(settings: Settings) -> OpenTablePort:
    """Called in the app's lifespan: nothing connects at import time, and nothing at start either
    (the partner is first called by a command or a search, so the service starts without it)."""
    return OpenTablePort(
        build_client(settings),
        timezone=settings.opentable_timezone,
        hold_ttl_seconds=settings.opentable_hold_ttl_seconds,
        catalogue_ttl_s=settings.opentable_catalogue_ttl_s,
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
    # The kit's migrations (items, commands) are the whole schema: this service adds no table.
    return provider_app(
        settings,
        partial(wire, overrides=overrides),
        title=TITLE,
        description=DESCRIPTION,
    )
