"""Every service starts on its own: migrates its schema, consumes, relays, answers health checks."""

from __future__ import annotations

import httpx
import pytest

from booking_shared.testing.servers import serve_app

SERVICES = [
    ("payment.config", "payment.entrypoints.app"),
    ("orchestrator.config", "orchestrator.entrypoints.app"),
    ("provider_opentable.config", "provider_opentable.entrypoints.app"),
    ("provider_eventbrite.config", "provider_eventbrite.entrypoints.app"),
    ("gateway.config", "gateway.entrypoints.app"),
]


@pytest.mark.parametrize(("config_mod", "app_mod"), SERVICES, ids=[s[0].split(".")[0] for s in SERVICES])
async def test_the_service_starts_migrates_and_reports_ready(config_mod, app_mod, service_settings):
    import importlib

    settings = service_settings(importlib.import_module(config_mod).Settings)
    app = importlib.import_module(app_mod).create_app(settings)
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/healthz")).json()["status"] == "ok"
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database"] is True
        metrics = await client.get("/metrics")
        assert "booking_outbox_pending" in metrics.text
