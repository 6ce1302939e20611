"""The OpenTable provider's process: a FastAPI app whose lifespan runs the consumers, the outbox
relay and the hold sweeper, with the internal API for the gateway."""

from fastapi import FastAPI

from provider_opentable.bootstrap import build_app
from provider_opentable.config import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return build_app(settings or Settings())
