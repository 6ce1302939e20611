"""Command line: run the Payment service (python -m payment)."""

from booking_shared.service import serve
from payment.bootstrap import create_app
from payment.config import Settings


def main() -> None:
    settings = Settings()
    # The internal API on PORT; Stripe's webhook alone on WEBHOOK_PORT (the one to expose).
    serve(create_app(settings), settings, public=(settings.webhook_host, settings.webhook_port))
