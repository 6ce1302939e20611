"""Kafka subscription: thin, it hands each saga event to the projection through the shared router
(inbox, retries and dead letters apply to every topic alike)."""

from __future__ import annotations

from booking_shared.contracts import (
    BookingCancellationRequested,
    BookingCancelled,
    BookingConfirmed,
    BookingFailed,
    BookingRequested,
    SagaStateChanged,
)
from booking_shared.contracts.topics import BOOKING_EVENTS, SAGA_STATE
from booking_shared.messaging import MessageRouter
from gateway.handlers.deps import Deps
from gateway.handlers.projection import record_booking_event, record_saga_state


def subscribe(router: MessageRouter, deps: Deps) -> None:
    """The saga's state changes and final events update the gateway's own copy of each booking
    (the projection needs only the message and its transaction, not the deps); the requests it
    sends are declared for its AsyncAPI document."""
    router.on(SAGA_STATE, SagaStateChanged, record_saga_state)
    for event in (BookingConfirmed, BookingFailed, BookingCancelled):
        router.on(BOOKING_EVENTS, event, record_booking_event)
    router.emits(BOOKING_EVENTS, BookingRequested, BookingCancellationRequested)
