"""Concurrent handling against the real broker and the real Postgres: a booking whose handler
is slow holds up no other booking, even on its own partition; each booking's messages keep
their order; the group's committed offset never passes a record still being handled; and a
record in flight when its service stops is handled by the next consumer, once."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY

from booking_shared.config import ServiceSettings
from booking_shared.contracts import Envelope, SagaStateChanged
from booking_shared.db import prepare_database
from booking_shared.messaging import Handling, MessageRouter, ensure_topics, make_broker
from booking_shared.testing.plugin import wait_for

from .conftest import plumbing_settings


@dataclass
class Service:
    settings: ServiceSettings
    pool: asyncpg.Pool
    topic: str
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)

    async def handle(self, h: Handling) -> None:
        msg = h.message_as(SagaStateChanged)
        self.started.append(f"{msg.booking_id}:{msg.to_state}")
        gate = self.gates.get(msg.to_state)
        if gate is not None:
            await gate.wait()
        await h.conn.execute(
            "INSERT INTO effects (booking_id, to_state) VALUES ($1, $2)",
            msg.booking_id,
            msg.to_state,
        )

    async def effects(self, booking_id: str | None = None) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT booking_id, to_state FROM effects"
            + (" WHERE booking_id = $1" if booking_id else "")
            + " ORDER BY id",
            *([booking_id] if booking_id else []),
        )
        return [r["to_state"] if booking_id else f"{r['booking_id']}:{r['to_state']}" for r in rows]

    async def start(self) -> tuple[MessageRouter, object]:
        router = MessageRouter(
            settings=self.settings, pool=self.pool, consumer=self.settings.service_name
        )
        router.on(self.topic, SagaStateChanged, self.handle)
        broker = make_broker(self.settings)
        router.attach(broker)
        await broker.start()
        return router, broker

    async def send(self, booking_id: str, to_state: str) -> None:
        message = SagaStateChanged(booking_id=booking_id, from_state=None, to_state=to_state)
        env = Envelope.new(message.type_name(), correlation_id=booking_id, producer="test")
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(
                self.topic,
                message.model_dump_json().encode(),
                key=booking_id.encode(),
                headers=env.to_headers(),
            )
        finally:
            await producer.stop()

    async def committed(self) -> int | None:
        """The group's committed offset, asked by a client of the group that does not join it."""
        asker = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=self.settings.service_name,
            enable_auto_commit=False,
        )
        await asker.start()
        try:
            return await asker.committed(TopicPartition(self.topic, 0))
        finally:
            await asker.stop()


@pytest.fixture
async def service(
    database_url: str, kafka_bootstrap: str, role_prefix: str
) -> AsyncIterator[Service]:
    name = secrets.token_hex(3)
    settings = plumbing_settings(database_url, kafka_bootstrap, role_prefix, name).model_copy(
        # one partition, so that the slow booking and the others share it
        update={"kafka_partitions": 1, "consumer_concurrency": 8, "kafka_commit_interval_ms": 20}
    )
    pool = await prepare_database(settings, None)
    await pool.execute(
        "CREATE TABLE effects (id bigserial PRIMARY KEY, booking_id text, to_state text)"
    )
    topic = f"lanes.{name}.v1"
    await ensure_topics(settings, [topic])
    yield Service(settings, pool, topic)
    await pool.close()


