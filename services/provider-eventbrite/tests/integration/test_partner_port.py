"""EventbritePort against the sandbox, for the paths the service tests do not reach easily:
a hold that became an order behind our back, orders cancelled at the partner, bad items."""

from __future__ import annotations

import pytest

from booking_shared.provider_kit import CancelOutcome
from booking_shared.sealed import GuestContact
from provider_eventbrite.adapters.partner_client import Attendee
from provider_eventbrite.adapters.partner_port import CancelFailed, EventbritePort

GUEST = GuestContact(first_name="Rui", last_name="Costa", email="rui@example.org")


@pytest.fixture
def port(make_client) -> EventbritePort:
    return EventbritePort(make_client())


async def test_releasing_a_hold_that_already_became_an_order_cancels_that_order(
    port, sandbox, ref, item_for
):
    # Our confirm's transaction was lost after the partner created the order; the saga then
    # cancels the item as if only held. Nothing may stay booked.
    event, tc = await sandbox.bookable(min_left=1)
    item = item_for(event, tc, quantity=1)
    held = await port.hold(item, key=ref("hold"), reference=ref("item"))
    order = await port.client.create_order(
        held.hold_id, ref("item"), Attendee("Rui", "rui@example.org"), idempotency_key=ref("o")
    )
    await port.release(item, held.hold_id, key=ref("release"))
    [after] = await sandbox.orders(ref("item"))
    assert after["order_id"] == order.order_id and after["status"] == "CANCELLED"


async def test_cancelling_an_order_already_cancelled_at_the_partner_reports_its_refund_once(
    port, sandbox, ref, item_for
):
    event, tc = await sandbox.bookable(policy="NO_REFUNDS", min_left=1)
    item = item_for(event, tc, quantity=1)
    held = await port.hold(item, key=ref("hold"), reference=ref("item"))
    done = await port.confirm(item, held.hold_id, GUEST, key=ref("confirm"), reference=ref("item"))
    assert (
        done.ok
        and done.policy is not None
        and not done.policy.refundable
        and done.policy.free_until is None
    )
    first = await port.cancel(item, done.partner_reference, key=ref("cancel"))
    again = await port.cancel(item, done.partner_reference, key=ref("cancel-again"))
    quote = await port.cancel_quote(item, done.partner_reference)
    assert (
        first
        == again
        == quote
        == CancelOutcome(refund=first.refund, fee=first.fee, partner_status="CANCELLED")
    )
    assert first.refund.amount_minor == 0 and first.fee == done.price
    routes = (await sandbox.stats())["by_route"]
    assert routes[f"POST /partner/v1/orders/{done.partner_reference}/cancel"] == 1


async def test_an_unknown_order_cannot_be_cancelled_quietly(port, sandbox, item_for):
    event, tc = await sandbox.bookable(min_left=1)
    with pytest.raises(CancelFailed):
        await port.cancel(item_for(event, tc), "1999999999", key="k")


async def test_unknown_events_and_classes_are_rejected_as_not_found(port, sandbox, ref, item_for):
    event, tc = await sandbox.bookable(min_left=1)
    item = item_for(event, tc, quantity=1)
    out = await port.hold(
        item.model_copy(update={"ticket_class_id": "123"}), key=ref("h"), reference=ref("i")
    )
    assert (
        not out.ok
        and out.reason_code == "not_found"
        and out.partner_status == "TICKET_CLASS_NOT_FOUND"
    )
    too_many = await port.hold(
        item.model_copy(update={"quantity": 20}), key=ref("h2"), reference=ref("i2")
    )
    assert not too_many.ok and too_many.reason_code in {"invalid_item", "insufficient_inventory"}


async def test_a_restaurant_item_is_refused_without_calling_the_partner(port, sandbox, item_for):
    event, tc = await sandbox.bookable(min_left=1)
    item = item_for(event, tc).model_copy(
        update={"event_id": None, "ticket_class_id": None, "venue_id": "r1"}
    )
    out = await port.hold(item, key="k", reference="r")
    assert not out.ok and out.reason_code == "invalid_item"
    assert (await sandbox.stats())["requests"] == 1  # only bookable()'s search
