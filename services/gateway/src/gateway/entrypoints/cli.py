"""Command line: run the Gateway (python -m gateway)."""

from booking_shared.service import serve
from gateway.config import Settings
from gateway.entrypoints.app import create_app


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)
