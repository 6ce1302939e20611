"""Transactional outbox: messages are rows written with the state change, and a relay
publishes them to Kafka in order, marking them sent; nothing is lost if the broker is down."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    LeaderNotAvailableError,
    NodeNotReadyError,
    NotLeaderForPartitionError,
    ProducerClosed,
    RequestTimedOutError,
    UnknownTopicOrPartitionError,
)

from booking_shared import tracing
from booking_shared.config import ServiceSettings
from booking_shared.contracts.base import Message
from booking_shared.contracts.envelope import Envelope
from booking_shared.kafka_admin import ensure_topics
from booking_shared.metrics import OUTBOX_PARKED

log = logging.getLogger(__name__)

# The broker (not the row) is the problem: back off and retry everything, count nothing.
_BROKER_AWAY = (
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RequestTimedOutError,
    LeaderNotAvailableError,
    NotLeaderForPartitionError,
    ProducerClosed,
    ConnectionError,
    TimeoutError,
)


def channel(schema: str) -> str:
    return f"{schema}_outbox"


async def enqueue(
    conn: asyncpg.Connection,
    topic: str,
    message: Message,
    *,
    producer: str,
    schema: str,
    cause: Envelope | None = None,
    envelope: Envelope | None = None,
    key: str | None = None,
) -> Envelope:
    """Write a message to the outbox inside the caller's transaction and return its envelope.
    With tracing on, the envelope's traceparent is a producer span's (tracing.producing), so the
    consumer's span, later and in another process, is its child."""
    with tracing.producing(topic, message.type_name(), message.booking_id) as span:
        env = envelope or Envelope.new(
            message.type_name(),
            correlation_id=message.booking_id,
            producer=producer,
            schema_version=message.SCHEMA_VERSION,
            cause=cause,
        )
        if span is not None:
            span.set_attribute("messaging.message.id", str(env.message_id))
        await enqueue_raw(
            conn,
            topic,
            key or message.booking_id,
            [(k, v.decode()) for k, v in env.to_headers()],
            message.model_dump_json(),
            schema=schema,
        )
    return env


async def enqueue_raw(
    conn: asyncpg.Connection,
    topic: str,
    key: str | None,
    headers: list[tuple[str, str]],
    payload: str,
    *,
    schema: str,
) -> None:
    await conn.execute(
        "INSERT INTO outbox (topic, msg_key, headers, payload) VALUES ($1, $2, $3::jsonb, $4)",
        topic,
        key,
        json.dumps(headers),
        payload,
    )
    # The relay wakes on the NOTIFY the table's trigger sends (migration
    # 0003_plumbing_outbox_notify): transactional, so only when (and if) the caller commits.


def make_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=settings.kafka_flavour == "kafka",
        acks="all",
        linger_ms=0,
        request_timeout_ms=10000,
        client_id=f"{settings.service_name}-outbox",
    )


