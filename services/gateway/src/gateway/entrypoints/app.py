"""The Gateway's process: FastAPI app whose lifespan runs the consumers and the outbox relay."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from booking_shared.service import create_app as create_service_app
from gateway.bootstrap import Ports, make_wire
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

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"
API_VERSION = "1.0.0"


def create_app(settings: Settings | None = None, ports: Ports | None = None) -> FastAPI:
    settings = settings or Settings()
    app = create_service_app(
        settings,
        migrations_dir=MIGRATIONS,
        wire=make_wire(ports),
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
