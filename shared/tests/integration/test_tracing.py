"""Trace context across a Kafka hop through the outbox, with an in-memory span exporter, against
the real Postgres and the real broker: request -> send -> process -> send -> process, one trace."""

from __future__ import annotations

import secrets

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from booking_shared import outbox, tracing
from booking_shared.contracts import SagaStateChanged
from booking_shared.db import prepare_database
from booking_shared.messaging import MessageRouter, ensure_topics, make_broker
from booking_shared.outbox import OutboxRelay
from booking_shared.testing.plugin import wait_for

from .conftest import plumbing_settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def traced(database_url: str, kafka_bootstrap: str, role_prefix: str):
    """A throwaway service with tracing on (before its broker is built, as a process does)."""
    exporter = InMemorySpanExporter()
    assert tracing.configure("plumb-traced", exporters=[exporter], set_global=False)
    name = secrets.token_hex(3)
    settings = plumbing_settings(database_url, kafka_bootstrap, role_prefix, f"tr{name}")
    pool = await prepare_database(settings, None)
    await pool.execute(
        "CREATE TABLE effects (id bigserial PRIMARY KEY, booking_id text, to_state text)"
    )
    first, second = f"trace.{name}.first.v1", f"trace.{name}.second.v1"
    await ensure_topics(settings, [first, second])

    async def forward(h) -> None:  # a hop: what came on the first topic goes on to the second
        await h.publish(
            second, SagaStateChanged(booking_id=h.message.booking_id, from_state="A", to_state="B")
        )

    async def record(h) -> None:
        await h.conn.execute(
            "INSERT INTO effects (booking_id, to_state) VALUES ($1, $2)", h.message.booking_id, "B"
        )

    router = MessageRouter(settings=settings, pool=pool, consumer=settings.service_name)
    router.on(first, SagaStateChanged, forward)
    router.on(second, SagaStateChanged, record)
    broker = make_broker(settings)
    router.attach(broker)
    relay = OutboxRelay(pool, settings)
    router.on_commit = relay.wake
    await broker.start()
    relay.start()
    try:
        yield exporter, settings, pool, first, second
    finally:
        await relay.stop()
        await broker.stop()
        await pool.close()
        tracing.reset()


async def test_one_message_chain_through_the_outbox_is_one_trace_with_each_hop_a_child(traced):
    exporter, settings, pool, first, second = traced
    bid = f"bk_{secrets.token_hex(4)}"
    with tracing.span("request", {"booking.id": bid}) as root:
        async with pool.acquire() as c, c.transaction():
            env = await outbox.enqueue(
                c,
                first,
                SagaStateChanged(booking_id=bid, from_state=None, to_state="A"),
                producer=settings.service_name,
                schema=settings.db_schema,
            )
    assert root is not None
    trace_id = root.get_span_context().trace_id

    def spans():
        return [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]

    await wait_for(
        lambda: any(s.name == f"{second} process" for s in spans()), what="the second hop's span"
    )
    await wait_for(
        lambda: any(s.name == f"{second} handle" for s in spans()), what="the second handling"
    )
    by_name = {s.name: s for s in spans()}
    send_1, process_1 = by_name[f"send {first}"], by_name[f"{first} process"]
    handle_1 = by_name[f"{first} handle"]
    send_2, process_2 = by_name[f"send {second}"], by_name[f"{second} process"]
    handle_2 = by_name[f"{second} handle"]

    # Each hop is the child of the span before it, across the outbox and the broker: the
    # consumer span (FastStream's, the record read), under it the handling, under that the send.
    assert send_1.parent.span_id == root.get_span_context().span_id
    assert process_1.parent.span_id == send_1.context.span_id
    assert handle_1.parent.span_id == process_1.context.span_id
    assert send_2.parent.span_id == handle_1.context.span_id
    assert process_2.parent.span_id == send_2.context.span_id
    assert handle_2.parent.span_id == process_2.context.span_id
    assert send_1.kind == SpanKind.PRODUCER and process_1.kind == SpanKind.CONSUMER
    # The envelope carries the producer span's context; the handling span names the booking.
    assert env.traceparent.startswith(f"00-{trace_id:032x}-{send_1.context.span_id:016x}-")
    assert handle_2.attributes["booking.id"] == bid
    assert handle_2.attributes["messaging.message.type"] == "SagaStateChanged"
    # It spans the handler's work, which ends after the record was admitted.
    assert handle_2.end_time >= process_2.end_time
    stored = await pool.fetchval(
        "SELECT headers FROM outbox WHERE topic = $1 AND msg_key = $2", second, bid
    )
    assert f"{send_2.context.span_id:016x}" in stored


async def test_a_message_with_no_trace_context_starts_a_trace_of_its_own(traced):
    exporter, settings, pool, first, second = traced
    bid = f"bk_{secrets.token_hex(4)}"
    async with pool.acquire() as c, c.transaction():  # no current span: e.g. a deadline firing
        env = await outbox.enqueue(
            c,
            first,
            SagaStateChanged(booking_id=bid, from_state=None, to_state="A"),
            producer=settings.service_name,
            schema=settings.db_schema,
        )
    trace_id = int(env.traceparent.split("-")[1], 16)
    await wait_for(
        lambda: [
            s
            for s in exporter.get_finished_spans()
            if s.context.trace_id == trace_id and s.name == f"{second} process"
        ],
        what="the second hop's span",
    )
    send_1 = next(
        s
        for s in exporter.get_finished_spans()
        if s.name == f"send {first}" and s.context.trace_id == trace_id
    )
    assert send_1.parent is None
