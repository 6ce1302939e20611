"""Who sends and who receives what, on which topic: the map the AsyncAPI documents are generated
from (booking_shared.contracts.asyncapi). Tests hold it to the services' own subscriptions."""

from __future__ import annotations

from dataclasses import dataclass, field

from booking_shared.contracts.base import Message
from booking_shared.contracts.booking import (
    BookingCancellationRequested,
    BookingCancelled,
    BookingConfirmed,
    BookingFailed,
    BookingRequested,
)
from booking_shared.contracts.payment import (
    AuthorizePayment,
    CapturePayment,
    PaymentActionRequired,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PaymentFailed,
    PaymentRefunded,
    PaymentVoided,
    RefundPayment,
    VoidPayment,
)
from booking_shared.contracts.provider import (
    CancelItem,
    ConfirmItem,
    HoldItem,
    ItemCancelled,
    ItemConfirmed,
    ItemHeld,
    ItemHoldLapsed,
    ItemRejected,
    ProviderAnnounced,
)
from booking_shared.contracts.saga import SagaStateChanged
from booking_shared.contracts.topics import (
    BOOKING_EVENTS,
    KNOWN_PROVIDERS,
    PAYMENT_COMMANDS,
    PAYMENT_REPLIES,
    PROVIDER_REGISTRY,
    SAGA_STATE,
    provider_commands,
    provider_replies,
)

Models = tuple[type[Message], ...]


@dataclass(frozen=True)
class Topic:
    address: str
    public: bool
    description: str


@dataclass(frozen=True)
class Service:
    name: str
    description: str
    sends: dict[str, Models] = field(default_factory=dict)
    receives: dict[str, Models] = field(default_factory=dict)


PROVIDER_COMMANDS: Models = (HoldItem, ConfirmItem, CancelItem)
PROVIDER_REPLIES: Models = (ItemHeld, ItemRejected, ItemConfirmed, ItemCancelled, ItemHoldLapsed)
PAYMENT_COMMAND_TYPES: Models = (AuthorizePayment, CapturePayment, VoidPayment, RefundPayment)
PAYMENT_REPLY_TYPES: Models = (
    PaymentAuthorized,
    PaymentDeclined,
    PaymentActionRequired,
    PaymentCaptured,
    PaymentVoided,
    PaymentRefunded,
    PaymentFailed,
)
BOOKING_OUTCOMES: Models = (BookingConfirmed, BookingFailed, BookingCancelled)

TOPICS: dict[str, Topic] = {
    BOOKING_EVENTS: Topic(
        BOOKING_EVENTS,
        public=True,
        description="The booking lifecycle: requested, confirmed, failed, cancellation requested, cancelled. "
        "No personal data (guest contact is sealed). Key: the booking id.",
    ),
    SAGA_STATE: Topic(
        SAGA_STATE,
        public=True,
        description="Every state change of every booking saga, for dashboards and other teams. Key: the booking id.",
    ),
    PAYMENT_COMMANDS: Topic(PAYMENT_COMMANDS, False, "The saga's commands to the payment service."),
    PAYMENT_REPLIES: Topic(
        PAYMENT_REPLIES, False, "The payment service's answers to those commands."
    ),
    PROVIDER_REGISTRY: Topic(
        PROVIDER_REGISTRY,
        False,
        "Provider services announce what they book and what they can do (key: provider).",
    ),
}
for _p in KNOWN_PROVIDERS:
    TOPICS[provider_commands(_p)] = Topic(
        provider_commands(_p), False, f"The saga's commands to the {_p} provider."
    )
    TOPICS[provider_replies(_p)] = Topic(
        provider_replies(_p), False, f"The {_p} provider's answers."
    )


def _provider(name: str) -> Service:
    return Service(
        name=f"provider-{name}",
        description=f"The {name} partner adapter: holds, confirms and cancels items at the partner.",
        sends={provider_replies(name): PROVIDER_REPLIES, PROVIDER_REGISTRY: (ProviderAnnounced,)},
        receives={provider_commands(name): PROVIDER_COMMANDS},
    )


SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        Service(
            name="gateway",
            description="The public HTTP API: publishes a person's booking and cancellation requests, "
            "and follows the outcome.",
            sends={BOOKING_EVENTS: (BookingRequested, BookingCancellationRequested)},
            receives={BOOKING_EVENTS: BOOKING_OUTCOMES, SAGA_STATE: (SagaStateChanged,)},
        ),
        Service(
            name="booking-orchestrator",
            description="The saga: holds, authorizes, confirms, captures, compensates.",
            sends={
                BOOKING_EVENTS: BOOKING_OUTCOMES,
                SAGA_STATE: (SagaStateChanged,),
                PAYMENT_COMMANDS: PAYMENT_COMMAND_TYPES,
                **{provider_commands(p): PROVIDER_COMMANDS for p in KNOWN_PROVIDERS},
            },
            receives={
                BOOKING_EVENTS: (BookingRequested, BookingCancellationRequested),
                PAYMENT_REPLIES: PAYMENT_REPLY_TYPES,
                PROVIDER_REGISTRY: (ProviderAnnounced,),
                **{provider_replies(p): PROVIDER_REPLIES for p in KNOWN_PROVIDERS},
            },
        ),
        Service(
            name="payment",
            description="Stripe: authorizes, captures, voids and refunds with saved cards (tokens only).",
            sends={PAYMENT_REPLIES: PAYMENT_REPLY_TYPES},
            receives={PAYMENT_COMMANDS: PAYMENT_COMMAND_TYPES},
        ),
        *(_provider(p) for p in KNOWN_PROVIDERS),
    )
}
