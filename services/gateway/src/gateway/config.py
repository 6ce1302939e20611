"""Settings of the Gateway; nothing else reads the environment."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator

from booking_shared.config import MIN_TOKEN_CHARS, ServiceSettings


class Settings(ServiceSettings):
    serves_internal_api: ClassVar[bool] = False  # its API is public: it authenticates people

    service_name: str = "gateway"
    port: int = 8000
    db_schema: str = "gateway"

    # The services the gateway calls (internal HTTP APIs, see docs/internal-apis.md).
    payment_url: str = Field("http://127.0.0.1:8002", description="Payment service base URL.")
    orchestrator_url: str = Field("http://127.0.0.1:8001", description="Orchestrator base URL.")
    provider_opentable_url: str = Field(
        "http://127.0.0.1:8003", description="OpenTable provider base URL."
    )
    provider_eventbrite_url: str = Field(
        "http://127.0.0.1:8004", description="Eventbrite provider base URL."
    )
    extra_provider_urls: dict[str, str] = Field(
        default_factory=dict, description="More providers: name -> base URL (JSON), e.g. tours."
    )
    # Each called service's credential (the INTERNAL_API_TOKEN it was started with). Required in
    # production; `make up` makes random ones at each start.
    payment_api_token: SecretStr | None = Field(
        None, description="The payment service's credential."
    )
    orchestrator_api_token: SecretStr | None = Field(
        None, description="The orchestrator's credential."
    )
    provider_opentable_api_token: SecretStr | None = Field(
        None, description="The OpenTable provider's credential."
    )
    provider_eventbrite_api_token: SecretStr | None = Field(
        None, description="The Eventbrite provider's credential."
    )
    extra_provider_tokens: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Credentials of extra_provider_urls: name -> token (JSON).",
    )
    http_timeout_s: float = Field(5.0, description="Timeout of a call to another service.")
    quote_timeout_s: float = Field(
        15.0,
        gt=0,
        description="Timeout of a provider's quote: it asks its partner for each item's price and "
        "availability (at once), so it takes the partner's slowest answer, with its retries.",
    )
    search_timeout_s: float = Field(
        2.0, description="A provider slower than this is reported missing."
    )
    status_timeout_s: float = Field(
        2.0, description="Timeout of the orchestrator read in GET /v1/bookings/{id}."
    )
    provider_capabilities_ttl_s: float = Field(
        300.0,
        ge=0,
        description="How long a provider's declared capabilities (guest requirements) are cached.",
    )

    quote_ttl_s: int = Field(900, ge=30, description="How long a quote can be booked.")
    ops_bootstrap_token: SecretStr | None = Field(
        None,
        description="A bearer token with the ops role (dev/bootstrap); prefer `gateway-service create-ops-user`.",
    )

    token_ttl_days: float = Field(
        30.0, gt=0, le=3650, description="A bearer token expires this long after it is issued."
    )

    session_ttl_s: float = Field(
        8 * 3600.0,
        ge=60,
        le=30 * 86400.0,
        description="A session token (what signing in with email and password returns) expires "
        "this long after sign-in.",
    )
    password_hash_time_cost: int = Field(
        3, ge=1, le=20, description="Argon2id passes over memory per password hash."
    )
    password_hash_memory_kib: int = Field(
        65536, ge=8192, le=1048576, description="Argon2id memory per password hash (KiB)."
    )
    password_hash_parallelism: int = Field(4, ge=1, le=16, description="Argon2id lanes.")
    sign_in_failures_per_email: int = Field(
        5, ge=1, description="Failed sign-ins allowed in a burst for one email."
    )
    sign_in_failures_per_email_per_hour: float = Field(
        12.0, gt=0, description="How fast that allowance comes back (per hour)."
    )
    sign_in_failures_per_client: int = Field(
        20, ge=1, description="Failed sign-ins allowed in a burst from one client (IP address)."
    )
    sign_in_failures_per_client_per_hour: float = Field(
        60.0, gt=0, description="How fast that allowance comes back (per hour)."
    )

    rate_quotes_capacity: int = Field(20, ge=1, description="Quote bucket size per user (burst).")
    rate_quotes_per_minute: float = Field(20.0, gt=0, description="Quote bucket refill per user.")
    rate_bookings_capacity: int = Field(
        5, ge=1, description="Booking bucket size per user (burst)."
    )
    rate_bookings_per_minute: float = Field(
        5.0, gt=0, description="Booking bucket refill per user."
    )
    max_active_bookings: int = Field(
        10, ge=1, description="Bookings not yet final, per user (no slot hoarding)."
    )

    idempotency_ttl_h: float = Field(
        24.0, description="A used Idempotency-Key can be reused after this."
    )
    idempotency_lock_s: float = Field(
        30.0, description="After this, a request left 'in flight' by a crash is taken over."
    )
    retention_quote_after_expiry_s: float = Field(
        3600.0, ge=0, description="A quote never booked is deleted this long after it expires."
    )
    retention_guest_s: float = Field(
        7 * 86400.0,
        ge=0,
        description="What the gateway sent the saga (with the sealed guest) is deleted this long after"
        " the booking is final.",
    )
    sse_poll_interval_s: float = Field(1.0, description="SSE fallback poll when no NOTIFY arrives.")
    sse_outcome_grace_s: float = Field(
        5.0,
        description="After a final saga state, how long SSE waits for the event with its codes or reasons.",
    )
    sse_ping_s: float = Field(15.0, description="SSE keep-alive comment interval.")
    sse_max_s: float = Field(
        3600.0, description="An SSE stream ends after this even without a final state."
    )
    reconcile_after_s: float = Field(
        30.0,
        gt=0,
        description="A booking or cancellation request the saga has not answered after this is sent again"
        " (then after twice as long, and so on).",
    )
    reconcile_interval_s: float = Field(
        5.0, gt=0, description="How often the reconciler looks for unanswered requests."
    )
    reconcile_max_resends: int = Field(
        5,
        ge=0,
        description="Resends of one request before it is left to operators (logged, counted).",
    )
    card_wait_max_s: float = Field(
        300.0,
        gt=0,
        description="A booking accepted before its card could be chosen (no copy of the user's"
        " cards, the payment service away) fails with `payment_unavailable` if the payment"
        " service has not answered after this; nothing is held or charged before.",
    )
    max_body_bytes: int = Field(65536, description="Bigger request bodies get 413.")
    trust_forwarded_for: bool = Field(
        False, description="Take the client IP from X-Forwarded-For (behind a proxy)."
    )
    calendar_domain: str = Field("booking.local", description="Right-hand side of calendar UIDs.")
    calendar_default_minutes: dict[str, int] = Field(
        default_factory=lambda: {"restaurant": 120, "event": 180},
        description="Event length per booking type.",
    )
    problem_type_base: str = Field(
        "https://booking.local/problems/", description="Prefix of problem+json type URIs."
    )
    # The web pages (/ and /ops).
    stream_ticket_ttl_s: float = Field(
        60.0, gt=0, le=600, description="How long a single-use event-stream ticket can be redeemed."
    )
    stripe_api_base: str | None = Field(
        None,
        description="The Stripe emulator's base URL in dev (make up sets it); its Stripe.js is used.",
    )
    stripe_js_url: str | None = Field(
        None,
        description="Where pages load Stripe.js from; default: the emulator's copy when stripe_api_base is set,"
        " else https://js.stripe.com/v3/.",
    )
    stripe_publishable_key: str = Field(
        "pk_test_localstripe", description="The publishable key Stripe.js is started with (pk_...)."
    )

    @property
    def stripe_js(self) -> str:
        if self.stripe_js_url:
            return self.stripe_js_url
        if self.stripe_api_base:
            return self.stripe_api_base.rstrip("/") + "/js.stripe.com/v3/"
        return "https://js.stripe.com/v3/"

    @property
    def token_ttl(self) -> timedelta:
        return timedelta(days=self.token_ttl_days)

    @property
    def session_ttl(self) -> timedelta:
        return timedelta(seconds=self.session_ttl_s)

    @property
    def provider_urls(self) -> dict[str, str]:
        return {
            "opentable": self.provider_opentable_url,
            "eventbrite": self.provider_eventbrite_url,
            **self.extra_provider_urls,
        }

    @property
    def provider_tokens(self) -> dict[str, SecretStr | None]:
        return {
            "opentable": self.provider_opentable_api_token,
            "eventbrite": self.provider_eventbrite_api_token,
            **self.extra_provider_tokens,
        }

    @model_validator(mode="after")
    def _safe_ops_token(self) -> Settings:
        token = self.ops_bootstrap_token.get_secret_value() if self.ops_bootstrap_token else None
        if token is not None and len(token) < 32 and self.environment == "production":
            raise ValueError("OPS_BOOTSTRAP_TOKEN must be at least 32 characters in production")
        if self.environment == "production" and (
            self.password_hash_memory_kib < 19456 or self.password_hash_time_cost < 2
        ):
            raise ValueError(
                "PASSWORD_HASH_MEMORY_KIB must be at least 19456 and PASSWORD_HASH_TIME_COST at"
                " least 2 in production (OWASP's minimum for Argon2id)"
            )
        if self.environment == "production":
            called = {
                "PAYMENT_API_TOKEN": self.payment_api_token,
                "ORCHESTRATOR_API_TOKEN": self.orchestrator_api_token,
                **{
                    f"the credential of provider {name}": token
                    for name, token in self.provider_tokens.items()
                },
            }
            for what, value in called.items():
                if value is None or len(value.get_secret_value()) < MIN_TOKEN_CHARS:
                    raise ValueError(
                        f"{what} must be set in production ({MIN_TOKEN_CHARS}+ characters)"
                    )
        return self
