"""A throwaway 'service' for the plumbing tests: its own schema, an effects table, a router."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import asyncpg
import pytest
from faststream.kafka import KafkaBroker

from booking_shared.config import ServiceSettings
from booking_shared.contracts import SagaStateChanged
from booking_shared.db import prepare_database
from booking_shared.messaging import MessageRouter, ensure_topics, make_broker
from booking_shared.outbox import OutboxRelay


def plumbing_settings(database_url: str, kafka: str, prefix: str, name: str) -> ServiceSettings:
    return ServiceSettings(
        service_name=f"plumb-{name}",
        database_url=database_url,
        db_schema=f"plumb_{name}",
        db_role_prefix=prefix,
        kafka_bootstrap_servers=kafka,
        consumer_max_attempts=3,
        consumer_retry_backoff_ms=10,
        outbox_poll_interval_s=0.2,
    )


@dataclass
class Plumbing:
    settings: ServiceSettings
    pool: asyncpg.Pool
    topic: str
    router: MessageRouter
    broker: KafkaBroker
    outcomes: list[tuple[str, str]] = field(default_factory=list)

    async def effects(self, booking_id: str) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT to_state FROM effects WHERE booking_id = $1 ORDER BY id", booking_id
        )
        return [r["to_state"] for r in rows]


@pytest.fixture(scope="module")
async def plumbing(database_url: str, kafka_bootstrap: str, role_prefix: str):
    name = secrets.token_hex(3)
    settings = plumbing_settings(database_url, kafka_bootstrap, role_prefix, name)
    pool = await prepare_database(settings, None)
    await pool.execute(
        "CREATE TABLE effects (id bigserial PRIMARY KEY, booking_id text, to_state text)"
    )
    topic = f"plumb.{name}.v1"
    await ensure_topics(settings, [topic, f"{topic}.dlq"])

    async def record(h) -> None:
        if h.message.to_state == "POISON":
            raise RuntimeError("this message always fails")
        await h.conn.execute(
            "INSERT INTO effects (booking_id, to_state) VALUES ($1, $2)",
            h.message.booking_id,
            h.message.to_state,
        )

    router = MessageRouter(settings=settings, pool=pool, consumer=settings.service_name)
    router.on(topic, SagaStateChanged, record)
    broker = make_broker(settings)
    p = Plumbing(settings, pool, topic, router, broker)
    original = router.process

    async def tracking(topic, body, headers, **kw):
        outcome = await original(topic, body, headers, **kw)
        pairs = dict(headers.items() if isinstance(headers, dict) else headers)
        booking = pairs.get("correlation_id", b"")
        p.outcomes.append((booking.decode() if isinstance(booking, bytes) else booking, outcome))
        return outcome

    router.process = tracking  # type: ignore[method-assign]
    router.attach(broker)
    await broker.start()
    yield p
    await broker.stop()
    await pool.close()


@pytest.fixture
def relay_for(plumbing: Plumbing):
    relays: list[OutboxRelay] = []

    def make(cls=OutboxRelay, settings=None, **kw) -> OutboxRelay:
        r = cls(plumbing.pool, settings or plumbing.settings, **kw)
        plumbing.router.on_commit = r.wake
        relays.append(r)
        return r

    yield make
    for r in relays:
        import asyncio

        asyncio.get_event_loop().create_task(r.stop())
