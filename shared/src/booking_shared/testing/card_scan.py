"""Look for card numbers (or any other secret) where a running stack keeps data: every row of
every table of the database, every message (value and headers) on the topics, every service log.

The detector is the caller's (a function from bytes to the numbers found), so that the suites
share one card-number detector and this module only gathers the text. Used by the end-to-end
card scan, the security suite and the chaos harness after a run:

    findings = await scan(card_numbers, database_url=..., kafka=..., logs={"gateway": text, ...})
    assert findings == {}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import asyncpg
from aiokafka import AIOKafkaConsumer

from booking_shared.contracts.topics import all_topics

Detector = Callable[[bytes], list[str]]


async def database_rows(url: str) -> dict[str, bytes]:
    """Every base table of every schema (as the admin role sees them): schema.table -> its rows
    as text, one line per row."""
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'"
        )
        out = {}
        for t in tables:
            rows = await conn.fetch(
                f'SELECT t::text AS r FROM "{t["table_schema"]}"."{t["table_name"]}" t'
            )
            out[f"{t['table_schema']}.{t['table_name']}"] = b"\n".join(
                r["r"].encode() for r in rows
            )
        return out
    finally:
        await conn.close()


async def topic_messages(
    bootstrap: str, topics: Iterable[str] | None = None, idle_polls: int = 3
) -> dict[str, bytes]:
    """Every message on `topics` (default: every topic of the contracts) from the start: topic ->
    values and header values, one per line. Stops after `idle_polls` empty half-second polls."""
    wanted = list(topics) if topics is not None else all_topics()
    consumer = AIOKafkaConsumer(
        *wanted, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    out: dict[str, list[bytes]] = {}
    try:
        idle = 0
        while idle < idle_polls:
            batch = await consumer.getmany(timeout_ms=500)
            idle = 0 if batch else idle + 1
            for tp, records in batch.items():
                chunks = out.setdefault(tp.topic, [])
                for r in records:
                    chunks.append(r.value or b"")
                    chunks += [v for _, v in r.headers]
    finally:
        await consumer.stop()
    return {topic: b"\n".join(chunks) for topic, chunks in out.items()}


def find(detector: Detector, sources: Mapping[str, bytes]) -> dict[str, list[str]]:
    """source -> what the detector found in it, for the sources where it found something."""
    return {name: hits for name, blob in sources.items() if (hits := detector(blob))}


async def scan(
    detector: Detector,
    *,
    database_url: str | None = None,
    kafka: str | None = None,
    topics: Iterable[str] | None = None,
    logs: Mapping[str, str | bytes] | None = None,
) -> dict[str, list[str]]:
    """Run `detector` over the tables, topic messages and logs given; returns
    {"table:schema.name" | "topic:name" | "log:service": [found, ...]} for every hit (empty: clean)."""
    sources: dict[str, bytes] = {}
    if database_url:
        sources.update({f"table:{k}": v for k, v in (await database_rows(database_url)).items()})
    if kafka:
        sources.update({f"topic:{k}": v for k, v in (await topic_messages(kafka, topics)).items()})
    for name, text in (logs or {}).items():
        sources[f"log:{name}"] = text.encode() if isinstance(text, str) else text
    return find(detector, sources)
