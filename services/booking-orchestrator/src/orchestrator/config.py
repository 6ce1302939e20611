"""Settings of the Booking orchestrator; nothing else reads the environment."""

from pydantic import Field

from booking_shared.config import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "booking-orchestrator"
    port: int = 8001
    db_schema: str = "orchestrator"

    # Deadlines: every step has one. On expiry the same command (same command id) is sent
    # again, waiting step_timeout_s * step_backoff**(n-1) (capped) after the n-th send.
    step_timeout_s: float = Field(
        10.0, gt=0, description="Wait for an answer after the first send."
    )
    step_backoff: float = Field(2.0, ge=1.0, description="Each resend waits this much longer.")
    max_step_timeout_s: float = Field(120.0, gt=0, description="Longest wait between two sends.")
    step_max_attempts: int = Field(
        3,
        ge=1,
        description="Sends of a forward command before the saga compensates (not the capture: it is never given up).",
    )
    escalate_after_sends: int = Field(
        3,
        ge=1,
        description="Unanswered CapturePayment sends before operators are called (it is never given up).",
    )
    compensation_max_attempts: int = Field(
        8, ge=1, description="Sends of an undo command before the saga goes to COMPENSATION_FAILED."
    )
    action_window_s: float = Field(
        900.0, gt=0, description="Time the customer has for 3-D Secure (capped by hold expiry)."
    )
    route_wait_s: float = Field(
        10.0, ge=0, description="How long a booking waits for a provider of its item types."
    )
    deadline_poll_interval_s: float = Field(
        0.5, gt=0, description="How often the deadline worker looks for due deadlines."
    )

    stuck_compensating_s: float = Field(
        120.0,
        ge=0,
        description="A saga COMPENSATING for longer than this is listed as stuck "
        "(GET /internal/sagas/stuck).",
    )

    # Retention (docs/RETENTION.md): the plumbing tables' settings are in ServiceSettings.
    retention_history_s: float = Field(
        90 * 86400.0,
        ge=0,
        description="A failed or cancelled saga's history is deleted this long after its last change.",
    )
    retention_history_confirmed_s: float = Field(
        180 * 86400.0,
        ge=0,
        description="A confirmed saga's history (money kept: disputes come up to 120 days "
        "later) is deleted this long after its last change.",
    )
    retention_guest_s: float = Field(
        7 * 86400.0,
        ge=0,
        description="The sealed guest of a settled saga (no step open) is wiped this long "
        "after its last change.",
    )

    # Provider replies: every topic matching this pattern is consumed, so a new provider needs
    # no change here (the consumer sees a new topic at its next metadata refresh, <= 5 min).
    # Empty: subscribe only to the known providers plus extra_providers.
    provider_replies_pattern: str = r"^provider\.[^.]+\.replies\.v1$"
    extra_providers: list[str] = Field(default_factory=list)
