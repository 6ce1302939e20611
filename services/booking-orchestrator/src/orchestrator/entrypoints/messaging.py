"""Kafka subscription: thin, it hands each message to one handler through the shared router
(inbox, retries and dead letters apply to every topic alike)."""

from __future__ import annotations

import logging
import re
from typing import Any

from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage

from booking_shared.contracts import (
    BookingCancellationRequested,
    BookingRequested,
    ItemCancelled,
    ItemConfirmed,
    ItemHeld,
    ItemHoldLapsed,
    ItemRejected,
    PaymentActionRequired,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PaymentFailed,
    PaymentRefunded,
    PaymentVoided,
    ProviderAnnounced,
)
from booking_shared.contracts.topics import (
    BOOKING_EVENTS,
    KNOWN_PROVIDERS,
    PAYMENT_REPLIES,
    PROVIDER_REGISTRY,
    provider_replies,
)
from booking_shared.messaging import Handling
from booking_shared.service import Runtime
from orchestrator import handlers
from orchestrator.handlers import Deps

log = logging.getLogger(__name__)

PAYMENT_REPLY_TYPES = (
    PaymentAuthorized,
    PaymentDeclined,
    PaymentActionRequired,
    PaymentCaptured,
    PaymentVoided,
    PaymentRefunded,
    PaymentFailed,
)
PROVIDER_REPLY_TYPES = (ItemHeld, ItemRejected, ItemConfirmed, ItemCancelled, ItemHoldLapsed)


def subscribe(rt: Runtime, deps: Deps) -> None:
    """One consumer, subscribed by one pattern to every topic the orchestrator reads: the fixed
    ones and every provider's replies topic (present and future). Each record goes through the
    shared router's `process` (inbox, retries, dead letters). Routes for a topic are added to the
    router when its first record arrives, so the router attaches no per-topic consumer of its own
    (each extra consumer in a group costs a rebalance: seconds on Tansu)."""
    router = rt.router

    async def on_reply(h: Handling) -> None:
        await handlers.apply_reply(h, deps)

    async def on_requested(h: Handling) -> None:
        await handlers.start_booking(h, deps)

    async def on_cancellation(h: Handling) -> None:
        await handlers.request_cancellation(h, deps)

    async def on_announced(h: Handling) -> None:
        await handlers.record_provider(h, deps)

    fixed: dict[str, list[tuple[type, Any]]] = {
        BOOKING_EVENTS: [(BookingRequested, on_requested), (BookingCancellationRequested, on_cancellation)],
        PAYMENT_REPLIES: [(m, on_reply) for m in PAYMENT_REPLY_TYPES],
        PROVIDER_REGISTRY: [(ProviderAnnounced, on_announced)],
    }
    provider_pattern = getattr(rt.settings, "provider_replies_pattern", "")
    if provider_pattern:
        provider_re = re.compile(provider_pattern)
    else:
        names = (*KNOWN_PROVIDERS, *getattr(rt.settings, "extra_providers", []))
        provider_re = re.compile("^(" + "|".join(re.escape(provider_replies(n)) for n in names) + ")$")
    fixed_re = "^(" + "|".join(re.escape(t) for t in fixed) + ")$"
    pattern = f"{fixed_re}|{provider_re.pattern}"

    def route(topic: str) -> bool:
        routes = fixed.get(topic)
        if routes is None and provider_re.match(topic):
            routes = [(m, on_reply) for m in PROVIDER_REPLY_TYPES]
            log.info("consuming provider replies", extra={"topic": topic})
        for model, handler in routes or []:
            router.on(topic, model, handler)
        return routes is not None

    sub = rt.broker.subscriber(
        pattern=pattern,
        group_id=router.consumer,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        fetch_max_wait_ms=rt.settings.kafka_fetch_max_wait_ms,
        decoder=_raw_body,
    )

    async def receive(body: Any, msg: KafkaMessage) -> None:
        record = msg.raw_message
        topic = record.topic
        if topic not in router.routes and not route(topic):
            return
        await router.process(topic, msg.body, msg.headers, partition=record.partition, offset=record.offset)

    sub(receive)


async def _raw_body(msg: Any) -> bytes:
    """The bytes as they came, so that a poison body reaches the router's dead-letter path."""
    return msg.body
