"""Command line: run the Booking orchestrator (python -m orchestrator)."""

from booking_shared.service import serve
from orchestrator.bootstrap import create_app
from orchestrator.config import Settings


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)
