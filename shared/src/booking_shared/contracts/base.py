"""Base class of every message, and the registry that maps a type name to its model."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

REGISTRY: dict[str, type[Message]] = {}


class Message(BaseModel):
    """A message body. Its type name is the class name; its schema version a class constant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    SCHEMA_VERSION: ClassVar[int] = 1

    booking_id: str = Field(
        description="The booking (saga) this message belongs to; also the Kafka key.",
        examples=["bk_01JAXQ7D6T2ZK1"],
        min_length=1,
        max_length=64,
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__name__ not in ("Command", "Reply"):
            REGISTRY[cls.__name__] = cls

    @classmethod
    def type_name(cls) -> str:
        return cls.__name__


class Command(Message):
    """A request for one step; the command id makes it idempotent downstream."""

    command_id: uuid.UUID = Field(
        description="Idempotency key: a resend after a deadline carries the same command id.",
        examples=["3b0f8f52-8f0e-4d0e-9f87-5d0e1cfb2a11"],
    )


class Reply(Message):
    """The answer to one command."""

    command_id: uuid.UUID = Field(
        description="The command this answers.",
        examples=["3b0f8f52-8f0e-4d0e-9f87-5d0e1cfb2a11"],
    )


def model_for(type_name: str) -> type[Message] | None:
    return REGISTRY.get(type_name)
