"""Read the dead-letter topics (`<topic>.dlq`) straight from the broker, for the ops dashboard:
the newest records of each, with their `dlq_*` headers. No consumer group, nothing committed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

DLQ_SUFFIX = ".dlq"


async def read_dead_letters(
    bootstrap_servers: str, per_topic: int = 20, timeout_s: float = 5.0
) -> dict[str, Any]:
    """{topics: [{topic, total, records: [{partition, offset, timestamp, headers, value}]}]}:
    every `.dlq` topic the broker holds (empty ones too), newest records first."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        request_timeout_ms=int(timeout_s * 1000),
    )
    await asyncio.wait_for(consumer.start(), timeout_s)
    try:
        names = sorted(t for t in await consumer.topics() if t.endswith(DLQ_SUFFIX))
        out = []
        for topic in names:
            out.append(await _read_topic(consumer, topic, per_topic, timeout_s))
        return {"topics": out}
    finally:
        await consumer.stop()


async def _read_topic(
    consumer: AIOKafkaConsumer, topic: str, per_topic: int, timeout_s: float
) -> dict[str, Any]:
    parts = consumer.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    if not tps:
        return {"topic": topic, "total": 0, "records": []}
    consumer.assign(tps)
    begin = await consumer.beginning_offsets(tps)
    end = await consumer.end_offsets(tps)
    total = sum(end[tp] - begin[tp] for tp in tps)
    for tp in tps:
        consumer.seek(tp, max(begin[tp], end[tp] - per_topic))
    records: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    pending = {tp for tp in tps if end[tp] > begin[tp]}
    while pending and loop.time() < deadline:
        batch = await consumer.getmany(*pending, timeout_ms=200)
        for tp, msgs in batch.items():
            for m in msgs:
                if m.offset < end[tp]:
                    records.append(_record(m))
        for tp in list(pending):
            if await consumer.position(tp) >= end[tp]:
                pending.discard(tp)
    records.sort(key=lambda r: r["timestamp"] or 0, reverse=True)
    return {"topic": topic, "total": total, "records": records[:per_topic]}


def _record(m: Any) -> dict[str, Any]:
    try:
        value: Any = json.loads(m.value) if m.value else None
    except ValueError:
        value = (m.value or b"").decode(errors="replace")[:2000]
    return {
        "partition": m.partition,
        "offset": m.offset,
        "timestamp": m.timestamp,
        "headers": {k: (v or b"").decode(errors="replace") for k, v in (m.headers or [])},
        "value": value,
    }
