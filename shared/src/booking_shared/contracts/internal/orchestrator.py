"""The orchestrator's internal saga API (ORCHESTRATOR_URL): one saga, sagas by state, age and
provider, the stuck ones with the reason, operator actions. Times are ISO 8601 text, as the saga's history records them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from booking_shared.contracts.booking import FailureReason
from booking_shared.money import Money

ACTIONS = ("retry", "compensate", "pause", "resume")

# Why a saga is stuck, most urgent first (the order of the stuck list).
STUCK_REASONS = ("compensation_failed", "flagged", "past_deadline", "compensating_too_long")
StuckReason = Literal["compensation_failed", "flagged", "past_deadline", "compensating_too_long"]


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
    providers: list[str] = Field(
        default_factory=list,
        description="The providers of the saga's items: the one each item was routed to, or, "
        "not routed yet, those that declared its booking type.",
        examples=[["eventbrite", "opentable"]],
    )


class SagaList(BaseModel):
    sagas: list[SagaSummary]
    total: int


class StuckSaga(SagaSummary):
    """A saga that needs an operator, with the reason (the most urgent one when several hold)."""

    reason: StuckReason = Field(
        description="compensation_failed: an undo could not finish (something may still be held "
        "or charged); flagged: the saga called for operators (a capture nobody answers); "
        "past_deadline: a step's command went unanswered past its persisted deadline; "
        "compensating_too_long: COMPENSATING for longer than the limit.",
        examples=["past_deadline"],
    )
    detail: str = Field(
        description="The reason in words, with the step and its deadline when there is one.",
        examples=["HoldItem (hold:item-2) unanswered past its deadline 2026-01-01T10:00:30+00:00"],
    )
    since: str | None = Field(description="When the saga became stuck for this reason.")
    step: str | None = Field(
        None, description="The step past its deadline.", examples=["hold:item-2"]
    )
    deadline_at: str | None = Field(None, description="That step's current deadline.")
    attempts: int | None = Field(None, description="Sends of that step's command so far.")


class StuckSagaList(BaseModel):
    sagas: list[StuckSaga]
    total: int
