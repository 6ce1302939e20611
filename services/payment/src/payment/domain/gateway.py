"""The payment gateway port: what handlers may ask of Stripe, and the typed answers they get back.

Pure types, no I/O: the Stripe adapter (adapters/stripe_gateway.py) implements
`PaymentGateway`; unit tests implement it with a fake. Amounts are integer minor
units of the currency (cents; yen for JPY; fils for KWD), exactly what Stripe
expects, so no conversion happens anywhere on this path.

Business answers (a decline, a card that needs 3-D Secure) are *results*.
Refusals the caller can map to a `PaymentFailed` reply (capturing more than was
authorized, refunding more than was captured, voiding a captured payment) are
`PaymentRefused` exceptions carrying a stable `code`. Outages are
`StripeUnavailable`; anything else from Stripe is `StripeRequestFailed` (a bug
or a misconfiguration, not something to retry).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol

# The metadata key under which the command id travels on every PaymentIntent,
# so that an intent created just before a crash can be found again.
COMMAND_ID_KEY = "command_id"


# --- results -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CardDisplay:
    """What we may show and store about a saved card: a token and its public face, never the number."""

    pm_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    is_default: bool = False


class SetupIntentCreated(NamedTuple):
    """Unpacks as `(setup_intent_id, client_secret)`; the browser finishes the setup with the secret."""

    setup_intent_id: str
    client_secret: str


@dataclass(frozen=True, slots=True)
class Authorized:
    """The exact amount is held on the card (PaymentIntent status `requires_capture`)."""

    intent_id: str
    amount_capturable: int
    capture_before: datetime | None
    """When Stripe says the hold lapses; None when Stripe does not say (localstripe never does)."""
    currency: str = ""


@dataclass(frozen=True, slots=True)
class Declined:
    """The issuer or Stripe said no. `decline_code` is Stripe's decline_code when the issuer gave one
    (e.g. `insufficient_funds`), else Stripe's error code (e.g. `card_declined`)."""

    decline_code: str
    message: str
    intent_id: str | None = None
    code: str | None = None


@dataclass(frozen=True, slots=True)
class ActionRequired:
    """The card needs the person (3-D Secure): the browser confirms the intent with this secret."""

    intent_id: str
    client_secret: str


AuthorizationResult = Authorized | Declined | ActionRequired


@dataclass(frozen=True, slots=True)
class Captured:
    intent_id: str
    amount_captured: int
    currency: str = ""


@dataclass(frozen=True, slots=True)
class Voided:
    intent_id: str


@dataclass(frozen=True, slots=True)
class Refunded:
    refund_id: str
    amount: int
    """This refund."""
    total_refunded: int
    """All refunds of this payment so far, this one included."""
    charge_id: str = ""
    currency: str = ""


