"""The router's subscriber is FastStream's typed one: each consumed type reaches `process`
already decoded as its model, what no typed handler takes still reaches `process` (to be
ignored or dead-lettered), and FastStream's AsyncAPI document names every type consumed and sent.
FastStream's own test broker runs the subscriber, its filters and middlewares, in memory."""

from __future__ import annotations

import re
from typing import Any

from faststream.kafka import TestKafkaBroker

from booking_shared.config import ServiceSettings
from booking_shared.contracts import BookingConfirmed, ItemHeld, SagaStateChanged
from booking_shared.contracts.asyncapi import summary
from booking_shared.contracts.envelope import Envelope
from booking_shared.messaging import MessageRouter, asyncapi_document, make_broker

STATE, EVENTS = "saga.state.v1", "booking.events.v1"


async def _noop(h: Any) -> None:
    return None


def _router() -> tuple[MessageRouter, list[tuple[str, Any]]]:
    router = MessageRouter(settings=ServiceSettings(), pool=None, consumer="c")  # type: ignore[arg-type]
    router.on(STATE, SagaStateChanged, _noop)
    router.on(EVENTS, BookingConfirmed, _noop)
    router.emits(EVENTS, BookingConfirmed)
    seen: list[tuple[str, Any]] = []

    async def process(topic: str, body: bytes, headers: Any, **kw: Any) -> str:
        seen.append((topic, kw["message"]))
        return "handled"

    router.process = process  # type: ignore[method-assign]
    return router, seen


def _headers(message: Any) -> dict[str, str]:
    env = Envelope.new(message.type_name(), correlation_id=message.booking_id, producer="test")
    return {k: v.decode() for k, v in env.to_headers()}


async def test_each_type_reaches_process_as_its_model_and_the_rest_still_reaches_it() -> None:
    router, seen = _router()
    broker = make_broker(ServiceSettings())
    router.attach(broker)
    state = SagaStateChanged(booking_id="bk_1", from_state="HOLDING", to_state="AUTHORIZING")
    async with TestKafkaBroker(broker) as test:
        await test.publish(state.model_dump_json().encode(), STATE, headers=_headers(state))
        # valid JSON of a routed type, but a body that is not one: no typed handler takes it
        await test.publish(b'{"booking_id": ""}', STATE, headers=_headers(state))
        # a type the service does not route on this topic
        await test.publish(state.model_dump_json().encode(), EVENTS, headers=_headers(state))
        # each record was admitted to its lane; let the lanes finish
        assert await router.lanes.drain(5)
        await router.stop(timeout=1)
    # records of one key (here, of one topic's partition: no key) reach it in order
    assert [(t, type(m).__name__ if m else None) for t, m in seen if t == STATE] == [
        (STATE, "SagaStateChanged"),
        (STATE, None),
    ]
    assert [(t, m) for t, m in seen if t == EVENTS] == [(EVENTS, None)]
    assert next(m for t, m in seen if t == STATE) == state


def test_fastStreams_document_names_what_is_consumed_and_sent() -> None:
    router, _ = _router()
    router.on_pattern(r"^provider\.[a-z]+\.replies\.v1$", ItemHeld, _noop)
    router.emits(STATE, SagaStateChanged)
    broker = make_broker(ServiceSettings())
    router.attach(broker)
    found = summary(asyncapi_document(broker, title="c", version="1"))
    # One subscriber reads every topic and pattern, so FastStream lists them as one address.
    [(address, types)] = found["receive"].items()
    assert types == {"SagaStateChanged", "BookingConfirmed", "ItemHeld"}
    for topic in (STATE, EVENTS, "provider.tables.replies.v1"):
        assert re.match(address, topic), topic
    assert not re.match(address, "provider.tables.commands.v1")
    assert found["send"] == {EVENTS: {"BookingConfirmed"}, STATE: {"SagaStateChanged"}}
