"""Kafka subscriptions: thin, they hand each message to one handler (through the shared
router, so the inbox, retries and dead letters apply to every topic alike)."""

from __future__ import annotations

import logging
from typing import Any

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
from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage

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
    router = rt.router

    async def on_reply(h: Handling) -> None:
        await handlers.apply_reply(h, deps)

    async def on_requested(h: Handling) -> None:
        await handlers.start_booking(h, deps)

    async def on_cancellation(h: Handling) -> None:
        await handlers.request_cancellation(h, deps)

    async def on_announced(h: Handling) -> None:
        await handlers.record_provider(h, deps)

    router.on(BOOKING_EVENTS, BookingRequested, on_requested)
    router.on(BOOKING_EVENTS, BookingCancellationRequested, on_cancellation)
    for model in PAYMENT_REPLY_TYPES:
        router.on(PAYMENT_REPLIES, model, on_reply)
    router.on(PROVIDER_REGISTRY, ProviderAnnounced, on_announced)

    def route_provider_topic(topic: str) -> None:
        for model in PROVIDER_REPLY_TYPES:
            router.on(topic, model, on_reply)

    pattern = getattr(rt.settings, "provider_replies_pattern", "")
    if not pattern:
        names = (*KNOWN_PROVIDERS, *getattr(rt.settings, "extra_providers", []))
        for name in names:
            route_provider_topic(provider_replies(name))
        return

    # One subscription by pattern covers every provider, present and future. Routes for a
    # topic are added when its first record arrives (the router attaches subscribers only for
    # the topics it knows at start, so this adds no second subscriber).
    sub = rt.broker.subscriber(
        pattern=pattern,
        group_id=f"{router.consumer}.provider-replies",
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        fetch_max_wait_ms=rt.settings.kafka_fetch_max_wait_ms,
        decoder=_raw_body,
    )

    async def receive(body: Any, msg: KafkaMessage) -> None:
        record = msg.raw_message
        topic = record.topic
        if topic not in router.routes:
            log.info("consuming provider replies", extra={"topic": topic})
            route_provider_topic(topic)
        await router.process(topic, msg.body, msg.headers, partition=record.partition, offset=record.offset)

    sub(receive)


async def _raw_body(msg: Any) -> bytes:
    """The bytes as they came, so that a poison body reaches the router's dead-letter path."""
    return msg.body
