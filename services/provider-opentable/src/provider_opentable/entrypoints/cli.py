"""Command line: run the OpenTable provider (python -m provider_opentable)."""

from booking_shared.service import serve
from provider_opentable.bootstrap import create_app
from provider_opentable.config import Settings


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)
