"""The Booking orchestrator's process: FastAPI app whose lifespan runs the consumers, the
outbox relay and the deadline worker, and serves the internal saga API."""

from pathlib import Path

from fastapi import FastAPI

from booking_shared.service import create_app as create_service_app
from orchestrator.bootstrap import wire
from orchestrator.config import Settings
from orchestrator.entrypoints.http import router

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings,
        migrations_dir=MIGRATIONS,
        wire=wire,
        routers=[router],
        title="Booking orchestrator",
        description="The booking saga: holds, payment hold, confirm, capture, compensation.",
    )
