"""A test's seat on the broker: publish contract messages the way a service does, and read back
what services publish.

Publishing sends the message as JSON, keyed by its booking id (so it lands on the partition the
services expect), with a proper Envelope in the headers. Reading needs no consumer group (no
join to wait for): the bus follows its topics from the earliest offset for as long as it runs,
and keeps every record whose type is a known contract message.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from typing import Self

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from booking_shared.contracts import Envelope, Message, model_for
from booking_shared.testing.plugin import wait_for


@dataclass(frozen=True, slots=True)
class Seen:
    """One record read back: where it was, its key, its envelope and the message itself."""

    topic: str
    key: str | None
    envelope: Envelope
    message: Message


class Bus:
    """A producer and a group-less consumer on the test session's broker.

    `Bus(bootstrap, *topics, producer_name=...)` follows `topics` once started (start/stop, or
    `async with`); `producer_name` is the envelope's producer on what the bus publishes.
    """

    def __init__(self, bootstrap: str, *topics: str, producer_name: str = "test") -> None:
        self.bootstrap, self.topics, self.producer_name = bootstrap, topics, producer_name
        self.records: list[Seen] = []
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._follower: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect; from here on every record on the topics (from their start) is read."""
        self._consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            fetch_max_wait_ms=5,
        )
        await self._consumer.start()
        self._follower = asyncio.create_task(self._follow(self._consumer))
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, enable_idempotence=False, linger_ms=0
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for r in records:
                    env = Envelope.from_headers(r.headers)
                    model = model_for(env.type)
                    if model is None:
                        continue
                    self.records.append(
                        Seen(
                            r.topic,
                            r.key.decode() if r.key else None,
                            env,
                            model.model_validate_json(r.value),
                        )
                    )

    # -- out --------------------------------------------------------------------------------

    def envelope(self, message: Message, message_id: uuid.UUID | None = None) -> Envelope:
        """A new envelope for the message: its type, its booking as the correlation id."""
        return Envelope.new(
            message.type_name(),
            correlation_id=message.booking_id,
            producer=self.producer_name,
            message_id=message_id,
        )

    async def publish(
        self, topic: str, message: Message, envelope: Envelope | None = None
    ) -> Envelope:
        """Send the message, keyed by its booking id; pass the same envelope to send it again."""
        if self._producer is None:
            raise RuntimeError("start the bus before publishing")
        env = envelope or self.envelope(message)
        await self._producer.send_and_wait(
            topic,
            message.model_dump_json().encode(),
            key=message.booking_id.encode(),
            headers=env.to_headers(),
        )
        return env

    # -- in ---------------------------------------------------------------------------------

    def messages(
        self,
        topic: str,
        *types: str,
        booking_id: str | None = None,
        producer: str | None = None,
    ) -> list[Message]:
        """What was read from the topic so far, in order: of these types (any if none given),
        of this booking, from this producer."""
        return [
            s.message
            for s in self.records
            if s.topic == topic
            and (not types or s.envelope.type in types)
            and (booking_id is None or s.message.booking_id == booking_id)
            and (producer is None or s.envelope.producer == producer)
        ]

    async def wait(
        self,
        topic: str,
        *types: str,
        booking_id: str | None = None,
        producer: str | None = None,
        count: int = 1,
        timeout: float = 15.0,
    ) -> list[Message]:
        """messages(...) once there are at least `count` of them; AssertionError after `timeout`."""

        def found() -> list[Message]:
            if self._follower is not None and self._follower.done():
                self._follower.result()  # reading stopped: say why rather than time out
            return self.messages(topic, *types, booking_id=booking_id, producer=producer)

        what = f"{count} {' or '.join(types) or 'message(s)'}"
        if booking_id is not None:
            what += f" for {booking_id}"
        await wait_for(lambda: len(found()) >= count, timeout=timeout, what=f"{what} on {topic}")
        return found()
