"""The envelope every message carries, as Kafka headers (CloudEvents' binary mode).

The Kafka value is the message's JSON; the headers carry the envelope; the Kafka
key is the booking id so that one booking's messages stay in order.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from booking_shared.tracing import current_traceparent

HEADER_FIELDS = (
    "message_id",
    "type",
    "schema_version",
    "correlation_id",
    "causation_id",
    "occurred_at",
    "producer",
    "traceparent",
)


def new_traceparent(parent: str | None = None) -> str:
    """A W3C traceparent: same trace as the parent when there is one, a new span id."""
    trace_id = None
    if parent:
        parts = parent.split("-")
        if len(parts) == 4 and len(parts[1]) == 32:
            trace_id = parts[1]
    return f"00-{trace_id or secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


class Envelope(BaseModel):
    """Metadata of one message; travels as Kafka headers."""

    model_config = ConfigDict(frozen=True)

    message_id: uuid.UUID = Field(
        description="Unique id of this message.", examples=["6f1c2b1e-6a43-4f7e-9d5c-0b8f2a7b9e01"]
    )
    type: str = Field(
        description="The message type, e.g. BookingRequested.", examples=["BookingRequested"]
    )
    schema_version: int = Field(1, description="Version of the type's schema.", examples=[1])
    correlation_id: str = Field(
        description="The booking id this message belongs to.", examples=["bk_01J9Z3"]
    )
    causation_id: uuid.UUID | None = Field(
        None, description="message_id of the message that caused this one."
    )
    occurred_at: datetime = Field(description="When the fact happened (UTC).")
    producer: str = Field(description="The service that produced it.", examples=["gateway"])
    traceparent: str = Field(description="W3C trace context of the producing span.")

    @classmethod
    def new(
        cls,
        type_: str,
        *,
        correlation_id: str,
        producer: str,
        schema_version: int = 1,
        cause: Envelope | None = None,
        message_id: uuid.UUID | None = None,
    ) -> Envelope:
        return cls(
            message_id=message_id or uuid.uuid4(),
            type=type_,
            schema_version=schema_version,
            correlation_id=correlation_id,
            causation_id=cause.message_id if cause else None,
            occurred_at=datetime.now(UTC),
            producer=producer,
            # The current span's context (tracing on: the producer span), else a new span id in
            # the cause's trace, so that one booking's messages share a trace id either way.
            traceparent=current_traceparent()
            or new_traceparent(cause.traceparent if cause else None),
        )

    def to_headers(self) -> list[tuple[str, bytes]]:
        out = []
        for name in HEADER_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            text = value.isoformat() if isinstance(value, datetime) else str(value)
            out.append((name, text.encode()))
        out.append(("content-type", b"application/json"))
        return out

    @classmethod
    def from_headers(cls, headers: Any) -> Envelope:
        """Read from Kafka headers: a list of (name, bytes) pairs or a dict."""
        items = headers.items() if isinstance(headers, dict) else headers
        raw: dict[str, str] = {}
        for name, value in items:
            if name in HEADER_FIELDS:
                raw[name] = value.decode() if isinstance(value, bytes | bytearray) else str(value)
        return cls.model_validate(raw)
