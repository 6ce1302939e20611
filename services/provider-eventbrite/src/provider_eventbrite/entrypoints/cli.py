"""Command line: run the Eventbrite provider (python -m provider_eventbrite)."""

from booking_shared.service import serve
from provider_eventbrite.config import Settings
from provider_eventbrite.entrypoints.app import create_app


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)