class OutboxRelay:
    """Publishes unsent outbox rows in id order; one active relay per schema (advisory lock),
    so that several instances of a service keep per-key order."""

    BATCH = 500

    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: ServiceSettings,
        producer_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.schema = settings.db_schema
        self._producer_factory = producer_factory or (lambda: make_producer(settings))
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.published = 0
        self.is_leader = False
        self.last_error: str | None = None
        self.on_publish: Callable[[], None] | None = None  # replies are on their way

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.schema}")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        delay = 0.2
        while not self._stopping:
            try:
                await self._lead()
                delay = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database away: wait and try again
                self.last_error = repr(exc)
                log.warning(
                    "outbox relay interrupted; retrying",
                    extra={"error": repr(exc), "retry_in_s": delay},
                )
                await asyncio.sleep(delay + random.uniform(0, delay / 2))
                delay = min(delay * 2, 5.0)

    async def _lead(self) -> None:
        conn: asyncpg.Connection = await self.pool.acquire()
        producer = None
        try:
            got = await conn.fetchval(
                "SELECT pg_try_advisory_lock(hashtext($1))", f"{self.schema}.outbox"
            )
            if not got:
                self.is_leader = False
                await asyncio.sleep(self.settings.outbox_poll_interval_s)
                return
            self.is_leader = True
            await self._count_parked(conn)
            await conn.add_listener(channel(self.schema), self._on_notify)
            producer = self._producer_factory()
            await producer.start()
            while not self._stopping:
                sent = await self._publish_batch(conn, producer)
                if sent == 0:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._wake.wait(), self.settings.outbox_poll_interval_s
                        )
        finally:
            self.is_leader = False
            if producer is not None:
                with contextlib.suppress(Exception):
                    await producer.stop()
            with contextlib.suppress(Exception):
                await conn.remove_listener(channel(self.schema), self._on_notify)
            with contextlib.suppress(Exception):
                await conn.execute("SELECT pg_advisory_unlock_all()")
            with contextlib.suppress(Exception):
                await self.pool.release(conn)

    # Unsent, unparked rows in id order, except rows waiting for a retry (until due) and every
    # later row of the same topic and key, so that a refused row keeps its key's order.
    _BATCH_SQL = """
        SELECT o.id, o.topic, o.msg_key, o.headers, o.payload, o.attempts
          FROM outbox o
         WHERE o.sent_at IS NULL AND o.parked_at IS NULL
           AND (o.retry_at IS NULL OR o.retry_at <= now())
           AND NOT EXISTS (
                 SELECT 1 FROM outbox w
                  WHERE w.sent_at IS NULL AND w.parked_at IS NULL AND w.retry_at > now()
                    AND w.topic = o.topic AND w.msg_key = o.msg_key AND w.id < o.id)
         ORDER BY o.id
         LIMIT $1"""

    async def _publish_batch(self, conn: asyncpg.Connection, producer: Any) -> int:
        """Publish one batch, row by row. A row the broker refuses (record too large, topic
        missing and not creatable, ...) is retried later and parked after outbox_max_attempts,
        holding back only the later rows of its own topic and key; the others go on. A broker
        that is away is no fault of the rows: what was published is marked sent, and the relay
        backs off without counting an attempt."""
        rows = await conn.fetch(self._BATCH_SQL, self.BATCH)
        if not rows:
            return 0
        held: set[tuple[str, str]] = set()  # (topic, key) behind a refused row in this batch
        pending: list[tuple[asyncpg.Record, Any]] = []
        copies: list[Any] = []
        outage: BaseException | None = None
        for r in rows:
            if outage is not None:
                break
            if self._held(r, held):
                continue
            record = {
                "value": r["payload"].encode(),
                "key": r["msg_key"].encode() if r["msg_key"] else None,
                "headers": [(k, v.encode()) for k, v in json.loads(r["headers"])],
            }
            try:
                fut = await producer.send(r["topic"], **record)
                # Dev/test chaos setting (refused in production): the same record again.
                for _ in range(self.settings.outbox_publish_copies - 1):
                    copies.append(await producer.send(r["topic"], **record))
            except Exception as exc:
                outage = await self._refused(conn, r, exc, held)
                continue
            pending.append((r, fut))
        results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
        await asyncio.gather(*copies, return_exceptions=True)
        done: list[int] = []
        for (r, _), res in zip(pending, results, strict=True):
            if self._held(r, held):
                continue  # published after a refused row of its key: sent again later, in order
            if isinstance(res, BaseException):
                if outage is None:
                    outage = await self._refused(conn, r, res, held)
                elif r["msg_key"] is not None:
                    held.add(
                        (r["topic"], r["msg_key"])
                    )  # resent after the outage, before its successors
                continue
            done.append(r["id"])
        if done:
            await self._mark_sent(conn, done)
            self.published += len(done)
            if self.on_publish:
                self.on_publish()
        if outage is not None:
            raise outage
        return len(done)

    @staticmethod
    def _held(r: asyncpg.Record, held: set[tuple[str, str]]) -> bool:
        return r["msg_key"] is not None and (r["topic"], r["msg_key"]) in held

    async def _refused(
        self,
        conn: asyncpg.Connection,
        r: asyncpg.Record,
        exc: BaseException,
        held: set[tuple[str, str]],
    ) -> BaseException | None:
        """Account for one row the producer did not take. Returns the error when it is the
        broker's (an outage), None when it is the row's (counted, retried later, then parked)."""
        if r["msg_key"] is not None:
            held.add((r["topic"], r["msg_key"]))
        if isinstance(exc, _BROKER_AWAY):
            return exc
        error = repr(exc)
        if isinstance(exc, UnknownTopicOrPartitionError):
            # The broker answers but has no such topic (Kafka with auto-creation off, a new
            # provider's commands topic): create it, then the row's retry finds it.
            try:
                await ensure_topics(self.settings, [r["topic"]])
            except Exception as create_exc:
                if isinstance(create_exc, _BROKER_AWAY):
                    return create_exc
                error = (
                    f"topic {r['topic']} does not exist and could not be created: {create_exc!r}"
                )
            else:
                error = f"topic {r['topic']} did not exist; created it"
        attempts = r["attempts"] + 1
        park = attempts >= self.settings.outbox_max_attempts
        backoff = min(self.settings.outbox_retry_backoff_s * 2 ** (attempts - 1), 60.0)
        await conn.execute(
            """UPDATE outbox SET attempts = $2, last_error = $3,
                      retry_at = CASE WHEN $4 THEN NULL ELSE now() + make_interval(secs => $5) END,
                      parked_at = CASE WHEN $4 THEN now() END
                WHERE id = $1""",
            r["id"],
            attempts,
            error[:4000],
            park,
            backoff,
        )
        self.last_error = error
        if park:
            await self._count_parked(conn)
            log.error(
                "outbox row parked: the broker refused it %d times; later rows of its key go on",
                attempts,
                extra={
                    "outbox_id": r["id"],
                    "topic": r["topic"],
                    "key": r["msg_key"],
                    "error": error,
                },
            )
        else:
            log.warning(
                "outbox row refused; retrying later",
                extra={
                    "outbox_id": r["id"],
                    "topic": r["topic"],
                    "attempt": attempts,
                    "error": error,
                },
            )
        return None

    async def _mark_sent(self, conn: asyncpg.Connection, ids: list[int]) -> None:
        await conn.execute("UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", ids)

    async def _count_parked(self, conn: asyncpg.Connection) -> None:
        n = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL AND sent_at IS NULL"
        )
        OUTBOX_PARKED.labels(self.settings.service_name).set(n)

    async def replay_recent(self, window_s: float) -> int:
        """The broker lost its data: publish again, in order, every row sent in the last
        `window_s` (a consumer may not have read it yet). Consumers' inboxes drop the copies
        they had handled. Returns the number of rows to publish again."""
        if window_s <= 0:
            self.wake()
            return 0
        status = await self.pool.execute(
            "UPDATE outbox SET sent_at = NULL WHERE sent_at > now() - make_interval(secs => $1)",
            window_s,
        )
        n = int(status.split()[-1])
        if n:
            log.warning(
                "the broker lost its data: publishing recent messages again",
                extra={"rows": n, "window_s": window_s},
            )
        self.wake()
        return n

    async def pending(self) -> int:
        """Rows still to publish (parked ones are not: they wait for an operator)."""
        return await self.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND parked_at IS NULL"
        )

    async def parked(self, limit: int = 100) -> tuple[int, list[dict[str, Any]]]:
        """Rows given up on, oldest first, with the error that made the relay give up."""
        async with self.pool.acquire() as conn:
            total = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL AND sent_at IS NULL"
            )
            rows = await conn.fetch(
                "SELECT id, topic, msg_key, attempts, last_error, created_at, parked_at FROM outbox"
                " WHERE parked_at IS NOT NULL AND sent_at IS NULL ORDER BY id LIMIT $1",
                limit,
            )
        return total, [dict(r) for r in rows]
