"""Against the real dev broker: a busy consumer's hops are short even with a long idle wait,
and a quiet consumer goes back to the long wait (and its next messages are short again)."""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time

from aiokafka import AIOKafkaProducer

from booking_shared.config import ServiceSettings
from booking_shared.contracts import Envelope, SagaStateChanged
from booking_shared.db import prepare_database
from booking_shared.messaging import MessageRouter, ensure_topics, make_broker
from booking_shared.pacing import FetchPacer
from booking_shared.testing.plugin import wait_for


async def test_busy_hops_are_short_and_a_quiet_consumer_waits_long(
    database_url, kafka_bootstrap, role_prefix
):
    name = secrets.token_hex(3)
    settings = ServiceSettings(
        service_name=f"pace-{name}",
        database_url=database_url,
        db_schema=f"pace_{name}",
        db_role_prefix=role_prefix,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_fetch_max_wait_ms=5,
        kafka_fetch_idle_wait_ms=1000,
        kafka_busy_window_s=1.0,
    )
    topic = f"pace.{name}.v1"
    await ensure_topics(settings, [topic])
    pool = await prepare_database(settings, None)
    arrived: dict[str, float] = {}

    async def record(h) -> None:
        arrived[h.message.booking_id] = time.perf_counter()

    pacer = FetchPacer(settings)
    router = MessageRouter(
        settings=settings, pool=pool, consumer=settings.service_name, pacer=pacer
    )
    router.on(topic, SagaStateChanged, record)
    broker = make_broker(settings)
    router.attach(broker)
    await broker.start()
    ticking = asyncio.create_task(pacer.run())
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False)
    await producer.start()

    async def hop(i: int) -> float:
        bid = f"bk_{name}_{i}"
        env = Envelope.new(
            "SagaStateChanged", correlation_id=bid, producer="test", schema_version=1
        )
        msg = SagaStateChanged(booking_id=bid, from_state=None, to_state="HOLDING")
        sent = time.perf_counter()
        await producer.send_and_wait(
            topic, msg.model_dump_json().encode(), key=bid.encode(), headers=env.to_headers()
        )
        await wait_for(lambda: bid in arrived, timeout=10, interval=0.002, what=f"message {i}")
        return (arrived[bid] - sent) * 1000

    try:
        await hop(0)  # the group has joined and the consumer is busy
        busy = [await hop(i) for i in range(1, 11)]
        assert statistics.median(busy) < 100, busy  # a 1000 ms wait would cost ~500 ms a hop

        await wait_for(lambda: not pacer.hot, timeout=5, what="the pacer to call the consumer idle")
        consumer = consumer_of(pacer)
        assert consumer._fetcher._fetch_max_wait_ms == 1000
        await asyncio.sleep(1.2)  # the fetch in flight now carries the long wait

        await hop(100)  # the first message after a quiet spell may wait for that fetch
        assert pacer.hot and consumer._fetcher._fetch_max_wait_ms == 5
        again = [await hop(i) for i in range(101, 106)]
        assert statistics.median(again) < 100, again
    finally:
        ticking.cancel()
        await producer.stop()
        await broker.stop()
        await pool.close()


def consumer_of(pacer: FetchPacer):
    [get] = pacer._consumers
    return get()
