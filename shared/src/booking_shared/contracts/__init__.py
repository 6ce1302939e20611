"""The contracts: every message of the system, its envelope, topic names and the booking item."""

from booking_shared.contracts.base import REGISTRY, Command, Message, Reply, model_for
from booking_shared.contracts.booking import (
    BookingCancellationRequested,
    BookingCancelled,
    BookingConfirmed,
    BookingFailed,
    BookingMode,
    BookingRequested,
    ConfirmedItem,
    FailureReason,
    ItemRefund,
    PaymentSource,
)
from booking_shared.contracts.envelope import Envelope
from booking_shared.contracts.items import BookingItem
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
    CancellationPolicy,
    CancelItem,
    Capabilities,
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

__all__ = [name for name in dir() if not name.startswith("_")]
