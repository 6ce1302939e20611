"""Command line: run the Booking orchestrator (python -m orchestrator)."""

from booking_shared.service import serve
from orchestrator.config import Settings
from orchestrator.entrypoints.app import create_app


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)
