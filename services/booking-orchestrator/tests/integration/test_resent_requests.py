"""A BookingRequested sent again by the gateway's reconciler (same payload and booking id, a new
message id caused by the first): it starts the saga the first one never started, and changes
nothing once the saga exists. The first one's id is dead in the inbox (dead-lettered), which is
why the resend needs a new one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from booking_shared.contracts import BookingRequested, Envelope, PaymentSource
from booking_shared.contracts.topics import BOOKING_EVENTS
from booking_shared.money import Money
from booking_shared.testing.plugin import wait_for

from .conftest import Harness


async def test_a_resent_booking_request_starts_the_saga_once_even_after_a_dead_letter(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    bid = h.new_id()
    items = h.items(2)
    request = BookingRequested(
        booking_id=bid,
        user_id=f"usr_{bid}",
        quote_id=f"qt_{bid}",
        items=items,
        total=Money(amount_minor=sum(i.line_total().amount_minor for i in items), currency="EUR"),
        payment=PaymentSource(customer_id="cus_resent", payment_method_id="pm_resent"),
        mode="all_or_nothing",
        guest="gAAAA-sealed-guest",
        requested_at=datetime.now(UTC),
    )
    first = Envelope.new(request.type_name(), correlation_id=bid, producer="gateway")
    # What a dead letter leaves: the message id claimed in the orchestrator's inbox, no saga.
    await h.pool.execute(
        "INSERT INTO inbox (consumer, message_id, topic, message_type) VALUES ($1, $2, $3, $4)",
        h.settings.service_name,
        first.message_id,
        BOOKING_EVENTS,
        request.type_name(),
    )
    await h.fakes.inject(BOOKING_EVENTS, request, envelope=first)  # redelivered: a duplicate
    await asyncio.sleep(1.0)
    assert await h.state(bid) is None

    def resend() -> Envelope:
        return Envelope.new(
            request.type_name(), correlation_id=bid, producer="gateway", cause=first
        )

    await h.fakes.inject(BOOKING_EVENTS, request, envelope=resend())
    assert await h.settles(bid) == "CONFIRMED"
    await h.fakes.inject(BOOKING_EVENTS, request, envelope=resend())  # the reconciler, once more
    saga = await wait_for(lambda: _duplicate_seen(h, bid), what="the second resend handled")

    assert await h.state(bid) == "CONFIRMED"
    holds = h.fakes.commands(bid, "HoldItem")
    assert sorted(c.item.id for c in holds) == ["item-1", "item-2"]  # type: ignore[attr-defined]
    assert len({c.command_id for c in h.fakes.commands(bid, "CapturePayment")}) == 1
    requests = [
        e for e in saga["history"] if e["direction"] == "in" and e["type"] == "BookingRequested"
    ]
    assert len(requests) == 2 and "saga already exists" in requests[1]["summary"]


async def _duplicate_seen(h: Harness, bid: str) -> dict | None:
    saga = await h.saga(bid)
    seen = [
        e
        for e in saga["history"]
        if e["type"] == "BookingRequested" and "already exists" in e["summary"]
    ]
    return saga if seen else None
