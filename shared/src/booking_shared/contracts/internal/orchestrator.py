"""The orchestrator's internal saga API (ORCHESTRATOR_URL): one saga, sagas by state and age,
operator actions. Times are ISO 8601 text, as the saga's history records them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from booking_shared.contracts.booking import FailureReason
from booking_shared.money import Money

ACTIONS = ("retry", "compensate", "pause", "resume")


class ActionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str = Field(
        min_length=1,
        max_length=100,
        description="Who acts (an operator's id).",
        examples=["ops:alice"],
    )
    reason: str = Field(
        "",
        max_length=500,
        description="Why; kept in the saga history.",
        examples=["partner back up"],
    )


class SagaItem(BaseModel):
    item_id: str
    provider: str | None
    booking_type: str = Field(examples=["restaurant"])
    status: str = Field(examples=["HELD"])
    hold_id: str | None
    hold_expires_at: str | None
    confirmation_code: str | None
    price: Money | None
    refund: Money | None
    fee: Money | None
    failure: FailureReason | None


class SagaPayment(BaseModel):
    payment_intent_id: str | None
    authorized: Money | None
    captured: Money | None
    refunded: Money | None
    capture_before: str | None
    client_secret: str | None = Field(
        description="Only while ACTION_REQUIRED (3-D Secure in the browser)."
    )


class SagaStep(BaseModel):
    name: str
    status: str
    command_id: str
    attempts: int
    deadline_at: str | None


class SagaHistoryEntry(BaseModel):
    at: str | None
    direction: str = Field(examples=["in"], description="in, out or action.")
    topic: str | None
    type: str
    message_id: str | None
    summary: str


class SagaView(BaseModel):
    """A saga with its items, payment, steps and history."""

    booking_id: str
    user_id: str
    state: str = Field(examples=["CONFIRMED"])
    mode: str
    definition_version: int
    paused: bool
    attention: str | None
    attention_at: str | None
    total: Money | None
    items: list[SagaItem]
    payment: SagaPayment
    failure_reasons: list[FailureReason]
    steps: list[SagaStep]
    history: list[SagaHistoryEntry]
    created_at: str | None
    updated_at: str | None


class SagaSummary(BaseModel):
    booking_id: str
    user_id: str
    state: str
    mode: str
    paused: bool
    definition_version: int
    total: Money
    created_at: str | None
    updated_at: str | None
    state_changed_at: str | None
    attention: str | None
    attention_at: str | None


class SagaList(BaseModel):
    sagas: list[SagaSummary]
    total: int
