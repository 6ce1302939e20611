"""saga.state.v1: every state change of a saga, for dashboards and other teams."""

from __future__ import annotations

from pydantic import Field

from booking_shared.contracts.base import Message


class SagaStateChanged(Message):
    from_state: str | None = Field(examples=["HOLDING"])
    to_state: str = Field(examples=["AUTHORIZING"])
    reason: str = Field("", examples=["all items held"])
    definition_version: int = Field(1, description="The saga definition the saga started with.")
