"""The plumbing's gauges move with what is in the database and on the broker: outbox pending
and lag, dead letters, consumer lag (real Postgres, real broker)."""

from __future__ import annotations

import asyncio
import secrets

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY

from booking_shared import outbox
from booking_shared.contracts import Envelope, SagaStateChanged
from booking_shared.contracts.topics import dlq
from booking_shared.messaging import ensure_topics
from booking_shared.metrics import refresh_consumer_lag, refresh_outbox_and_dlq
from booking_shared.testing.plugin import wait_for


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_outbox_pending_and_lag_grow_while_unsent_and_fall_to_zero_once_published(
    plumbing, relay_for
):
    svc = plumbing.settings.service_name
    bid = f"bk_{secrets.token_hex(4)}"
    async with plumbing.pool.acquire() as c, c.transaction():
        await outbox.enqueue(
            c,
            plumbing.topic,
            SagaStateChanged(booking_id=bid, from_state=None, to_state="WAITING"),
            producer=svc,
            schema=plumbing.settings.db_schema,
        )
    await asyncio.sleep(0.3)  # no relay yet: the row waits
    await refresh_outbox_and_dlq(plumbing.pool, svc)
    assert sample("booking_outbox_pending", service=svc) >= 1
    assert sample("booking_outbox_lag_seconds", service=svc) >= 0.3

    relay_for().start()
    await wait_for(lambda: plumbing.effects(bid), what="the row published and handled")

    async def drained() -> bool:
        await refresh_outbox_and_dlq(plumbing.pool, svc)
        return sample("booking_outbox_pending", service=svc) == 0

    await wait_for(drained, what="the outbox drained")
    assert sample("booking_outbox_lag_seconds", service=svc) == 0


async def test_the_dead_letter_gauge_counts_a_poison_message_by_its_source_topic(plumbing):
    svc = plumbing.settings.service_name
    await refresh_outbox_and_dlq(plumbing.pool, svc)
    before = sample("booking_dlq_messages", service=svc, topic=plumbing.topic)
    counted = sample("booking_messages_dead_lettered_total", consumer=svc, type="SagaStateChanged")
    bid = f"bk_{secrets.token_hex(4)}"
    env = Envelope.new("SagaStateChanged", correlation_id=bid, producer="test", schema_version=1)
    body = (
        SagaStateChanged(booking_id=bid, from_state=None, to_state="POISON")
        .model_dump_json()
        .encode()
    )
    assert await plumbing.router.process(plumbing.topic, body, env.to_headers()) == "dead"

    await refresh_outbox_and_dlq(plumbing.pool, svc)
    assert sample("booking_dlq_messages", service=svc, topic=plumbing.topic) == before + 1
    assert (
        sample("booking_messages_dead_lettered_total", consumer=svc, type="SagaStateChanged")
        == counted + 1
    )
    # A service restarted reads the same count from its table, not from memory.
    from booking_shared.metrics import DLQ_MESSAGES

    DLQ_MESSAGES.labels(svc, plumbing.topic).set(0)
    await refresh_outbox_and_dlq(plumbing.pool, svc)
    assert sample("booking_dlq_messages", service=svc, topic=plumbing.topic) == before + 1
    assert dlq(plumbing.topic).endswith(".dlq")


async def test_consumer_lag_is_the_high_watermark_past_the_committed_offset(plumbing):
    settings = plumbing.settings
    topic = f"lag.{secrets.token_hex(3)}.v1"
    await ensure_topics(settings, [topic])
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=False
    )
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(topic, f"m{i}".encode(), partition=0)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"lag-{secrets.token_hex(3)}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    svc = f"lagtest-{secrets.token_hex(3)}"
    tp = TopicPartition(topic, 0)
    try:
        consumer.assign([tp])
        got = 0
        for _ in range(40):  # bounded: 40 fetches of at most 0.5 s
            batch = await consumer.getmany(tp, timeout_ms=500, max_records=2)
            got += len(batch.get(tp, []))
            if got >= 2:
                break
        assert got >= 2
        await refresh_consumer_lag(consumer, svc)
        assert (
            sample("booking_consumer_lag_messages", service=svc, topic=topic, partition="0") == 5
        )  # nothing committed

        await consumer.commit({tp: 3})
        await refresh_consumer_lag(consumer, svc)
        assert sample("booking_consumer_lag_messages", service=svc, topic=topic, partition="0") == 2

        await consumer.commit({tp: 5})
        await refresh_consumer_lag(consumer, svc)
        assert sample("booking_consumer_lag_messages", service=svc, topic=topic, partition="0") == 0
    finally:
        await consumer.stop()
