"""The test bus's envelopes and its reading side (no broker: records are put in by hand here; the
provider services' integration suites run it against the real broker)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from booking_shared.contracts import REGISTRY, Envelope, Message
from booking_shared.contracts.export import EXAMPLES
from booking_shared.testing.bus import Bus, Seen


def example(type_name: str, booking_id: str) -> Message:
    text = (EXAMPLES / f"{type_name}.json").read_text()
    return (
        REGISTRY[type_name].model_validate_json(text).model_copy(update={"booking_id": booking_id})
    )


def seen(bus: Bus, topic: str, message: Message, producer: str = "svc") -> None:
    env = Envelope.new(message.type_name(), correlation_id=message.booking_id, producer=producer)
    bus.records.append(Seen(topic, message.booking_id, env, message))


async def test_an_envelope_names_the_type_the_booking_and_the_producer():
    bus = Bus("127.0.0.1:1", "replies", producer_name="test-saga")
    message = example("ItemHeld", "bk_1")
    env = bus.envelope(message)
    assert (env.type, env.correlation_id, env.producer) == ("ItemHeld", "bk_1", "test-saga")
    fixed = uuid.uuid4()
    assert bus.envelope(message, fixed).message_id == fixed
    assert bus.envelope(message).message_id != env.message_id


async def test_messages_filter_by_topic_type_booking_and_producer():
    bus = Bus("127.0.0.1:1", "replies", "registry")
    held, rejected = example("ItemHeld", "bk_1"), example("ItemRejected", "bk_1")
    other = example("ItemHeld", "bk_2")
    seen(bus, "replies", held)
    seen(bus, "replies", rejected, producer="another-svc")
    seen(bus, "replies", other)
    seen(bus, "registry", example("ProviderAnnounced", "opentable"))
    assert bus.messages("replies") == [held, rejected, other]
    assert bus.messages("replies", "ItemHeld") == [held, other]
    assert bus.messages("replies", "ItemHeld", "ItemRejected", booking_id="bk_1") == [
        held,
        rejected,
    ]
    assert bus.messages("replies", booking_id="bk_1", producer="svc") == [held]
    assert [m.type_name() for m in bus.messages("registry")] == ["ProviderAnnounced"]


async def test_wait_returns_once_enough_have_come_and_fails_after_its_timeout():
    bus = Bus("127.0.0.1:1", "replies")
    first, second = example("ItemHeld", "bk_1"), example("ItemHeld", "bk_1")

    async def arrive() -> None:
        await asyncio.sleep(0.05)
        seen(bus, "replies", first)
        await asyncio.sleep(0.05)
        seen(bus, "replies", second)

    task = asyncio.create_task(arrive())
    assert await bus.wait("replies", "ItemHeld", booking_id="bk_1", count=2, timeout=5) == [
        first,
        second,
    ]
    await task
    with pytest.raises(AssertionError, match="1 ItemConfirmed for bk_1 on replies"):
        await bus.wait("replies", "ItemConfirmed", booking_id="bk_1", timeout=0.1)
