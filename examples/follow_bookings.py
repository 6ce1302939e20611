"""Follow the booking system's public topics from another team's service: booking.events.v1 and
saga.state.v1, from a consumer group of your own, one JSON line per message.

    python examples/follow_bookings.py --bootstrap 127.0.0.1:9092 --group my-team-bookings

What it shows (docs/EVENTS.md has the rules):
- its own consumer group: it never takes messages from the system's services, and it resumes
  where it stopped (offsets are committed after each batch is handled, never before);
- the envelope comes from the Kafka headers, the message from the value (JSON);
- messages are validated against the contract models, ignoring fields added after this code
  was written, and types it does not know are skipped: both are compatible changes;
- delivery is at least once, so it deduplicates by message_id (kept in memory here; a real
  consumer records it in the same transaction as its effect);
- one booking's messages on one topic come in order (the key is the booking id).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from booking_shared.contracts import (
    BookingCancellationRequested,
    BookingCancelled,
    BookingConfirmed,
    BookingFailed,
    BookingRequested,
    Envelope,
    Message,
    SagaStateChanged,
)
from booking_shared.contracts.topics import BOOKING_EVENTS, SAGA_STATE

TOPICS = (BOOKING_EVENTS, SAGA_STATE)
# What this consumer understands; anything else on these topics is skipped (a newer type).
MODELS: dict[str, type[Message]] = {
    m.__name__: m
    for m in (
        BookingRequested,
        BookingConfirmed,
        BookingFailed,
        BookingCancellationRequested,
        BookingCancelled,
        SagaStateChanged,
    )
}


def read(model: type[Message], value: bytes) -> Message:
    """Validate against the contract model, ignoring top-level fields added after it."""
    data = json.loads(value)
    return model.model_validate({k: v for k, v in data.items() if k in model.model_fields})


def describe(message: Message) -> str:
    if isinstance(message, SagaStateChanged):
        return f"{message.from_state or '-'} -> {message.to_state}"
    if isinstance(message, BookingConfirmed):
        return f"confirmed, {message.amount_captured.amount_minor} {message.amount_captured.currency} captured"
    if isinstance(message, BookingFailed):
        return "failed: " + ", ".join(r.code for r in message.reasons)
    if isinstance(message, BookingRequested):
        return f"requested: {len(message.items)} items, {message.total.amount_minor} {message.total.currency}"
    return type(message).__name__


class Seen:
    """The last message ids handled, for at-least-once delivery."""

    def __init__(self, size: int = 100_000) -> None:
        self.ids: OrderedDict[str, None] = OrderedDict()
        self.size = size

    def first_time(self, message_id: str) -> bool:
        if message_id in self.ids:
            return False
        self.ids[message_id] = None
        if len(self.ids) > self.size:
            self.ids.popitem(last=False)
        return True


async def follow(
    bootstrap: str,
    group: str,
    on_message: Callable[[str, Envelope, Message], None],
    *,
    stop: asyncio.Event,
    from_beginning: bool = True,
    exit_when_idle_s: float | None = None,
) -> None:
    consumer = AIOKafkaConsumer(
        *TOPICS,
        bootstrap_servers=bootstrap,
        group_id=group,
        client_id=group,
        enable_auto_commit=False,
        # Where a new group starts; a group that has committed offsets resumes from them.
        auto_offset_reset="earliest" if from_beginning else "latest",
        fetch_max_wait_ms=200,
    )
    await consumer.start()
    seen = Seen()
    idle_since = asyncio.get_running_loop().time()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            now = asyncio.get_running_loop().time()
            if not batches:
                if exit_when_idle_s is not None and now - idle_since > exit_when_idle_s:
                    return
                continue
            idle_since = now
            for records in batches.values():
                for record in records:
                    handle(record, seen, on_message)
            await (
                consumer.commit()
            )  # after handling: a crash before this means a redelivery, not a loss
    finally:
        await consumer.stop()


def handle(record: Any, seen: Seen, on_message: Callable[[str, Envelope, Message], None]) -> None:
    try:
        env = Envelope.from_headers(record.headers)
    except ValidationError as exc:
        print(
            json.dumps(
                {"topic": record.topic, "skipped": f"no envelope: {exc.error_count()} errors"}
            ),
            file=sys.stderr,
        )
        return
    model = MODELS.get(env.type)
    if model is None or not seen.first_time(str(env.message_id)):
        return  # a type this consumer does not know yet, or a redelivery
    try:
        message = read(model, record.value)
    except (ValidationError, ValueError) as exc:
        # Never seen from the system; a real consumer would park it rather than stop.
        print(
            json.dumps({"topic": record.topic, "type": env.type, "invalid": str(exc)[:500]}),
            file=sys.stderr,
        )
        return
    on_message(record.topic, env, message)


def print_line(topic: str, env: Envelope, message: Message) -> None:
    print(
        json.dumps(
            {
                "topic": topic,
                "type": env.type,
                "schema_version": env.schema_version,
                "booking_id": message.booking_id,
                "message_id": str(env.message_id),
                "occurred_at": env.occurred_at.isoformat(),
                "trace_id": env.traceparent.split("-")[1],
                "what": describe(message),
            }
        ),
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    ap.add_argument("--group", default="example-follow-bookings", help="your own consumer group")
    ap.add_argument(
        "--latest", action="store_true", help="a new group starts at the end, not the beginning"
    )
    ap.add_argument(
        "--exit-when-idle", type=float, metavar="S", help="stop after S seconds with no message"
    )
    args = ap.parse_args(argv)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await follow(
            args.bootstrap,
            args.group,
            print_line,
            stop=stop,
            from_beginning=not args.latest,
            exit_when_idle_s=args.exit_when_idle,
        )

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
