"""Settings every service shares; each service subclasses it. Nothing else reads os.environ."""

from __future__ import annotations

from typing import ClassVar, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from booking_shared.retention import RetentionSettings

DEV_DB_PASSWORD = "dev-only-password"
DEV_GUEST_DATA_KEY = "dev-only-guest-data-key"
MIN_TOKEN_CHARS = 32
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class ServiceSettings(RetentionSettings):
    """Read from the environment (upper-case names), failing fast outside dev mode. The
    retention settings (RETENTION_*) come from RetentionSettings."""

    # hide_input_in_errors: a validation error would otherwise print the values it was given
    # (the whole environment for a model-level check), secrets included.
    model_config = SettingsConfigDict(env_file=None, extra="ignore", hide_input_in_errors=True)

    # Whether the service serves an internal HTTP API (every route but the probes needs
    # INTERNAL_API_TOKEN). The gateway's API is public and authenticates people instead.
    serves_internal_api: ClassVar[bool] = True

    service_name: str = "service"
    environment: Literal["dev", "test", "production"] = "dev"
    host: str = "127.0.0.1"
    port: int = 8000

    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5433/postgres",
        description="The server; in dev also the admin connection that provisions the role and schema.",
    )
    db_schema: str = "service"
    db_role_prefix: str = "booking_"
    db_password: str = DEV_DB_PASSWORD
    db_provision: bool = Field(True, description="Create the role and schema at start (dev/test).")
    db_pool_min: int = 1
    db_pool_max: int = 10
    db_pool_reserve: int = Field(
        3,
        ge=0,
        description="Connections of the pool that the consumer's handlers leave to the rest: the "
        "outbox relay's listening one, HTTP requests (/readyz among them) and workers. The consumer "
        "handles at most DB_POOL_MAX - DB_POOL_RESERVE records at once (at least one).",
    )

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_flavour: Literal["tansu", "kafka"] = Field(
        "tansu",
        description="tansu: no idempotent producer (it fails InitProducerId); kafka: idempotence on.",
    )
    kafka_fetch_max_wait_ms: int = Field(
        5,
        ge=0,
        description="Fetch wait while the service is busy. Tansu answers a waiting fetch only when it "
        "runs out, so a hop costs about half of it (booking_shared.pacing).",
    )
    kafka_fetch_idle_wait_ms: int = Field(
        500,
        ge=0,
        description="Fetch wait after kafka_busy_window_s with no traffic, and always against Apache "
        "Kafka (which answers as soon as data arrives).",
    )
    kafka_busy_window_s: float = Field(
        15.0, gt=0, description="Quiet time after which a service counts as idle."
    )
    kafka_partitions: int = 4
    kafka_session_timeout_ms: int | None = Field(
        None,
        ge=1000,
        description="Consumer-group session: a member silent this long is dropped and its "
        "partitions move. Unset: 4,000 ms against Tansu, which answers a new member's join after "
        "half the session (rounded up to a second: 2 s instead of 5 s at aiokafka's 10 s), and "
        "10,000 ms against Apache Kafka, whose brokers refuse sessions under "
        "group.min.session.timeout.ms (6 s by default). Heartbeats go every quarter of it.",
    )
    kafka_group_instance_id: str | None = Field(
        None,
        description="Static consumer-group membership (KIP-345): an instance restarted with the "
        "same id takes its partitions back at once, instead of waiting for its killed "
        "predecessor's session to lapse. Unique among the running instances of one service (e.g. "
        "a StatefulSet pod name); unset: dynamic. On Tansu a static member's first join takes "
        "6-8 s, against 2 s for a dynamic one at a 4 s session, and a restart is back in 8 s "
        "either way, so the dev stack leaves it unset.",
    )
    broker_watch_interval_s: float = Field(
        1.0,
        gt=0,
        description="How often the service checks that the broker still holds its topics; a broker "
        "that was unreachable or lost them gets the topics again and a fresh consumer (booking_shared.broker_watch).",
    )
    log_repeat_window_s: float = Field(
        30.0,
        ge=0,
        description="A repeated broker-client warning or error is logged once per window, with a count.",
    )
    consumer_concurrency: int = Field(
        7,
        ge=1,
        description="Records a service handles at once, each booking's in order (its key's lane; "
        "booking_shared.lanes). A slow partner or Stripe answer then holds up only its own "
        "booking. Each record in flight holds a pooled connection while handled, so the consumer "
        "takes at most DB_POOL_MAX - DB_POOL_RESERVE of them, whatever this says.",
    )
    kafka_commit_interval_ms: int = Field(
        100,
        ge=0,
        description="At most one offset commit per this many ms, covering every record finished "
        "since the last; a crash reads again what was finished and not yet committed (the inbox "
        "drops it).",
    )
    shutdown_drain_s: float = Field(
        2.0,
        ge=0,
        description="At a graceful stop, how long records in flight may take to finish and be "
        "committed; what is still running then is read again by the next consumer (so this only "
        "saves work, never data). Short in dev, where stacks stop often and a handler may be "
        "retrying a partner that is gone; compose and k8s give 10 s.",
    )
    consumer_max_attempts: int = Field(3, description="Tries before a message goes to its DLQ.")
    consumer_retry_backoff_ms: int = 100

    outbox_poll_interval_s: float = 1.0
    outbox_replay_after_loss_s: float = Field(
        120.0,
        ge=0,
        description="When the broker comes back without our topics (or after being unreachable), "
        "outbox rows sent in this many seconds before are published again: they may have been lost unread.",
    )
    outbox_publish_copies: int = Field(
        1,
        ge=1,
        le=5,
        description="Dev/test only (refused in production): publish every outbox row this many "
        "times, so that each message is delivered more than once (chaos runs of the consumers' dedupe).",
    )
    kill_point: str = Field(
        "",
        description="Dev/test only (refused in production): a named point (booking_shared.killpoint) where "
        "the process SIGKILLs itself, at kill_point_rate, e.g. payment.after_stripe_call.",
    )
    kill_point_rate: float = Field(
        0.0, ge=0, le=1, description="Chance of dying each time the kill point is reached."
    )
    outbox_max_attempts: int = Field(
        5,
        ge=1,
        description="Tries of one outbox row that the broker refuses before it is parked for operators.",
    )
    outbox_retry_backoff_s: float = Field(
        1.0,
        gt=0,
        description="Wait before retrying a refused row; doubles with each attempt (capped at 60 s).",
    )
    internal_api_token: SecretStr | None = Field(
        None,
        description="The credential callers of this service's internal API present (Authorization: Bearer). "
        "Unset: the internal API refuses every call. Required in production (32+ characters).",
    )
    guest_data_key: str = Field(
        DEV_GUEST_DATA_KEY, description="Seals guest contact on topics (gateway, providers)."
    )
    log_level: str = "INFO"
    log_json: bool = Field(
        True, description="Kept for old environments: false means LOG_FORMAT=console."
    )
    log_format: Literal["json", "console"] = Field(
        "json", description="json: one JSON object a line; console: readable lines for a terminal."
    )

    @property
    def effective_log_format(self) -> str:
        if "log_format" in self.model_fields_set:
            return self.log_format
        return "json" if self.log_json else "console"

    @property
    def session_timeout_ms(self) -> int:
        if self.kafka_session_timeout_ms is not None:
            return self.kafka_session_timeout_ms
        return 4000 if self.kafka_flavour == "tansu" else 10000

    @property
    def db_role(self) -> str:
        return f"{self.db_role_prefix}{self.db_schema}"

    @property
    def consumer_lanes(self) -> int:
        """Records handled at once: CONSUMER_CONCURRENCY, within the pool's connections that
        DB_POOL_RESERVE leaves to handlers (more lanes than that would wait for a connection, and
        starve the relay, HTTP requests and workers of theirs)."""
        return max(1, min(self.consumer_concurrency, self.db_pool_max - self.db_pool_reserve))

    @property
    def service_database_url(self) -> str:
        """The same server and database, as the service's own role."""
        parts = urlsplit(self.database_url)
        host = parts.hostname or ""
        netloc = f"{quote(self.db_role)}:{quote(self.db_password)}@{host}"
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    @model_validator(mode="after")
    def _safe_outside_dev(self) -> ServiceSettings:
        if self.environment == "dev" and self.host not in LOOPBACK:
            raise ValueError(
                f"HOST must be a loopback address in dev (got {self.host}); dev binds 127.0.0.1 only"
            )
        if self.environment == "production":
            if self.outbox_publish_copies != 1 or self.kill_point:
                raise ValueError(
                    "OUTBOX_PUBLISH_COPIES and KILL_POINT are chaos-test settings, refused in production"
                )
            if self.db_password == DEV_DB_PASSWORD:
                raise ValueError("DB_PASSWORD must be set in production")
            if self.guest_data_key == DEV_GUEST_DATA_KEY:
                raise ValueError("GUEST_DATA_KEY must be set in production")
            if self.db_provision:
                raise ValueError(
                    "DB_PROVISION must be false in production (roles come from deploy/)"
                )
            token = self.internal_api_token.get_secret_value() if self.internal_api_token else ""
            if self.serves_internal_api and len(token) < MIN_TOKEN_CHARS:
                raise ValueError(
                    f"INTERNAL_API_TOKEN must be set in production ({MIN_TOKEN_CHARS}+ characters)"
                )
        return self
