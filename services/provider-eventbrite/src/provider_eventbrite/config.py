"""Settings of the Eventbrite provider; nothing else reads the environment."""

from pydantic import Field, SecretStr

from booking_shared.config import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "provider-eventbrite"
    port: int = 8004
    db_schema: str = "eventbrite"

    # The partner API (the sandbox in dev and tests; `make up` sets EVENTBRITE_BASE_URL).
    eventbrite_base_url: str = Field(
        "http://127.0.0.1:8104", description="Base URL of the partner API."
    )
    eventbrite_token: SecretStr | None = Field(
        None,
        description="Partner credentials, sent as a bearer token when set (the sandbox needs none).",
    )
    eventbrite_timeout_s: float = Field(5.0, gt=0, description="Per-request timeout.")
    eventbrite_max_retries: int = Field(
        3, ge=0, description="Retries on 5xx, timeouts and connection errors."
    )
    eventbrite_backoff_base_s: float = Field(
        0.1, ge=0, description="First retry delay; doubles, with jitter."
    )
    eventbrite_backoff_max_s: float = Field(2.0, ge=0, description="Longest retry delay.")
    eventbrite_max_concurrency: int = Field(
        10, ge=1, description="Requests in flight to the partner at once."
    )
    eventbrite_rate_per_second: float = Field(
        20.0, ge=0, description="Requests a second to the partner; 0 = no limit."
    )
    eventbrite_timezone: str = Field(
        "Europe/Lisbon", description="The partner catalogue's time zone (one city)."
    )
    eventbrite_hold_ttl_seconds: int = Field(
        900, gt=0, description="Hold lifetime announced as hold_ttl_seconds."
    )
    eventbrite_event_cache_ttl_s: float = Field(
        300.0,
        ge=0,
        description="How long an event's details (name, start, refund policy) are cached.",
    )
    hold_sweep_interval_s: float = Field(
        5.0, gt=0, description="How often lapsed holds are looked for."
    )
