"""Kafka plumbing: the broker factory, topic creation, and a message router that runs each
handler exactly once per message (inbox), retries it, and dead-letters what cannot be handled."""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError
from tenacity import AsyncRetrying, RetryCallState, RetryError, stop_after_attempt, wait_exponential

from booking_shared import inbox, outbox, tracing
from booking_shared.config import ServiceSettings
from booking_shared.contracts.base import Message, model_for
from booking_shared.contracts.envelope import Envelope
from booking_shared.contracts.topics import dlq
from booking_shared.db import Connection
from booking_shared.kafka_admin import ensure_topics
from booking_shared.logs import bind_message
from booking_shared.metrics import MESSAGES_DEAD, MESSAGES_HANDLED
from booking_shared.pacing import FetchPacer

log = logging.getLogger(__name__)
M = TypeVar("M", bound=Message)

__all__ = ["Handling", "MessageRouter", "ensure_topics", "make_broker"]


def make_broker(settings: ServiceSettings) -> KafkaBroker:
    """FastStream's KafkaBroker from settings. Tansu fails InitProducerId, so idempotence
    is on only against Apache Kafka. With tracing on, FastStream's telemetry middleware opens
    each message's consumer span from the traceparent in its headers. No FastDepends
    (`apply_types=False`): the one subscriber takes the framework's message as it is (see
    MessageRouter.attach), so per-message argument resolution would be pure cost."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        apply_types=False,
        enable_idempotence=settings.kafka_flavour == "kafka",
        client_id=settings.service_name,
        logger=None,
        middlewares=tracing.broker_middlewares(),
    )


@dataclass
class Handling:
    """What a handler gets: the open transaction, the message and a way to emit more."""

    conn: Connection
    envelope: Envelope
    message: Message
    topic: str
    settings: ServiceSettings

    def message_as(self, kind: type[M]) -> M:
        """The message as the type the handler was routed for; another type is a routing bug."""
        if not isinstance(self.message, kind):
            raise TypeError(f"expected {kind.__name__}, got {type(self.message).__name__}")
        return self.message

    async def publish(self, topic: str, message: Message, key: str | None = None) -> Envelope:
        """Emit through the outbox, in this transaction, caused by the message being handled."""
        return await outbox.enqueue(
            self.conn,
            topic,
            message,
            producer=self.settings.service_name,
            schema=self.settings.db_schema,
            cause=self.envelope,
            key=key,
        )


Handler = Callable[[Handling], Awaitable[None]]


@dataclass
class MessageRouter:
    """Routes (topic, type) to handlers. One consumer group per service."""

    settings: ServiceSettings
    pool: asyncpg.Pool
    consumer: str
    routes: dict[str, dict[str, Handler]] = field(default_factory=dict)
    patterns: dict[str, dict[str, Handler]] = field(default_factory=dict)
    on_commit: Callable[[], None] | None = None
    pacer: FetchPacer | None = None

    def on(self, topic: str, model: type[Message], handler: Handler) -> None:
        self.routes.setdefault(topic, {})[model.type_name()] = handler

    def on_pattern(self, pattern: str, model: type[Message], handler: Handler) -> None:
        """Route every topic matching a regular expression, present or future (e.g. each
        provider's replies topic): a new topic is picked up at the consumer's next metadata
        refresh, with no change to the subscriber."""
        self.patterns.setdefault(pattern, {})[model.type_name()] = handler

    def _resolve(self, topic: str) -> bool:
        if topic in self.routes:
            return True
        for pattern, handlers in self.patterns.items():
            if re.match(pattern, topic):
                self.routes[topic] = dict(handlers)
                log.info("consuming %s (matches %s)", topic, pattern)
                return True
        return False

    def attach(self, broker: KafkaBroker) -> None:
        """One subscriber for every routed topic: each extra consumer in a group costs a
        rebalance (seconds on Tansu), so a service joins its group once."""
        if not self.routes and not self.patterns:
            return
        options: dict[str, Any] = {
            "group_id": self.consumer,
            "auto_offset_reset": "earliest",
            "ack_policy": AckPolicy.NACK_ON_ERROR,
            "fetch_max_wait_ms": self.pacer.wait_ms
            if self.pacer
            else self.settings.kafka_fetch_max_wait_ms,
            "decoder": _the_message,
        }
        if self.settings.kafka_group_instance_id:
            options["group_instance_id"] = self.settings.kafka_group_instance_id
        if self.patterns:
            fixed = [f"^{re.escape(t)}$" for t in self.routes]
            sub = broker.subscriber(
                pattern="|".join(fixed + [f"(?:{p})" for p in self.patterns]), **options
            )
        else:
            sub = broker.subscriber(*self.routes, **options)

        if self.pacer is not None:
            self.pacer.watch(lambda: getattr(sub, "consumer", None))

        async def receive(msg: KafkaMessage) -> None:
            if self.pacer is not None:
                self.pacer.busy()
            record = msg.raw_message
            assert not isinstance(record, tuple)  # a batch comes only to a batch subscriber
            if not self._resolve(record.topic):
                return
            await self.process(
                record.topic,
                msg.body,
                msg.headers,
                partition=record.partition,
                offset=record.offset,
            )

        sub(receive)

    async def process(
        self,
        topic: str,
        body: bytes,
        headers: Any,
        *,
        partition: int | None = None,
        offset: int | None = None,
    ) -> str:
        """Handle one record; returns what happened (handled, duplicate, ignored, dead)."""
        raw_headers = _header_pairs(headers)
        bind_message(raw_headers)
        try:
            env = Envelope.from_headers(raw_headers)
        except ValidationError as exc:
            await self._dead_letter(
                topic, body, raw_headers, None, f"bad envelope: {exc}", 0, partition, offset
            )
            return "dead"
        tracing.annotate({"booking.id": env.correlation_id, "messaging.message.type": env.type})
        handler = self.routes.get(topic, {}).get(env.type)
        if handler is None:
            log.debug("no handler for %s on %s; skipped", env.type, topic)
            return "ignored"
        model = model_for(env.type)
        try:
            if model is None:
                raise ValueError(f"unknown message type {env.type}")
            message = model.model_validate_json(body)
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(
                topic, body, raw_headers, env, f"invalid {env.type}: {exc}", 0, partition, offset
            )
            return "dead"

        attempts = self.settings.consumer_max_attempts
        last_error = ""

        def failed(state: RetryCallState) -> None:
            nonlocal last_error
            exc = state.outcome.exception() if state.outcome else None
            last_error = "".join(traceback.format_exception_only(exc)).strip()
            log.warning(
                "handler failed",
                extra={"type": env.type, "attempt": state.attempt_number, "error": last_error},
                exc_info=exc if state.attempt_number == attempts else None,
            )

        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(attempts),
                wait=wait_exponential(multiplier=self.settings.consumer_retry_backoff_ms / 1000),
                after=failed,
            ):
                with attempt:
                    async with self.pool.acquire() as conn, conn.transaction():
                        if not await inbox.claim(conn, self.consumer, env, topic):
                            MESSAGES_HANDLED.labels(self.consumer, env.type, "duplicate").inc()
                            return "duplicate"
                        await handler(Handling(conn, env, message, topic, self.settings))
                    MESSAGES_HANDLED.labels(self.consumer, env.type, "handled").inc()
                    if self.on_commit:
                        self.on_commit()
                    return "handled"
        except RetryError:
            pass
        await self._dead_letter(
            topic, body, raw_headers, env, last_error, attempts, partition, offset
        )
        return "dead"

    async def _dead_letter(
        self,
        topic: str,
        body: bytes,
        headers: list[tuple[str, bytes]],
        env: Envelope | None,
        error: str,
        attempts: int,
        partition: int | None,
        offset: int | None,
    ) -> None:
        """Park the message in <topic>.dlq (through the outbox) and mark it handled, so the
        partition keeps flowing. If the database is down this raises, and the broker redelivers."""
        log.error(
            "message dead-lettered", extra={"topic": topic, "error": error, "attempts": attempts}
        )
        MESSAGES_DEAD.labels(self.consumer, env.type if env else "unknown").inc()
        dlq_headers = [
            (k, _pg_text(v.decode(errors="replace")))
            for k, v in headers
            if not k.startswith("dlq_")
        ]
        dlq_headers += [
            ("dlq_error", _pg_text(error[:2000])),
            ("dlq_attempts", str(attempts)),
            ("dlq_source_topic", topic),
            ("dlq_consumer", self.consumer),
            ("dlq_partition", str(partition)),
            ("dlq_offset", str(offset)),
        ]
        async with self.pool.acquire() as conn, conn.transaction():
            if env is not None and not await inbox.claim(conn, self.consumer, env, topic):
                return
            await conn.execute(
                'INSERT INTO dead_letters (consumer, topic, partition, "offset", message_id, message_type, attempts, error)'
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                self.consumer,
                topic,
                partition,
                offset,
                str(env.message_id) if env else None,
                env.type if env else None,
                attempts,
                _pg_text(error[:4000]),
            )
            await outbox.enqueue_raw(
                conn,
                dlq(topic),
                _pg_text(env.correlation_id) if env else None,
                dlq_headers,
                _pg_text(body.decode(errors="replace")),
                schema=self.settings.db_schema,
            )
        if self.on_commit:
            self.on_commit()


def _pg_text(text: str) -> str:
    """Postgres text and jsonb refuse NUL: a poison record carrying one must still be parked
    (else its dead-lettering fails, the broker redelivers it, and its partition stops for good)."""
    return text.replace("\x00", "\ufffd")


async def _the_message(msg: Any) -> Any:
    """Hand the handler the framework's message itself (its bytes as they came, headers and
    record), so a poison body reaches the DLQ path instead of failing inside the framework's
    JSON decoding."""
    return msg


def _header_pairs(headers: Any) -> list[tuple[str, bytes]]:
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, dict) else headers
    return [
        (k, bytes(v) if isinstance(v, bytes | bytearray) else str(v).encode()) for k, v in items
    ]