async def test_a_slow_booking_holds_up_neither_the_others_nor_the_commit_of_what_came_before(
    service: Service,
) -> None:
    slow, fast = f"bk_{secrets.token_hex(4)}", f"bk_{secrets.token_hex(4)}"
    gate = service.gates["SLOW"] = asyncio.Event()
    router, broker = await service.start()
    try:
        await service.send(slow, "FIRST")
        await service.send(slow, "SLOW")
        await service.send(slow, "AFTER")  # offset 2: waits behind SLOW, in its lane
        for i in range(5):
            await service.send(fast, f"F{i}")  # offsets 3-7: other booking, same partition

        # The other booking is handled in full, in order, while SLOW is still running.
        async def fast_done() -> bool:
            return await service.effects(fast) == [f"F{i}" for i in range(5)]

        await wait_for(fast_done, what="the other booking's five messages")
        assert await service.effects(slow) == ["FIRST"]
        assert f"{slow}:AFTER" not in service.started  # its own lane keeps it behind SLOW
        in_flight = REGISTRY.get_sample_value(
            "booking_consumer_in_flight", {"service": service.settings.service_name}
        )
        assert in_flight == 2  # SLOW, and AFTER waiting behind it

        # The group's offset stops at SLOW (offset 1): a crash now would read it again.
        async def committed_at(n: int) -> bool:
            return await service.committed() == n

        await wait_for(lambda: committed_at(1), what="the commit up to the slow record")
        await asyncio.sleep(0.2)
        assert await service.committed() == 1

        gate.set()

        async def slow_done() -> bool:
            return await service.effects(slow) == ["FIRST", "SLOW", "AFTER"]

        await wait_for(slow_done, what="the slow booking, in order")
        await wait_for(lambda: committed_at(8), what="the commit past every record")
    finally:
        gate.set()
        await router.stop(timeout=5)
        await broker.stop()  # type: ignore[attr-defined]


async def test_a_record_in_flight_at_a_stop_is_handled_by_the_next_consumer_once(
    service: Service,
) -> None:
    bid = f"bk_{secrets.token_hex(4)}"
    gate = service.gates["STUCK"] = asyncio.Event()
    router, broker = await service.start()
    await service.send(bid, "DONE")
    await service.send(bid, "STUCK")

    async def stuck_started() -> bool:
        return f"{bid}:STUCK" in service.started

    await wait_for(stuck_started, what="the second record in its handler")
    await router.stop(timeout=0.5)  # it does not finish in time: cancelled, not committed
    await broker.stop()  # type: ignore[attr-defined]
    assert await service.effects(bid) == ["DONE"]
    assert await service.committed() == 1

    gate.set()
    router, broker = await service.start()
    try:

        async def handled() -> bool:
            return await service.effects(bid) == ["DONE", "STUCK"]

        await wait_for(handled, what="the record read again by the next consumer")
        await asyncio.sleep(0.5)
        assert await service.effects(bid) == ["DONE", "STUCK"]  # DONE was not handled twice
    finally:
        await router.stop(timeout=5)
        await broker.stop()  # type: ignore[attr-defined]


async def test_a_stop_with_records_waiting_for_a_lane_returns_at_once_and_leaves_them_unread(
    service: Service,
) -> None:
    """One lane, its record stuck, another booking's record waiting for room when the service
    stops: the stuck one is cancelled, the waiting one and the one read after are not handled,
    and neither the router's stop nor FastStream's (which waits up to 15 s for a record it
    handed over) waits for them."""
    service.settings = service.settings.model_copy(update={"consumer_concurrency": 1})
    stuck, waiting, later = (f"bk_{secrets.token_hex(4)}" for _ in range(3))
    service.gates["STUCK"] = asyncio.Event()  # never set
    router, broker = await service.start()
    assert router.lanes.limit == 1
    await service.send(stuck, "STUCK")
    await service.send(waiting, "DONE")
    await service.send(later, "DONE")  # reaches the router only after its stop began

    async def stuck_started() -> bool:
        return f"{stuck}:STUCK" in service.started

    await wait_for(stuck_started, what="the first record in its handler")
    await asyncio.sleep(0.3)  # the second is read and waits for the lane
    loop = asyncio.get_running_loop()
    began = loop.time()
    await router.stop(timeout=0.5)
    await broker.stop()  # type: ignore[attr-defined]
    assert loop.time() - began < 3
    await asyncio.sleep(0.2)
    assert f"{waiting}:DONE" not in service.started
    assert f"{later}:DONE" not in service.started
    assert await service.effects() == []
    assert await service.committed() in (None, 0)  # both are read again by the next consumer
