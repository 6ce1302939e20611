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

from booking_shared.config import ServiceSettings
from booking_shared.contracts.base import Message
from booking_shared.contracts.envelope import Envelope

log = logging.getLogger(__name__)


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
    """Write a message to the outbox inside the caller's transaction and return its envelope."""
    env = envelope or Envelope.new(
        message.type_name(),
        correlation_id=message.booking_id,
        producer=producer,
        schema_version=message.SCHEMA_VERSION,
        cause=cause,
    )
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
    # NOTIFY is transactional: the relay wakes when (and only if) the caller commits.
    await conn.execute("SELECT pg_notify($1, '')", channel(schema))


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
                log.warning("outbox relay interrupted; retrying", extra={"error": repr(exc), "retry_in_s": delay})
                await asyncio.sleep(delay + random.uniform(0, delay / 2))
                delay = min(delay * 2, 5.0)

    async def _lead(self) -> None:
        conn: asyncpg.Connection = await self.pool.acquire()
        producer = None
        try:
            got = await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", f"{self.schema}.outbox")
            if not got:
                self.is_leader = False
                await asyncio.sleep(self.settings.outbox_poll_interval_s)
                return
            self.is_leader = True
            await conn.add_listener(channel(self.schema), self._on_notify)
            producer = self._producer_factory()
            await producer.start()
            while not self._stopping:
                sent = await self._publish_batch(conn, producer)
                if sent == 0:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.settings.outbox_poll_interval_s)
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

    async def _publish_batch(self, conn: asyncpg.Connection, producer: Any) -> int:
        rows = await conn.fetch(
            "SELECT id, topic, msg_key, headers, payload FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1",
            self.BATCH,
        )
        if not rows:
            return 0
        futures = []
        for r in rows:
            headers = [(k, v.encode()) for k, v in json.loads(r["headers"])]
            fut = await producer.send(
                r["topic"],
                value=r["payload"].encode(),
                key=r["msg_key"].encode() if r["msg_key"] else None,
                headers=headers,
            )
            futures.append(fut)
        results = await asyncio.gather(*futures, return_exceptions=True)
        done: list[int] = []
        failure: BaseException | None = None
        for r, res in zip(rows, results, strict=True):
            if isinstance(res, BaseException):
                failure = res
                await conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1", r["id"], repr(res)
                )
                break
            done.append(r["id"])
        if done:
            await self._mark_sent(conn, done)
            self.published += len(done)
            if self.on_publish:
                self.on_publish()
        if failure is not None:
            raise failure
        return len(done)

    async def _mark_sent(self, conn: asyncpg.Connection, ids: list[int]) -> None:
        await conn.execute("UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", ids)

    async def pending(self) -> int:
        return await self.pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