@dataclass(frozen=True, slots=True)
class IntentSnapshot:
    """A PaymentIntent as Stripe holds it now: what reconciliation needs to decide the next step."""

    intent_id: str
    status: str
    amount: int
    currency: str
    amount_capturable: int
    amount_received: int
    customer_id: str | None
    payment_method_id: str | None
    client_secret: str | None
    metadata: Mapping[str, str] = field(default_factory=dict)
    latest_charge_id: str | None = None
    capture_before: datetime | None = None
    created_at: datetime | None = None
    cancellation_reason: str | None = None
    last_error_code: str | None = None
    last_decline_code: str | None = None
    last_error_message: str | None = None

    @property
    def command_id(self) -> str | None:
        return self.metadata.get(COMMAND_ID_KEY)

    def authorization_outcome(self) -> AuthorizationResult | None:
        """What `authorize` would have answered for this intent, or None when it has moved on
        (captured, canceled) or never got that far."""
        if self.status == "requires_capture":
            return Authorized(
                intent_id=self.intent_id,
                amount_capturable=self.amount_capturable,
                capture_before=self.capture_before,
                currency=self.currency,
            )
        if self.status == "requires_action" or (
            self.status == "requires_payment_method"
            and self.last_error_code == "authentication_required"
        ):
            return ActionRequired(intent_id=self.intent_id, client_secret=self.client_secret or "")
        if self.status == "requires_payment_method" and self.last_error_code:
            return Declined(
                decline_code=self.last_decline_code or self.last_error_code,
                message=self.last_error_message or "",
                intent_id=self.intent_id,
                code=self.last_error_code,
            )
        return None


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A Stripe event whose signature and timestamp were verified."""

    id: str
    type: str
    created: int
    data_object: dict[str, Any]
    livemode: bool = False
    api_version: str | None = None


# --- errors ------------------------------------------------------------------


class PaymentGatewayError(Exception):
    """Base of everything the gateway raises on purpose."""

    code: str = "payment_gateway_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class StripeUnavailable(PaymentGatewayError):
    """Stripe could not be reached or kept failing (connection, 429, 5xx) after bounded retries.
    Safe to retry later with the same idempotency key."""

    code = "stripe_unavailable"

    def __init__(self, message: str, *, operation: str, attempts: int) -> None:
        super().__init__(message)
        self.operation = operation
        self.attempts = attempts


class StripeRequestFailed(PaymentGatewayError):
    """Stripe rejected the request for a reason that retrying will not fix (bad parameters,
    unknown object, bad API key, idempotency key reused with other parameters)."""

    code = "stripe_request_failed"

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        http_status: int | None = None,
        stripe_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.http_status = http_status
        self.stripe_code = stripe_code


class PaymentRefused(PaymentGatewayError):
    """A request we refuse (locally, or Stripe did) because of the payment's state: an expected
    outcome, to be turned into a `PaymentFailed` reply with `code`."""

    code = "payment_refused"


class CaptureExceedsAuthorized(PaymentRefused):
    code = "capture_exceeds_authorized"

    def __init__(self, *, intent_id: str, requested: int, capturable: int) -> None:
        super().__init__(
            f"capture of {requested} refused: only {capturable} is authorized on {intent_id}"
        )
        self.intent_id = intent_id
        self.requested = requested
        self.capturable = capturable


class RefundExceedsCaptured(PaymentRefused):
    code = "refund_exceeds_captured"

    def __init__(self, *, charge_id: str, requested: int, refundable: int) -> None:
        super().__init__(
            f"refund of {requested} refused: only {refundable} of {charge_id} is left to refund"
        )
        self.charge_id = charge_id
        self.requested = requested
        self.refundable = refundable


class IntentStateConflict(PaymentRefused):
    """The intent is not in a state that allows the operation. Codes: `authorization_expired`
    (canceled by Stripe), `intent_canceled`, `already_captured`, `not_authorized`, `not_captured`."""

    def __init__(self, *, intent_id: str, status: str, code: str, operation: str) -> None:
        super().__init__(f"cannot {operation} {intent_id}: it is {status}", code=code)
        self.intent_id = intent_id
        self.status = status
        self.operation = operation


class PaymentMethodNotOwned(PaymentRefused):
    code = "payment_method_not_owned"

    def __init__(self, *, pm_id: str, customer_id: str) -> None:
        super().__init__(f"{pm_id} is not attached to {customer_id}")
        self.pm_id = pm_id
        self.customer_id = customer_id


class UnsupportedPaymentMethod(PaymentRefused):
    code = "unsupported_payment_method"


class WebhookVerificationError(PaymentGatewayError):
    """A webhook we must not trust. Codes: `webhook_signature_invalid` (forged, wrong secret,
    malformed header), `webhook_timestamp_stale` (older than the tolerance: a replay),
    `webhook_payload_invalid` (not JSON or not an event)."""

    code = "webhook_signature_invalid"


# --- the port ----------------------------------------------------------------


class PaymentGateway(Protocol):
    """Everything the payment service asks of the card processor."""

    async def ensure_customer(
        self, user_id: str, email: str | None = None, *, customer_id: str | None = None
    ) -> str: ...

    async def create_setup_intent(
        self, customer_id: str, *, idempotency_key: str | None = None
    ) -> SetupIntentCreated: ...

    async def attach_payment_method(
        self,
        customer_id: str,
        pm_id: str,
        make_default: bool = True,
        *,
        idempotency_key: str | None = None,
    ) -> CardDisplay | Declined: ...

    async def list_payment_methods(self, customer_id: str) -> Sequence[CardDisplay]: ...

    async def set_default(
        self, customer_id: str, pm_id: str, *, idempotency_key: str | None = None
    ) -> None: ...

    async def detach(
        self, pm_id: str, *, customer_id: str | None = None, idempotency_key: str | None = None
    ) -> None: ...

    async def authorize(
        self,
        customer_id: str,
        pm_id: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> AuthorizationResult: ...

    async def find_intent_by_command(
        self, customer_id: str, command_id: str
    ) -> IntentSnapshot | None: ...

    async def list_intents_by_command(
        self, customer_id: str, command_id: str
    ) -> Sequence[IntentSnapshot]: ...

    async def get_intent(self, intent_id: str) -> IntentSnapshot: ...

    def intent_from_object(self, obj: Mapping[str, Any]) -> IntentSnapshot: ...

    async def close(self) -> None: ...

    async def capture(
        self, intent_id: str, amount_minor: int | None, idempotency_key: str
    ) -> Captured: ...

    async def cancel(self, intent_id: str, idempotency_key: str) -> Voided: ...

    async def refund(
        self, payment_id: str, amount_minor: int, idempotency_key: str
    ) -> Refunded: ...

    def construct_webhook_event(
        self, raw_body: bytes, signature_header: str | None, secret: str, tolerance: int = 300
    ) -> WebhookEvent: ...
