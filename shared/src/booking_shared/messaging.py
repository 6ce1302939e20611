"""Kafka plumbing: the broker factory, topic creation, and a message router that runs each
handler exactly once per message (inbox), retries it, and dead-letters what cannot be handled.

The router registers on FastStream's broker what FastStream documents: one typed handler per
message type the service consumes, and a publisher per topic it sends to, so the service's
AsyncAPI document (`asyncapi_document`, served at GET /asyncapi.json) is FastStream's own."""

from __future__ import annotations

import asyncio
import logging
import re
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, Union

import asyncpg
from aiokafka import ConsumerRebalanceListener, TopicPartition
from faststream import AckPolicy, BaseMiddleware
from faststream.exceptions import SubscriberNotFound
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.specification import AsyncAPI
from pydantic import ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from booking_shared import inbox, outbox, tracing
from booking_shared.config import ServiceSettings
from booking_shared.contracts.base import Message, model_for
from booking_shared.contracts.catalogue import TOPICS
from booking_shared.contracts.envelope import Envelope
from booking_shared.contracts.topics import dlq
from booking_shared.db import Connection
from booking_shared.kafka_admin import ensure_topics
from booking_shared.lanes import Lanes, OffsetBook, Stretch
from booking_shared.logs import bind_message
from booking_shared.metrics import CONSUMER_IN_FLIGHT, MESSAGES_DEAD, MESSAGES_HANDLED
from booking_shared.pacing import FetchPacer

log = logging.getLogger(__name__)
# The router's own retries (a record the database refused, an offset commit the broker did):
# while either is away they repeat many times a second, so logs.RepeatLimit lets one through
# per window, as it does the broker client's.
retries_log = logging.getLogger(f"{__name__}.retries")
_HANDLE_ATTRIBUTES = {"messaging.system": "kafka", "messaging.operation.type": "process"}
M = TypeVar("M", bound=Message)

__all__ = ["Handling", "MessageRouter", "asyncapi_document", "ensure_topics", "make_broker"]


