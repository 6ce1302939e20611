"""Every service starts on its own: migrates its schema, consumes, relays, answers health checks."""

from __future__ import annotations

import httpx
import pytest

from booking_shared.devstack.infra import free_port
from booking_shared.testing.servers import serve_app

SERVICES = [
    ("payment.config", "payment.bootstrap"),
    ("orchestrator.config", "orchestrator.bootstrap"),
    ("provider_opentable.config", "provider_opentable.bootstrap"),
    ("provider_eventbrite.config", "provider_eventbrite.bootstrap"),
    ("gateway.config", "gateway.bootstrap"),
]


@pytest.mark.parametrize(
    ("config_mod", "app_mod"), SERVICES, ids=[s[0].split(".")[0] for s in SERVICES]
)
async def test_the_service_starts_migrates_and_reports_ready(config_mod, app_mod, service_settings):
    app, _ = built(config_mod, app_mod, service_settings)
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/healthz")).json()["status"] == "ok"
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database"] is True
        metrics = await client.get("/metrics")
        assert "booking_outbox_pending" in metrics.text


def built(config_mod: str, app_mod: str, service_settings):
    """The service's app and settings, its partners and peers at a closed port: replayed
    commands from other suites on the shared session topics must never reach a sandbox of a
    running `make up`."""
    import importlib

    closed = f"http://127.0.0.1:{free_port()}"
    settings_cls = importlib.import_module(config_mod).Settings
    urls = {
        f: closed
        for f in settings_cls.model_fields
        if f.endswith(("_base_url", "_url")) and f != "database_url"
    }
    settings = service_settings(settings_cls, **urls)
    return importlib.import_module(app_mod).create_app(settings), settings


INTERNAL = [s for s in SERVICES if not s[0].startswith("gateway")]


@pytest.mark.parametrize(
    ("config_mod", "app_mod"), INTERNAL, ids=[s[0].split(".")[0] for s in INTERNAL]
)
async def test_every_internal_route_refuses_a_call_without_the_service_credential(
    config_mod, app_mod, service_settings
):
    from booking_shared.testing.auth import check_internal_routes_refuse_strangers

    app, settings = built(config_mod, app_mod, service_settings)
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        routes = await check_internal_routes_refuse_strangers(
            app, url, settings.internal_api_token.get_secret_value()
        )
        assert ("GET", "/internal/outbox/parked") in routes
        # The probes stay open: they carry no credential and reveal no customer's data.
        for path in ("/healthz", "/readyz", "/metrics"):
            assert (await client.get(path)).status_code == 200
