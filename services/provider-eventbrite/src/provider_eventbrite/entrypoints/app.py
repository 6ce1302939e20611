"""The Eventbrite provider's process: FastAPI app whose lifespan runs the consumers and the outbox relay."""

from pathlib import Path

from fastapi import FastAPI

from booking_shared.service import create_app as create_service_app
from provider_eventbrite.bootstrap import wire
from provider_eventbrite.config import Settings

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(settings, migrations_dir=MIGRATIONS, wire=wire, title="Eventbrite provider")