def make_broker(settings: ServiceSettings) -> KafkaBroker:
    """FastStream's KafkaBroker from settings. Tansu fails InitProducerId, so idempotence
    is on only against Apache Kafka. With tracing on, FastStream's telemetry middleware opens
    each message's consumer span from the traceparent in its headers. No FastDepends
    (`apply_types=False`): the router's decoder already hands each typed handler its model (see
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
    sends: dict[str, tuple[type[Message], ...]] = field(default_factory=dict)
    on_commit: Callable[[], None] | None = None
    pacer: FetchPacer | None = None
    lanes: Lanes = field(init=False)
    offsets: OffsetBook[TopicPartition] = field(default_factory=OffsetBook, init=False)
    _subscriber: Any = field(default=None, init=False)
    _dirty: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _committer: asyncio.Task[None] | None = field(default=None, init=False)
    _closing: bool = field(default=False, init=False)
    _stopped: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    def __post_init__(self) -> None:
        gauge = CONSUMER_IN_FLIGHT.labels(self.consumer)
        self.lanes = Lanes(self.settings.consumer_lanes, on_change=gauge.set)
        if self.settings.consumer_lanes < self.settings.consumer_concurrency:
            log.warning(
                "fewer records handled at once than CONSUMER_CONCURRENCY asks: each holds a "
                "pooled connection, and DB_POOL_RESERVE of DB_POOL_MAX are kept for the rest",
                extra={
                    "consumer_concurrency": self.settings.consumer_concurrency,
                    "db_pool_max": self.settings.db_pool_max,
                    "db_pool_reserve": self.settings.db_pool_reserve,
                    "lanes": self.settings.consumer_lanes,
                },
            )

    def on(self, topic: str, model: type[Message], handler: Handler) -> None:
        self.routes.setdefault(topic, {})[model.type_name()] = handler

    def on_pattern(self, pattern: str, model: type[Message], handler: Handler) -> None:
        """Route every topic matching a regular expression, present or future (e.g. each
        provider's replies topic): a new topic is picked up at the consumer's next metadata
        refresh, with no change to the subscriber."""
        self.patterns.setdefault(pattern, {})[model.type_name()] = handler

    def emits(self, topic: str, *models: type[Message]) -> None:
        """Declare what the service sends on a topic. The outbox relay publishes the rows; the
        declaration becomes a FastStream publisher, which is what the AsyncAPI document shows
        (tests/e2e/test_asyncapi_e2e.py holds each service's outbox to its declarations)."""
        self.sends[topic] = tuple(dict.fromkeys((*self.sends.get(topic, ()), *models)))

    def _resolve(self, topic: str) -> bool:
        if topic in self.routes:
            return True
        for pattern, handlers in self.patterns.items():
            if re.match(pattern, topic):
                self.routes[topic] = dict(handlers)
                log.info("consuming %s (matches %s)", topic, pattern)
                return True
        return False

    def consumed(self) -> list[type[Message]]:
        """Every message type the service handles, on any topic or pattern."""
        names = {n for table in (*self.routes.values(), *self.patterns.values()) for n in table}
        return [m for n in sorted(names) if (m := model_for(n)) is not None]

    def attach(self, broker: KafkaBroker) -> None:
        """One subscriber for every routed topic (each extra consumer in a group costs a
        rebalance, seconds on Tansu, so a service joins its group once), with one typed handler
        per message type, as FastStream intends: the decoder hands each handler its message as
        the contract's model. A record no typed handler takes (a type not routed on its topic, a
        bad envelope or body) still reaches `process` (see _unrouted), which ignores it or
        dead-letters it. Either way the record goes to `dispatch`, which handles it in its
        key's lane. Then one publisher per topic the service sends to."""
        for topic, models in self.sends.items():
            broker.publisher(
                topic,
                schema=models[0] if len(models) == 1 else Union[models],  # noqa: UP007
                title=f"{topic}:send",
                description=_topic_description(topic),
            )
        if not self.routes and not self.patterns:
            return
        options: dict[str, Any] = {
            "group_id": self.consumer,
            "auto_offset_reset": "earliest",
            # Offsets are committed by the router, behind what its lanes finished (see dispatch).
            "ack_policy": AckPolicy.MANUAL,
            "fetch_max_wait_ms": self.pacer.wait_ms
            if self.pacer
            else self.settings.kafka_fetch_max_wait_ms,
            "decoder": self._decode,
            "session_timeout_ms": self.settings.session_timeout_ms,
            "heartbeat_interval_ms": self.settings.session_timeout_ms // 4,
            "rebalance_timeout_ms": 10_000,  # a member's time to rejoin, apart from the session
        }
        if self.settings.kafka_group_instance_id:
            options["group_instance_id"] = self.settings.kafka_group_instance_id
        options["listener"] = _Rebalance(self)
        if self.patterns:
            fixed = [f"^{re.escape(t)}$" for t in self.routes]
            sub = broker.subscriber(
                pattern="|".join(fixed + [f"(?:{p})" for p in self.patterns]), **options
            )
        else:
            sub = broker.subscriber(*self.routes, **options)
        self._subscriber = sub

        if self.pacer is not None:
            self.pacer.watch(lambda: getattr(sub, "consumer", None))

        for model in self.consumed():
            sub(filter=_decoded_as(model))(self._typed_handler(model, broker))
        broker.add_middleware(_unrouted(self))  # the service's only subscriber is this one

    def _typed_handler(
        self, model: type[Message], broker: KafkaBroker
    ) -> Callable[[Message], Awaitable[None]]:
        """FastStream's handler for one message type: `async def <Type>(message: <Type>)`."""

        async def handle(message: Message) -> None:
            await self.dispatch(broker.context.get_local("message").raw_message, message)

        handle.__name__ = handle.__qualname__ = model.__name__
        handle.__annotations__ = {"message": model, "return": None}
        handle.__doc__ = (model.__doc__ or model.__name__).strip().splitlines()[0]
        return handle

    async def _decode(self, msg: KafkaMessage) -> Message | KafkaMessage:
        """The record's body as the model its `type` header names, when the service routes that
        type on the record's topic and the body is valid; else the framework's message as it
        is, for `process` to ignore or dead-letter."""
        record = msg.raw_message
        assert not isinstance(record, tuple)  # a batch comes only to a batch subscriber
        type_name = msg.headers.get("type")
        if not self._resolve(record.topic) or type_name not in self.routes[record.topic]:
            return msg
        model = model_for(type_name)
        if model is None:
            return msg
        try:
            return model.model_validate_json(msg.body)
        except ValidationError:
            return msg

    async def dispatch(self, record: Any, message: Message | None = None) -> None:
        """Hand a consumed record (aiokafka's) to the lane of its key: the booking's earlier
        records first, other bookings' at the same time, at most `settings.consumer_lanes`
        records admitted at once (the consumer stops reading while they are). Returns once
        admitted; the record's offset is committed once it and every record before it on its
        partition are done (so a crash reads again at most what was in flight)."""
        if self._closing:
            # Stopping: this record is not handled (nor committed; the next consumer reads it).
            # Returning only once the router has stopped keeps the consumer from reading on.
            await self._stopped.wait()
            return
        stretch = self.offsets.read(TopicPartition(record.topic, record.partition), record.offset)
        key = record.key if record.key is not None else (record.topic, record.partition)
        # Outside FastStream's consumer span (a record no typed handler took reaches here after
        # it closed), the handling continues the producer's trace from the record's header.
        parent = None
        if tracing.enabled() and tracing.current_traceparent() is None:
            parent = dict(_header_pairs(record.headers)).get("traceparent", b"").decode() or None
        if not await self.lanes.submit(key, lambda: self._finish(record, message, stretch, parent)):
            await self._stopped.wait()  # the router stopped while this waited for room

    async def _finish(
        self, record: Any, message: Message | None, stretch: Stretch, parent: str | None = None
    ) -> None:
        """Handle the record until it is handled: `process` already retries the handler and
        dead-letters what fails; what still raises (the database is down) is tried again
        here, 0.2 s doubling up to 5 s, for as long as it takes, holding its key and its offset
        back, as the broker's redelivery would."""
        # FastStream's consumer span ended when the record was admitted; this one, its child,
        # spans the handling (the booking id and type go on it, and what the handler sends).
        with tracing.span(
            f"{record.topic} handle",
            _HANDLE_ATTRIBUTES | {"messaging.destination.name": record.topic},
            parent=parent,
        ):
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(Exception),
                wait=wait_exponential(multiplier=0.2, max=5.0),
                before_sleep=_retrying("record not handled; will try again"),
            ):
                with attempt:
                    await self.receive(record, message)
        stretch.done(record.offset)
        self._dirty.set()

    def started(self) -> None:
        """The consumer holds partitions: start committing what the lanes finish."""
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_loop(), name="offset-commit")

    async def _commit_loop(self) -> None:
        """Commit what the lanes finished, at most every kafka_commit_interval_ms: one commit
        covers every record finished since the last (a commit per record would be a broker
        round trip each)."""
        interval = self.settings.kafka_commit_interval_ms / 1000
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            if not await self.commit():
                self._dirty.set()
                await asyncio.sleep(1.0)
                continue
            await asyncio.sleep(interval)

    async def commit(self) -> bool:
        """Commit the partitions' points that moved; False if the consumer could not (none
        now, a rebalance under way, the broker away): what is not committed is read again."""
        consumer = getattr(self._subscriber, "consumer", None)
        if consumer is None:
            return False
        try:
            points = self.offsets.due(consumer.assignment())
            # Never past what the broker said the log holds: a point beyond it is stale (a
            # broker that lost its log answers with a shorter one).
            for tp, point in list(points.items()):
                end = consumer.highwater(tp)
                if end is not None and point > end:
                    self.offsets.drop([tp])
                    del points[tp]
            if points:
                await consumer.commit(points)
                self.offsets.committed(points)
        except Exception as exc:
            retries_log.warning("offset commit failed; will try again", extra={"error": repr(exc)})
            return False
        return True

    async def stop(self, timeout: float) -> None:
        """Stop admitting records, let those admitted finish (up to `timeout` s), commit them;
        what is still running then is cancelled and read again by the next consumer."""
        self._closing = True
        if not await self.lanes.drain(timeout):
            log.warning("stopping with records still in flight", extra={"n": len(self.lanes)})
        await self.commit()
        await self.lanes.cancel()
        if self._committer is not None:
            self._committer.cancel()
        # Records that reached dispatch since are let go unhandled, so that FastStream's own
        # stop, which waits for them (up to its graceful_timeout, 15 s), returns at once.
        self._stopped.set()

    async def receive(self, record: Any, message: Message | None = None) -> str:
        """One consumed record (aiokafka's), with its body already decoded if it could be."""
        if self.pacer is not None:
            self.pacer.busy()
        if not self._resolve(record.topic):
            return "ignored"
        return await self.process(
            record.topic,
            record.value,
            record.headers,
            partition=record.partition,
            offset=record.offset,
            message=message,
        )

    async def process(
        self,
        topic: str,
        body: bytes,
        headers: Any,
        *,
        partition: int | None = None,
        offset: int | None = None,
        message: Message | None = None,
    ) -> str:
        """Handle one record; returns what happened (handled, duplicate, ignored, dead).
        `message` is its body already decoded (by the subscriber's decoder), if it was."""
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
            if message is None or type(message) is not model:
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


