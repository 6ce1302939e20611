"""With tracing on, a step resent after a deadline (fired by a timer, with no message to continue
from) stays in the booking's trace, and the saga's spans name the booking."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from booking_shared import tracing
from booking_shared.testing.plugin import wait_for

from .conftest import Harness
from .fakes import Act


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    assert tracing.configure("booking-orchestrator", exporters=[exporter], set_global=False)
    yield exporter
    tracing.reset()


async def _trace_ids(h: Harness, bid: str, type_: str) -> list[str]:
    rows = await h.pool.fetch("SELECT headers FROM outbox WHERE msg_key = $1 ORDER BY id", bid)
    out = []
    for r in rows:
        headers = dict(json.loads(r["headers"]))
        if headers["type"] == type_:
            out.append(headers["traceparent"].split("-")[1])
    return out


async def test_a_hold_resent_after_its_deadline_stays_in_the_bookings_trace(
    orchestrator: Harness, spans
):
    h = orchestrator
    bid = await h.book({"HoldItem:item-2": Act("silent")})
    await wait_for(lambda: _resent(h, bid), timeout=20, what="a hold resent after its deadline")
    holds = await _trace_ids(h, bid, "HoldItem")
    assert len(set(holds)) == 1, holds  # the first holds and the resend: one trace
    assert await h.settles(bid) == "FAILED"
    assert set(await _trace_ids(h, bid, "CancelItem")) == set(
        holds
    )  # compensation, after a timer too

    names = {s.name for s in spans.get_finished_spans() if s.attributes.get("booking.id") == bid}
    assert {"saga start", "saga send HoldItem", "saga deadline", "saga reply ItemHeld"} <= names
    deadline = next(
        s
        for s in spans.get_finished_spans()
        if s.name == "saga deadline" and s.attributes["booking.id"] == bid
    )
    assert f"{deadline.context.trace_id:032x}" == holds[0]


async def _resent(h: Harness, bid: str) -> bool:
    return len(h.fakes.commands(bid, "HoldItem", "item-2")) >= 2
