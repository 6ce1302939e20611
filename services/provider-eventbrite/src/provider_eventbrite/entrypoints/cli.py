"""Command line: run the Eventbrite provider (python -m provider_eventbrite)."""

from booking_shared.service import serve
from provider_eventbrite.bootstrap import create_app
from provider_eventbrite.config import Settings


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)