class _Rebalance(ConsumerRebalanceListener):
    """Partitions taken away or given anew are read from the group's committed offset: what the
    offset book knew of them is dropped, never committed (see OffsetBook.drop). This holds for
    a consumer made again after a broker loss too: its first assignment drops the lost log's
    offsets. Once the consumer holds partitions, the router commits."""

    def __init__(self, router: MessageRouter) -> None:
        self.router = router

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.router.offsets.drop(revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.router.offsets.drop(assigned)
        self.router.started()


def _retrying(what: str) -> Callable[[RetryCallState], None]:
    def warn(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        retries_log.warning(what, extra={"error": repr(exc), "attempt": state.attempt_number})

    return warn


def _pg_text(text: str) -> str:
    """Postgres text and jsonb refuse NUL: a poison record carrying one must still be parked
    (else its dead-lettering fails, the broker redelivers it, and its partition stops for good)."""
    return text.replace("\x00", "\ufffd")


def _decoded_as(model: type[Message]) -> Callable[[KafkaMessage], Awaitable[bool]]:
    """FastStream's filter of one typed handler: the record decoded as exactly this model."""

    async def matches(msg: KafkaMessage) -> bool:
        return type(await msg.decode()) is model

    return matches


def _unrouted(router: MessageRouter) -> type[BaseMiddleware]:
    """A broker middleware for what no typed handler took (FastStream raises
    SubscriberNotFound for it): it goes to its lane like any other record, where `process`
    ignores it or parks it in the DLQ, and its offset is then committed like any handled one's,
    so its partition keeps flowing."""

    class Unrouted(BaseMiddleware):
        async def after_processed(
            self, exc_type: Any = None, exc_val: BaseException | None = None, exc_tb: Any = None
        ) -> bool:
            if not isinstance(exc_val, SubscriberNotFound):
                return False
            await router.dispatch(self.msg)
            return True

    return Unrouted


def _topic_description(topic: str) -> str:
    known = TOPICS.get(topic)
    return known.description if known else f"Messages on {topic}."


def asyncapi_document(
    broker: KafkaBroker, *, title: str, version: str, description: str = ""
) -> dict[str, Any]:
    """The service's AsyncAPI 3.0 document, as FastStream generates it from its broker: each
    consumed type from its typed handler, each sent topic from its publisher."""
    spec = AsyncAPI(broker, title=title, version=version, description=description or None)
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    return document


def _header_pairs(headers: Any) -> list[tuple[str, bytes]]:
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, dict) else headers
    return [
        (k, bytes(v) if isinstance(v, bytes | bytearray) else str(v).encode()) for k, v in items
    ]
