"""Dead letters for operators: list what a service sent to `<topic>.dlq`, and replay messages to
their source topic once the cause is fixed. Run it inside the service's own container (it reads
that service's settings, database role and broker):

    python -m booking_shared.dlq list --topic payment.commands.v1
    python -m booking_shared.dlq replay --topic payment.commands.v1 --message-id <uuid> [--dry-run]
    python -m booking_shared.dlq replay --topic payment.commands.v1 --all

A replay writes the original message (its headers without the dlq_* ones, its key, its body)
to the service's outbox, and, in the same transaction, forgets that the service handled it (the
inbox row the dead-lettering wrote). The relay publishes it; this service's consumer handles it
as new, and every other consumer of the topic skips it as a duplicate. A message is replayed
once per dead-lettering: if it fails again it returns to the DLQ and can be replayed again."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from typing import Any, ClassVar

from aiokafka import AIOKafkaConsumer, TopicPartition

from booking_shared import outbox
from booking_shared.config import ServiceSettings
from booking_shared.contracts.topics import dlq
from booking_shared.db import create_pool


class ToolSettings(ServiceSettings):
    # The tool serves no API, so it needs no INTERNAL_API_TOKEN (the gateway has none).
    serves_internal_api: ClassVar[bool] = False


@dataclass
class DeadLetter:
    """One record of a DLQ topic."""

    partition: int
    offset: int
    key: str | None
    headers: list[tuple[str, str]]
    body: str

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    @property
    def message_id(self) -> str | None:
        return self.header("message_id")

    @property
    def consumer(self) -> str | None:
        return self.header("dlq_consumer")

    def summary(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "type": self.header("type"),
            "booking_id": self.key,
            "consumer": self.consumer,
            "source_topic": self.header("dlq_source_topic"),
            "attempts": self.header("dlq_attempts"),
            "error": (self.header("dlq_error") or "")[:300],
            "dlq_partition": self.partition,
            "dlq_offset": self.offset,
        }


async def read_dlq(
    settings: ServiceSettings, source_topic: str, timeout_s: float = 30.0
) -> list[DeadLetter]:
    """Every record of `<source_topic>.dlq`, read from the beginning to the end it had when the
    read began (no consumer group: nothing is committed)."""
    topic = dlq(source_topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=f"{settings.service_name}-dlq-tool",
    )
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            raise SystemExit(f"no topic {topic} on {settings.kafka_bootstrap_servers}")
        parts = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        out: list[DeadLetter] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s

        async def behind() -> bool:
            return any([await consumer.position(tp) < end[tp] for tp in parts])

        while await behind():
            if loop.time() > deadline:
                raise TimeoutError(f"{topic}: not read to its end within {timeout_s} s")
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                out += [
                    DeadLetter(
                        partition=r.partition,
                        offset=r.offset,
                        key=r.key.decode(errors="replace") if r.key is not None else None,
                        headers=[(k, v.decode(errors="replace")) for k, v in r.headers],
                        body=r.value.decode(errors="replace") if r.value is not None else "",
                    )
                    for r in records
                    if r.offset < end[TopicPartition(r.topic, r.partition)]
                ]
        return out
    finally:
        await consumer.stop()


def own_letters(settings: ServiceSettings, letters: list[DeadLetter]) -> list[DeadLetter]:
    """The letters this service's consumer wrote (other consumers of the topic share its DLQ),
    the last copy of each message."""
    latest: dict[str, DeadLetter] = {}
    for letter in letters:
        if letter.consumer == settings.service_name:
            latest[letter.message_id or f"{letter.partition}:{letter.offset}"] = letter
    return list(latest.values())


async def replay(
    settings: ServiceSettings,
    pool: Any,
    source_topic: str,
    letters: list[DeadLetter],
    *,
    dry_run: bool = False,
) -> list[dict[str, Any]]:
    """Send each letter again through the outbox, each in its own transaction; one result per
    letter ("replayed", "would replay" with dry_run, or "skipped: <why>")."""
    results = []
    for letter in letters:
        result = {
            "message_id": letter.message_id,
            "type": letter.header("type"),
            "booking_id": letter.key,
        }
        if letter.message_id is None:
            results.append(
                {
                    **result,
                    "outcome": "skipped: no envelope; such a message cannot be handled as it is",
                }
            )
            continue
        try:
            async with pool.acquire() as conn, conn.transaction():
                outcome = await _replay_one(conn, settings, source_topic, letter)
                if dry_run and outcome == "replayed":
                    raise _RollBack
        except _RollBack:
            outcome = "would replay"
        results.append({**result, "outcome": outcome})
    return results


class _RollBack(Exception):
    pass


async def _replay_one(
    conn: Any, settings: ServiceSettings, source_topic: str, letter: DeadLetter
) -> str:
    dead_at = await conn.fetchval(
        "SELECT created_at FROM dead_letters WHERE consumer = $1 AND message_id = $2 ORDER BY id DESC LIMIT 1",
        settings.service_name,
        letter.message_id,
    )
    if dead_at is None:
        return "skipped: no dead_letters record of it in this service"
    # The dead-lettering claimed the inbox row in its own transaction, so the row's handled_at
    # is the record's created_at; no such row means it was handled since, or a replay is
    # already on its way.
    status = await conn.execute(
        "DELETE FROM inbox WHERE consumer = $1 AND message_id = $2::uuid AND handled_at = $3",
        settings.service_name,
        letter.message_id,
        dead_at,
    )
    if status != "DELETE 1":
        return "skipped: already replayed (handled since, or on its way)"
    headers = [(k, v) for k, v in letter.headers if not k.startswith("dlq_")]
    await outbox.enqueue_raw(
        conn, source_topic, letter.key, headers, letter.body, schema=settings.db_schema
    )
    return "replayed"


async def main_async(args: argparse.Namespace, settings: ServiceSettings) -> int:
    letters = own_letters(settings, await read_dlq(settings, args.topic, args.timeout))
    if args.command == "list":
        for letter in letters[-args.limit :]:
            print(json.dumps(letter.summary()))
        return 0
    ok = True
    if not args.all:
        wanted = set(args.message_id)
        letters = [x for x in letters if x.message_id in wanted]
        for mid in sorted(wanted - {x.message_id for x in letters}):
            print(
                json.dumps(
                    {
                        "message_id": mid,
                        "outcome": f"not in {dlq(args.topic)} for {settings.service_name}",
                    }
                )
            )
            ok = False
    pool = await create_pool(settings)
    try:
        results = await replay(settings, pool, args.topic, letters, dry_run=args.dry_run)
    finally:
        await pool.close()
    for r in results:
        print(json.dumps(r))
    return 0 if ok and all(r["outcome"] in ("replayed", "would replay") for r in results) else 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m booking_shared.dlq", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="this service's dead letters of a topic, one JSON line each")
    ls.add_argument("--limit", type=int, default=100)
    rp = sub.add_parser("replay", help="send dead letters of a topic again, through the outbox")
    which = rp.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--message-id", action="append", default=[], help="the envelope's message_id (repeatable)"
    )
    which.add_argument(
        "--all", action="store_true", help="every dead letter of this service on the topic"
    )
    rp.add_argument("--dry-run", action="store_true", help="check and report, change nothing")
    for p in (ls, rp):
        p.add_argument(
            "--topic",
            required=True,
            help="the source topic, e.g. payment.commands.v1 (not the .dlq)",
        )
        p.add_argument(
            "--timeout", type=float, default=30.0, help="seconds to read the DLQ topic to its end"
        )
    args = parser.parse_args(argv)
    if args.topic.endswith(".dlq"):
        parser.error("--topic takes the source topic; its DLQ is <topic>.dlq")
    settings = ToolSettings()
    sys.exit(asyncio.run(main_async(args, settings)))


if __name__ == "__main__":
    main()
