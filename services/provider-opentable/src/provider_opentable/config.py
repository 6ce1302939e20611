"""Settings of the OpenTable provider; nothing else reads the environment."""

from pydantic import Field, SecretStr

from booking_shared.config import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "provider-opentable"
    port: int = 8003
    db_schema: str = "opentable"

    # The partner API (the sandbox in dev and tests; `make up` sets OPENTABLE_BASE_URL).
    opentable_base_url: str = Field(
        "http://127.0.0.1:8103", description="Base URL of the partner API."
    )
    opentable_api_key: SecretStr | None = Field(
        None,
        description="Partner credentials, sent as a bearer token when set (the sandbox needs none).",
    )
    opentable_timeout_s: float = Field(5.0, gt=0, description="Per-request timeout.")
    opentable_max_retries: int = Field(
        3, ge=0, description="Retries on 5xx, timeouts and connection errors."
    )
    opentable_backoff_base_s: float = Field(
        0.1, ge=0, description="First retry delay; doubles, with jitter."
    )
    opentable_max_concurrency: int = Field(
        10, ge=1, description="Requests in flight to the partner at once."
    )
    opentable_rate_per_second: float = Field(
        20.0, ge=0, description="Requests a second to the partner; 0 = no limit."
    )
    opentable_timezone: str = Field(
        "Europe/Lisbon", description="The partner catalogue's time zone (one city)."
    )
    opentable_hold_ttl_seconds: int = Field(
        180, gt=0, description="Slot-lock lifetime announced as hold_ttl_seconds."
    )
    opentable_catalogue_ttl_s: float = Field(
        300.0, ge=0, description="How long restaurant details (price, policy) are cached."
    )
    hold_sweep_interval_s: float = Field(
        5.0, gt=0, description="How often lapsed holds are looked for."
    )
