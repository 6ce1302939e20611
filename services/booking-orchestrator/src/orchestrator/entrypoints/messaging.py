"""Kafka subscription: thin, it hands each message to one handler through the shared router
(inbox, retries and dead letters apply to every topic alike)."""

from __future__ import annotations

import logging
import re
from contextlib import AbstractContextManager

from opentelemetry.trace import Span

from booking_shared import tracing
from booking_shared.contracts import (
    BookingCancellationRequested,
    BookingRequested,
    ProviderAnnounced,
    SagaStateChanged,
)
from booking_shared.contracts.catalogue import (
    BOOKING_OUTCOMES,
    PAYMENT_COMMAND_TYPES,
    PAYMENT_REPLY_TYPES,
    PROVIDER_COMMANDS,
    PROVIDER_REPLIES,
)
from booking_shared.contracts.topics import (
    BOOKING_EVENTS,
    KNOWN_PROVIDERS,
    PAYMENT_COMMANDS,
    PAYMENT_REPLIES,
    PROVIDER_REGISTRY,
    SAGA_STATE,
    provider_commands,
    provider_replies,
)
from booking_shared.messaging import Handling
from booking_shared.service import Runtime
from orchestrator import handlers
from orchestrator.handlers import Deps

log = logging.getLogger(__name__)


def saga_span(name: str, h: Handling) -> AbstractContextManager[Span | None]:
    """One span per message the saga applies (a step's reply, the request, a cancellation);
    the commands it sends and its state changes show inside it (handlers._emit)."""
    return tracing.span(
        name,
        {
            "booking.id": h.message.booking_id,
            "saga.input": h.envelope.type,
            "saga.command_id": _command_id(h),
        },
    )


def _command_id(h: Handling) -> str | None:
    command_id = getattr(h.message, "command_id", None)
    return str(command_id) if command_id is not None else None


def subscribe(rt: Runtime, deps: Deps) -> None:
    """Route every topic the orchestrator reads through the shared router (inbox, retries, dead
    letters): the fixed ones, and every provider's replies topic by pattern (present and future),
    all on the router's one consumer."""
    router = rt.router

    async def on_reply(h: Handling) -> None:
        with saga_span(f"saga reply {h.envelope.type}", h):
            await handlers.apply_reply(h, deps)

    async def on_requested(h: Handling) -> None:
        with saga_span("saga start", h):
            await handlers.start_booking(h, deps)

    async def on_cancellation(h: Handling) -> None:
        with saga_span("saga cancel", h):
            await handlers.request_cancellation(h, deps)

    async def on_announced(h: Handling) -> None:
        await handlers.record_provider(h, deps)

    router.on(BOOKING_EVENTS, BookingRequested, on_requested)
    router.on(BOOKING_EVENTS, BookingCancellationRequested, on_cancellation)
    router.on(PROVIDER_REGISTRY, ProviderAnnounced, on_announced)
    for model in PAYMENT_REPLY_TYPES:
        router.on(PAYMENT_REPLIES, model, on_reply)

    provider_pattern = getattr(rt.settings, "provider_replies_pattern", "")
    if not provider_pattern:
        names = (*KNOWN_PROVIDERS, *getattr(rt.settings, "extra_providers", []))
        provider_pattern = "^(" + "|".join(re.escape(provider_replies(n)) for n in names) + ")$"
    for model in PROVIDER_REPLIES:
        router.on_pattern(provider_pattern, model, on_reply)

    # What the saga sends (through its outbox): FastStream documents it from these.
    router.emits(BOOKING_EVENTS, *BOOKING_OUTCOMES)
    router.emits(SAGA_STATE, SagaStateChanged)
    router.emits(PAYMENT_COMMANDS, *PAYMENT_COMMAND_TYPES)
    for name in (*KNOWN_PROVIDERS, *getattr(rt.settings, "extra_providers", [])):
        router.emits(provider_commands(name), *PROVIDER_COMMANDS)
