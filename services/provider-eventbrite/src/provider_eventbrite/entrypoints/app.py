"""The Eventbrite provider's process: FastAPI app whose lifespan runs the consumers and the outbox relay."""

from fastapi import FastAPI

from provider_eventbrite.bootstrap import build_app
from provider_eventbrite.config import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return build_app(settings or Settings())
