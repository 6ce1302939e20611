"""Read the dead-letter topics (`<topic>.dlq`) straight from the broker, for the ops dashboard:
the newest records of each, with their `dlq_*` headers. No consumer group, nothing committed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

DLQ_SUFFIX = ".dlq"


async def read_dead_letters(
    bootstrap_servers: str, per_topic: int = 20, timeout_s: float = 3.0
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
        return {"topics": await _read(consumer, names, per_topic, timeout_s)}
    finally:
        await consumer.stop()


async def _read(
    consumer: AIOKafkaConsumer, names: list[str], per_topic: int, timeout_s: float
) -> list[dict[str, Any]]:
    """Every partition of every topic at once: two offset requests in all, then the fetches."""
    tps = [
        TopicPartition(t, p) for t in names for p in sorted(consumer.partitions_for_topic(t) or ())
    ]
    out: dict[str, dict[str, Any]] = {t: {"topic": t, "total": 0, "records": []} for t in names}
    if not tps:
        return list(out.values())
    consumer.assign(tps)
    begin = await consumer.beginning_offsets(tps)
    end = await consumer.end_offsets(tps)
    for tp in tps:
        out[tp.topic]["total"] += end[tp] - begin[tp]
        consumer.seek(tp, max(begin[tp], end[tp] - per_topic))
    pending = {tp for tp in tps if end[tp] > begin[tp]}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while pending and loop.time() < deadline:
        batch = await consumer.getmany(*pending, timeout_ms=200)
        for tp, msgs in batch.items():
            out[tp.topic]["records"] += [_record(m) for m in msgs if m.offset < end[tp]]
        for tp in list(pending):
            if await consumer.position(tp) >= end[tp]:
                pending.discard(tp)
    for topic in out.values():
        topic["records"].sort(key=lambda r: (r["timestamp"] or 0, r["offset"]), reverse=True)
        del topic["records"][per_topic:]
    return list(out.values())


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
