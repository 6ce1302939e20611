"""Tracing end to end: every service of the stack exports its spans over OTLP (the standard
OTEL_* variables, set by the session's fixture) to a receiver the test runs; one booking is one
trace, from the gateway's request through every Kafka hop, partner call and Stripe call."""

from __future__ import annotations

import re
import time

from .helpers import card_numbers
from .helpers import day_plan_retried as plan
from .otlp import Span

SERVICES = {
    "gateway",
    "booking-orchestrator",
    "payment",
    "provider-opentable",
    "provider-eventbrite",
}
SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5


def _trace_of_request(system, booking_id: str) -> list[Span]:
    """The trace whose root is the gateway's POST /v1/bookings for this booking."""
    spans = system.traces.spans()
    sent = [
        s
        for s in spans
        if s.service == "gateway"
        and s.attributes.get("booking.id") == booking_id
        and s.name == "send booking.events.v1"
    ]
    if not sent:
        return []
    return [s for s in spans if s.trace_id == sent[0].trace_id]


def _complete(trace: list[Span]) -> bool:
    """Every service has exported, down to BookingConfirmed back at the gateway. That is the
    gateway's consumer span whose parent is the orchestrator's: the gateway's subscriber also
    reads (and skips) its own BookingRequested, whose span has the same name."""
    by_id = {s.span_id: s for s in trace}
    names = {(s.service, s.name) for s in trace}
    confirmed_back = any(
        s.service == "gateway"
        and s.name == "booking.events.v1 process"
        and by_id.get(s.parent_id, s).service == "booking-orchestrator"
        for s in trace
    )
    return (
        {s.service for s in trace} >= SERVICES
        and confirmed_back
        and ("booking-orchestrator", "saga reply PaymentCaptured") in names
        and all(s.parent_id == "" or s.parent_id in by_id for s in trace)
    )


def test_one_booking_is_one_trace_across_all_five_services_with_the_saga_steps(system, person):
    quote = person.quote(plan(person, days_ahead=23))
    r = person.book(quote["id"])
    assert r.status_code == 202, r.text
    bid = r.json()["booking_id"]
    assert person.wait_final(bid)["state"] == "CONFIRMED"

    deadline = time.monotonic() + 20  # spans are exported in batches (OTEL_BSP_SCHEDULE_DELAY)
    trace = _trace_of_request(system, bid)
    while not _complete(trace) and time.monotonic() < deadline:
        time.sleep(0.2)
        trace = _trace_of_request(system, bid)
    assert trace, "no span of the gateway's request for the booking"
    ids = {s.span_id for s in trace}

    # One tree: the gateway's request is the root, every other span's parent is in the trace.
    roots = [s for s in trace if not s.parent_id]
    assert [(s.service, s.name, s.kind) for s in roots] == [
        ("gateway", "POST /v1/bookings", SERVER)
    ]
    assert [s for s in trace if s.parent_id and s.parent_id not in ids] == []
    assert {s.service for s in trace} == SERVICES

    names = {(s.service, s.name) for s in trace}
    # Every Kafka hop: a producer span in one service, its consumer span (child) in the next.
    by_id = {s.span_id: s for s in trace}
    hops = {(by_id[s.parent_id].service, s.service, s.name) for s in trace if s.kind == CONSUMER}
    assert {
        ("gateway", "booking-orchestrator", "booking.events.v1 process"),
        ("booking-orchestrator", "provider-opentable", "provider.opentable.commands.v1 process"),
        ("booking-orchestrator", "provider-eventbrite", "provider.eventbrite.commands.v1 process"),
        ("provider-opentable", "booking-orchestrator", "provider.opentable.replies.v1 process"),
        ("provider-eventbrite", "booking-orchestrator", "provider.eventbrite.replies.v1 process"),
        ("booking-orchestrator", "payment", "payment.commands.v1 process"),
        ("payment", "booking-orchestrator", "payment.replies.v1 process"),
        ("booking-orchestrator", "gateway", "booking.events.v1 process"),
    } <= hops
    assert all(by_id[s.parent_id].kind == PRODUCER for s in trace if s.kind == CONSUMER)

    # The saga's steps: the request, each command sent and each reply applied.
    saga = {n for svc, n in names if svc == "booking-orchestrator" and n.startswith("saga ")}
    assert {
        "saga start",
        "saga send HoldItem",
        "saga reply ItemHeld",
        "saga send AuthorizePayment",
        "saga reply PaymentAuthorized",
        "saga send ConfirmItem",
        "saga reply ItemConfirmed",
        "saga send CapturePayment",
        "saga reply PaymentCaptured",
        "saga send BookingConfirmed",
    } <= saga, saga
    steps = [s for s in trace if s.name.startswith("saga ")]
    assert all(s.attributes["booking.id"] == bid for s in steps)

    # Every Stripe call, and its HTTP request under it; every partner call.
    stripe = [s for s in trace if s.service == "payment" and s.name.startswith("stripe ")]
    assert {"stripe authorize", "stripe capture"} <= {s.name for s in stripe}
    assert any(s.kind == CLIENT and by_id[s.parent_id] in stripe for s in trace)
    for provider, sandbox in (
        ("provider-opentable", "opentable_sandbox"),
        ("provider-eventbrite", "eventbrite_sandbox"),
    ):
        partner_calls = [
            s
            for s in trace
            if s.service == provider
            and s.kind == CLIENT
            and f":{system.ports[sandbox]}/"
            in str(s.attributes.get("url.full") or s.attributes.get("http.url"))
        ]
        assert len(partner_calls) >= 2, (provider, [s.name for s in trace if s.service == provider])

    # Every other span naming the booking is a saga resend after a deadline (a trace of its
    # own, rooted at the orchestrator), not a lost link.
    elsewhere = [
        s
        for s in system.traces.spans()
        if s.attributes.get("booking.id") == bid and s.span_id not in ids
    ]
    assert all(s.service == "booking-orchestrator" for s in elsewhere), elsewhere


def test_no_span_carries_a_card_number(system):
    spans = system.traces.spans()
    assert spans, "the stack exported no span"
    # FastStream names a Kafka record "<offset>-<timestamp ms>" (messaging.message.id): no data of
    # ours, but offset 34 and a 13-digit time read as a 15-digit Amex number often enough. Dropped
    # only in that exact shape; every other attribute is scanned as it is.
    blob = "\n".join(f"{s.name} {_without_record_ids(s.attributes)}" for s in spans).encode()
    assert card_numbers(blob) == []


def _without_record_ids(attributes: dict) -> dict:
    kafka_id = re.compile(r"^[0-9]+-[0-9]{13}$")
    return {
        k: v
        for k, v in attributes.items()
        if not (k == "messaging.message.id" and isinstance(v, str) and kafka_id.match(v))
    }
