"""Settings of the Payment service; nothing else reads the environment."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator, model_validator

from booking_shared.config import LOOPBACK, ServiceSettings
from booking_shared.contracts.topics import PAYMENT_COMMANDS, PAYMENT_REPLIES

DEV_STRIPE_API_KEY = "sk_test_localstripe"
DEV_STRIPE_WEBHOOK_SECRET = "whsec_dev_only_payment_webhook_secret"

# Stripe documents 7 days for customer-initiated card holds (about 4 days 18 h for Visa
# merchant-initiated ones). When Stripe gives no capture_before, we assume less than 7 days, so
# the orchestrator acts before the real lapse rather than after it.
DEFAULT_AUTHORIZATION_WINDOW = timedelta(days=6, hours=18)
MAX_AUTHORIZATION_WINDOW = timedelta(days=7)


class Settings(ServiceSettings):
    service_name: str = "payment"
    port: int = 8002
    db_schema: str = "payment"
    webhook_host: str = Field("127.0.0.1", description="Where Stripe's webhook listener binds.")
    webhook_port: int = Field(
        8012, description="Stripe's webhook listener (public), apart from the internal API."
    )

    stripe_api_key: str = Field(
        DEV_STRIPE_API_KEY, description="Stripe secret key (sk_...). Required in production."
    )
    stripe_api_base: str | None = Field(
        None,
        description="Stripe API base URL; None means real Stripe. `make up` points it at localstripe.",
    )
    stripe_webhook_secret: str = Field(
        DEV_STRIPE_WEBHOOK_SECRET,
        description="Signing secret of the webhook endpoint (whsec_...). Required in production.",
    )
    stripe_webhook_tolerance_s: int = Field(
        300, gt=0, le=3600, description="Oldest webhook timestamp accepted (replay window)."
    )
    stripe_max_attempts: int = Field(
        4, ge=1, le=10, description="Tries per Stripe call on transient errors."
    )
    stripe_timeout_s: float = Field(20.0, gt=0)
    authorization_window: timedelta = Field(
        DEFAULT_AUTHORIZATION_WINDOW,
        description="How long a hold is assumed to last when Stripe gives no capture_before "
        "(ISO 8601 duration or seconds).",
    )

    action_poll_interval_s: float = Field(
        5.0,
        ge=0,
        description="How often payments waiting for 3-D Secure are checked at Stripe, in case "
        "the webhook is late, lost or (the dev emulator) never sent; 0 = webhooks only.",
    )

    retention_webhook_events_s: float = Field(
        90 * 86400.0,
        ge=0,
        description="A webhook event id (replay dedupe) is kept this long; Stripe resends an event for 3 days.",
    )

    # Production uses the constants; tests give each module its own topics so that suites never
    # consume each other's commands.
    commands_topic: str = PAYMENT_COMMANDS
    replies_topic: str = PAYMENT_REPLIES

    @field_validator("stripe_api_base", mode="before")
    @classmethod
    def _blank_is_none(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @model_validator(mode="after")
    def _safe_stripe_settings(self) -> Settings:
        if not timedelta(0) < self.authorization_window <= MAX_AUTHORIZATION_WINDOW:
            raise ValueError("AUTHORIZATION_WINDOW must be positive and at most 7 days")
        if not self.stripe_api_key.startswith(("sk_", "rk_")):
            raise ValueError("STRIPE_API_KEY must be a Stripe secret or restricted key (sk_/rk_)")
        if self.environment == "dev" and self.webhook_host not in LOOPBACK:
            raise ValueError("WEBHOOK_HOST must be a loopback address in dev")
        if self.webhook_port == self.port:
            raise ValueError(
                "WEBHOOK_PORT must differ from PORT: the webhook has a listener of its own"
            )
        if self.environment == "production":
            if self.stripe_api_key == DEV_STRIPE_API_KEY:
                raise ValueError("STRIPE_API_KEY must be set in production")
            if (
                not self.stripe_webhook_secret
                or self.stripe_webhook_secret == DEV_STRIPE_WEBHOOK_SECRET
            ):
                raise ValueError("STRIPE_WEBHOOK_SECRET must be set in production")
        return self
