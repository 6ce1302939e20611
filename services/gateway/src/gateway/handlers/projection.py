"""The booking projection: saga.state.v1 and booking.events.v1 folded into the bookings row and
its timeline (which the SSE stream follows). Messages about bookings made elsewhere are ignored."""

from __future__ import annotations

import logging
from typing import Any

from booking_shared.contracts import (
    BookingCancelled,
    BookingConfirmed,
    BookingFailed,
    SagaStateChanged,
)
from booking_shared.messaging import Handling
from gateway.adapters import postgres as db
from gateway.domain import states

log = logging.getLogger(__name__)


async def record_saga_state(h: Handling) -> None:
    msg = h.message_as(SagaStateChanged)
    row = await db.get_booking(h.conn, msg.booking_id, None, for_update=True)
    if row is None:
        log.debug("saga state of a booking made elsewhere; ignored")
        return
    saga_state, outcome = states.apply_saga_state(row["outcome"], msg.from_state, msg.to_state)
    state = states.display(saga_state, outcome)
    fields: dict[str, Any] = {"saga_state": saga_state, "outcome": outcome, "state": state}
    if state == states.CONFIRMED and row["confirmed_at"] is None:
        fields["confirmed_at"] = h.envelope.occurred_at
    await db.update_booking(h.conn, msg.booking_id, fields)
    await db.add_timeline(
        h.conn,
        msg.booking_id,
        "SagaStateChanged",
        state,
        {"from_state": msg.from_state, "to_state": msg.to_state, "reason": msg.reason},
        h.envelope.occurred_at,
        h.envelope.message_id,
        schema=h.settings.db_schema,
    )


async def record_booking_event(h: Handling) -> None:
    msg = h.message
    row = await db.get_booking(h.conn, msg.booking_id, None, for_update=True)
    if row is None:
        log.debug("booking event of a booking made elsewhere; ignored")
        return
    fields: dict[str, Any] = {}
    data: dict[str, Any] = {}
    if isinstance(msg, BookingConfirmed):
        reached = states.CONFIRMED
        fields["confirmed_items"] = [i.model_dump(mode="json") for i in msg.items]
        fields["amount_captured_minor"] = msg.amount_captured.amount_minor
        if msg.failed_items:
            fields["failure_reasons"] = [f.model_dump(mode="json") for f in msg.failed_items]
        if row["confirmed_at"] is None:
            fields["confirmed_at"] = h.envelope.occurred_at
        data = {
            "items": [
                {"item_id": i.item_id, "confirmation_code": i.confirmation_code} for i in msg.items
            ],
            "amount_captured": msg.amount_captured.model_dump(),
            "failed_items": [f.model_dump(mode="json") for f in msg.failed_items],
        }
    elif isinstance(msg, BookingFailed):
        reached = "FAILED"
        fields["failure_reasons"] = [f.model_dump(mode="json") for f in msg.reasons]
        data = {"reasons": fields["failure_reasons"]}
    elif isinstance(msg, BookingCancelled):
        reached = "PARTIALLY_CANCELLED" if msg.partial else "CANCELLED"
        # Per booked item: cancelled (refund, fee) or not_cancellable (the partner's reason).
        # An older producer sends only `refunds`: those items were all cancelled.
        outcomes = [o.model_dump(mode="json") for o in msg.items] or [
            {**r.model_dump(mode="json"), "outcome": "cancelled"} for r in msg.refunds
        ]
        fields["refunds"] = outcomes
        fields["amount_refunded_minor"] = msg.total_refunded.amount_minor
        data = {
            "refunds": [r.model_dump(mode="json") for r in msg.refunds],
            "items": outcomes,
            "partial": msg.partial,
            "total_refunded": msg.total_refunded.model_dump(),
        }
    else:
        return
    outcome = reached if states.rank(reached) > states.rank(row["saga_state"]) else None
    state = states.display(row["saga_state"], outcome)
    fields.update({"outcome": outcome, "state": state})
    await db.update_booking(h.conn, msg.booking_id, fields)
    await db.add_timeline(
        h.conn,
        msg.booking_id,
        msg.type_name(),
        state,
        data,
        h.envelope.occurred_at,
        h.envelope.message_id,
        schema=h.settings.db_schema,
    )
