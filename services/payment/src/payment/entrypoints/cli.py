"""Command line: run the Payment service (python -m payment)."""

from booking_shared.service import serve
from payment.config import Settings
from payment.entrypoints.app import create_app


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)
