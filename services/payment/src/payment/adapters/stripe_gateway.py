"""StripeGateway: the payment service's only door to Stripe, through the official SDK's async StripeClient.

What it promises (see payment.domain.gateway for the types):
- Tokens only: it handles `cus_`, `pm_`, `pi_`, `ch_`, `re_` ids and a card's brand/last4/expiry,
  never a card number.
- Every write carries an Idempotency-Key derived from the caller's key (`<key>:<operation>`), and
  the same key is reused on each retry, so a retried or re-delivered command cannot charge twice
  on Stripe. localstripe ignores Idempotency-Key, so the gateway also makes capture, void and
  refund idempotent by looking at the payment's state (see services/payment/LOCALSTRIPE-NOTES.md).
- Transient failures (connection errors, 429, 409 lock conflicts, 5xx) are retried with bounded
  exponential backoff and jitter, then surface as `StripeUnavailable`. Card answers become typed
  results (`Declined`, `ActionRequired`); state refusals become `PaymentRefused` subclasses.
- Amounts are integer minor units and go to Stripe unchanged. That is right for every currency,
  zero-decimal ones included: JPY 500 is `amount=500` (¥500), EUR 5.00 is `amount=500`.
  (Stripe's special cases: three-decimal currencies must end in 0, and a few currencies such as
  HUF/TWD accept only whole units for payouts; the caller's Money type owns those rules.)
- Works against Stripe and against localstripe (`api_base`); where the emulator differs, the code
  says so next to the workaround.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, NotRequired, TypedDict, TypeVar

import stripe
from opentelemetry.trace import SpanKind
from stripe.params import (
    CustomerCreateParams,
    PaymentIntentCaptureParams,
    PaymentIntentCreateParams,
    SetupIntentCreateParams,
)
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from booking_shared import tracing
from booking_shared.metrics import time_call
from payment.adapters.stripe_webhooks import DEFAULT_TOLERANCE_S, verify_webhook
from payment.domain.gateway import (
    COMMAND_ID_KEY,
    ActionRequired,
    AuthorizationResult,
    Captured,
    CaptureExceedsAuthorized,
    CardDisplay,
    Declined,
    IntentSnapshot,
    IntentStateConflict,
    PaymentMethodNotOwned,
    Refunded,
    RefundExceedsCaptured,
    SetupIntentCreated,
    StripeRequestFailed,
    StripeUnavailable,
    UnsupportedPaymentMethod,
    Voided,
    WebhookEvent,
)

log = logging.getLogger(__name__)


class _Page(TypedDict):
    """The paging part of every Stripe list call."""

    limit: int
    starting_after: NotRequired[str]


T = TypeVar("T")

# Marks refunds we made (value: the Idempotency-Key used), so a repeated refund command finds the
# first one instead of refunding twice, even where Stripe has forgotten the key (after 24 h) or
# never honoured it (localstripe).
REFUND_KEY_METADATA = "refund_key"

_MAX_IDEMPOTENCY_KEY = 255
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
# When several intents carry the same command id (only possible where idempotency keys are not
# honoured), the one furthest along wins.
_STATUS_RANK = {
    "succeeded": 6,
    "requires_capture": 5,
    "processing": 4,
    "requires_action": 3,
    "requires_confirmation": 2,
    "requires_payment_method": 1,
    "canceled": 0,
}


class StripeGateway:
    """Async Stripe client for the payment service. Build it once (bootstrap) and `await close()`."""

    def __init__(
        self,
        api_key: str,
        api_base: str | None = None,
        *,
        max_attempts: int = 4,
        backoff_base_s: float = 0.05,
        backoff_max_s: float = 2.0,
        timeout_s: float = 20.0,
        max_list_pages: int = 20,
        list_page_size: int = 100,
        stripe_version: str | None = None,
        http_client: stripe.HTTPClient | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if not api_key:
            raise ValueError("a Stripe secret key is required")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._owns_http = http_client is None
        self._http = http_client or stripe.HTTPXClient(timeout=timeout_s)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None,
            http_client=self._http,
            # Retries are ours (_request, through tenacity), not the SDK's: the SDK's backoff is
            # fixed class-wide at 0.5-5 s, it does not retry a 429, and its attempts are neither
            # counted nor logged; both layers at once would multiply the attempts.
            max_network_retries=0,
            stripe_version=stripe_version,
        )
        self._v1 = self._client.v1
        self._max_attempts = max_attempts
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._max_list_pages = max_list_pages
        self._list_page_size = list_page_size
        self._sleep = sleep
        # Stripe lists PaymentIntents by customer; localstripe answers 400 "Unexpected customer".
        # None until the first answer tells us which one we talk to.
        self._intents_listable_by_customer: bool | None = None

    async def close(self) -> None:
        if self._owns_http:
            await self._http.close_async()

    async def __aenter__(self) -> StripeGateway:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- customers and saved cards -------------------------------------------------------

    async def ensure_customer(
        self,
        user_id: str,
        email: str | None = None,
        *,
        customer_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """The Stripe customer for our user: `customer_id` if it still exists, else a new one
        (metadata user_id). Callers store the id. The create's key derives from the user id and
        email, so a crash before storing it does not make a second customer (within Stripe's 24 h)."""
        if customer_id:
            try:
                existing = await self._request(
                    "retrieve_customer",
                    lambda: self._v1.customers.retrieve_async(customer_id),
                    passthrough=(stripe.InvalidRequestError,),
                )
            except stripe.InvalidRequestError as exc:
                if exc.http_status != 404:
                    raise _request_failed("retrieve_customer", exc) from exc
            else:
                if not _plain(existing).get("deleted"):
                    return existing.id
        params: CustomerCreateParams = {"metadata": {"user_id": user_id}}
        if email:
            params["email"] = email
        email_tag = hashlib.sha256((email or "").encode()).hexdigest()[:16]
        key = _derive_key(idempotency_key or f"customer:{user_id}:{email_tag}", "create_customer")
        created = await self._request(
            "create_customer",
            lambda: self._v1.customers.create_async(
                params=params, options={"idempotency_key": key}
            ),
        )
        return created.id

    async def create_setup_intent(
        self, customer_id: str, *, idempotency_key: str | None = None
    ) -> SetupIntentCreated:
        """A SetupIntent for saving a card for later off-session use; the browser confirms it
        with the client secret (Stripe.js), so the card number never reaches us."""
        key = _derive_key(idempotency_key, "create_setup_intent")
        params: SetupIntentCreateParams = {
            "customer": customer_id,
            "usage": "off_session",
            # The SDK's types know only the newer allowed_payment_method_types; Stripe still
            # takes this spelling, and localstripe knows no other.
            "payment_method_types": ["card"],  # type: ignore[typeddict-unknown-key]
        }
        si = await self._request(
            "create_setup_intent",
            lambda: self._v1.setup_intents.create_async(
                params=params, options={"idempotency_key": key}
            ),
        )
        if si.client_secret is None:  # Stripe always returns one for a new SetupIntent
            raise StripeRequestFailed(
                "the new SetupIntent has no client_secret", operation="create_setup_intent"
            )
        return SetupIntentCreated(setup_intent_id=si.id, client_secret=si.client_secret)

    async def attach_payment_method(
        self,
        customer_id: str,
        pm_id: str,
        make_default: bool = True,
        *,
        idempotency_key: str | None = None,
    ) -> CardDisplay | Declined:
        """Attach a card token to the customer (a no-op if it already is) and optionally make it
        the default. A card refused at attach comes back as `Declined` (intent_id None).
        The returned `pm_id` is the one to store: a test alias such as `pm_card_visa` becomes a
        new `pm_...` on each use."""
        base = idempotency_key or uuid.uuid4().hex
        pm = _plain(
            await self._request(
                "retrieve_payment_method",
                lambda: self._v1.payment_methods.retrieve_async(pm_id),
            )
        )
        _card_of(pm)  # refuse non-card methods before touching the customer
        owner = _id_of(pm.get("customer"))
        if owner and owner != customer_id:
            raise PaymentMethodNotOwned(pm_id=pm_id, customer_id=customer_id)
        if owner != customer_id:
            key = _derive_key(base, "attach")
            try:
                pm = _plain(
                    await self._request(
                        "attach_payment_method",
                        lambda: self._v1.payment_methods.attach_async(
                            pm["id"],
                            params={"customer": customer_id},
                            options={"idempotency_key": key},
                        ),
                        passthrough=(stripe.CardError,),
                    )
                )
            except stripe.CardError as exc:
                declined = _declined_from(exc, intent_id=None)
                log.info("card refused at attach: %s", declined.decline_code)
                return declined
        if make_default:
            await self._set_default_unchecked(customer_id, pm["id"], _derive_key(base, "default"))
        return _card_display(pm, is_default=make_default)

    async def list_payment_methods(self, customer_id: str) -> list[CardDisplay]:
        """The customer's saved cards, the default one flagged."""
        methods, customer = await asyncio.gather(
            self._list_all(
                "list_payment_methods",
                lambda after: self._v1.payment_methods.list_async(
                    params={"customer": customer_id, "type": "card", **self._page(after)}
                ),
            ),
            self._request(
                "retrieve_customer", lambda: self._v1.customers.retrieve_async(customer_id)
            ),
        )
        default = _id_of(
            (_plain(customer).get("invoice_settings") or {}).get("default_payment_method")
        )
        return [_card_display(pm, is_default=pm["id"] == default) for pm in methods]

    async def set_default(
        self, customer_id: str, pm_id: str, *, idempotency_key: str | None = None
    ) -> None:
        """Make one of the customer's own cards the default (refuses someone else's card;
        localstripe would not)."""
        pm = _plain(
            await self._request(
                "retrieve_payment_method", lambda: self._v1.payment_methods.retrieve_async(pm_id)
            )
        )
        if _id_of(pm.get("customer")) != customer_id:
            raise PaymentMethodNotOwned(pm_id=pm_id, customer_id=customer_id)
        await self._set_default_unchecked(
            customer_id, pm_id, _derive_key(idempotency_key, "set_default")
        )

    async def detach(
        self, pm_id: str, *, customer_id: str | None = None, idempotency_key: str | None = None
    ) -> None:
        """Remove a saved card. Idempotent: an already detached card is fine. With `customer_id`,
        refuses a card that belongs to another customer."""
        pm = _plain(
            await self._request(
                "retrieve_payment_method", lambda: self._v1.payment_methods.retrieve_async(pm_id)
            )
        )
        owner = _id_of(pm.get("customer"))
        if owner is None:
            return
        if customer_id is not None and owner != customer_id:
            raise PaymentMethodNotOwned(pm_id=pm_id, customer_id=customer_id)
        key = _derive_key(idempotency_key, "detach")
        await self._request(
            "detach_payment_method",
            lambda: self._v1.payment_methods.detach_async(pm_id, options={"idempotency_key": key}),
        )

    async def _set_default_unchecked(self, customer_id: str, pm_id: str, key: str) -> None:
        await self._request(
            "set_default_payment_method",
            lambda: self._v1.customers.update_async(
                customer_id,
                params={"invoice_settings": {"default_payment_method": pm_id}},
                options={"idempotency_key": key},
            ),
        )

    # --- payments --------------------------------------------------------------------------

    async def authorize(
        self,
        customer_id: str,
        pm_id: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> AuthorizationResult:
        """Hold exactly `amount_minor` on the saved card, off-session: a PaymentIntent with
        capture_method=manual, confirm=true. `metadata` must carry `command_id` (the command that
        asked), which is how `find_intent_by_command` finds the intent after a crash."""
        _check_amount(amount_minor)
        cur = _check_currency(currency)
        meta = _check_metadata(metadata)
        if not meta.get(COMMAND_ID_KEY):
            raise ValueError(f"metadata must include {COMMAND_ID_KEY!r}")
        params: PaymentIntentCreateParams = {
            "amount": amount_minor,
            "currency": cur.lower(),
            "customer": customer_id,
            "payment_method": pm_id,
            "capture_method": "manual",
            "confirm": True,
            "off_session": True,
            # Naming the type keeps automatic_payment_methods off, so Stripe does not ask for a
            # return_url (redirect methods); localstripe also knows only this spelling, which
            # the SDK's types no longer list (they know allowed_payment_method_types).
            "payment_method_types": ["card"],  # type: ignore[typeddict-unknown-key]
            "metadata": meta,
            # capture_before lives on the charge.
            "expand": ["latest_charge"],
        }
        key = _derive_key(idempotency_key, "authorize")
        try:
            pi = await self._request(
                "authorize",
                lambda: self._v1.payment_intents.create_async(
                    params=params, options={"idempotency_key": key}
                ),
                passthrough=(stripe.CardError,),
            )
        except stripe.CardError as exc:
            return await self._authorization_from_card_error(exc)
        snap = _snapshot(_plain(pi))
        outcome = snap.authorization_outcome()
        if outcome is None:
            raise StripeRequestFailed(
                f"authorize left {snap.intent_id} in unexpected status {snap.status}",
                operation="authorize",
            )
        if isinstance(outcome, Declined):
            log.info("authorization declined: %s", outcome.decline_code)
        return outcome

    async def _authorization_from_card_error(self, exc: stripe.CardError) -> AuthorizationResult:
        err = _error_body(exc)
        pi = err.get("payment_intent") if isinstance(err.get("payment_intent"), dict) else None
        if pi and "authentication_required" in (exc.code, err.get("decline_code")):
            # Stripe's off-session answer for a card that wants 3-D Secure: a 402 carrying the
            # intent; the person completes it on-session with the client secret.
            return ActionRequired(intent_id=pi["id"], client_secret=pi.get("client_secret") or "")
        intent_id = pi["id"] if pi else None
        if intent_id is None and err.get("charge"):
            # localstripe's 402 names only the failed charge; the charge names its intent.
            intent_id = await self._intent_of_charge(str(err["charge"]))
        declined = _declined_from(exc, intent_id=intent_id)
        log.info("authorization declined: %s", declined.decline_code)
        return declined

    async def _intent_of_charge(self, charge_id: str) -> str | None:
        try:
            charge = await self._request(
                "retrieve_charge", lambda: self._v1.charges.retrieve_async(charge_id)
            )
        except (StripeRequestFailed, StripeUnavailable):
            log.warning("could not find the intent of failed charge %s", charge_id)
            return None
        return _id_of(_plain(charge).get("payment_intent"))

    async def get_intent(self, intent_id: str) -> IntentSnapshot:
        pi = await self._request(
            "retrieve_payment_intent",
            lambda: self._v1.payment_intents.retrieve_async(
                intent_id, params={"expand": ["latest_charge"]}
            ),
        )
        return _snapshot(_plain(pi))

    def intent_from_object(self, obj: Mapping[str, Any]) -> IntentSnapshot:
        """A PaymentIntent object as a (verified) webhook carries it, read the way `get_intent`
        reads one, with the same emulator fallbacks."""
        return _snapshot(dict(obj))

    async def find_intent_by_command(
        self, customer_id: str, command_id: str
    ) -> IntentSnapshot | None:
        """The intent an earlier `authorize` for this command created, if any: for the crash
        between Stripe's answer and our commit. Lists the customer's intents (strongly
        consistent, unlike the Search API, which may lag by a minute) and matches metadata."""
        found = await self.list_intents_by_command(customer_id, command_id)
        return found[0] if found else None

    async def list_intents_by_command(
        self, customer_id: str, command_id: str
    ) -> list[IntentSnapshot]:
        """All intents carrying this command id, the one furthest along first. More than one can
        exist only where idempotency keys are not honoured (localstripe); void the extras."""

        def ours(pi: dict[str, Any]) -> bool:
            return (
                _id_of(pi.get("customer")) == customer_id
                and (pi.get("metadata") or {}).get(COMMAND_ID_KEY) == command_id
            )

        matches = [_snapshot(pi) for pi in await self._scan_intents(customer_id, ours)]
        matches.sort(
            key=lambda s: (
                _STATUS_RANK.get(s.status, -1),
                s.created_at or datetime.min.replace(tzinfo=UTC),
            ),
            reverse=True,
        )
        return matches

    async def _scan_intents(
        self, customer_id: str, keep: Callable[[dict[str, Any]], bool]
    ) -> list[dict[str, Any]]:
        expand = ["data.latest_charge"]
        if self._intents_listable_by_customer is not False:
            try:
                items = await self._list_all(
                    "list_payment_intents",
                    lambda after: self._v1.payment_intents.list_async(
                        params={"customer": customer_id, "expand": expand, **self._page(after)}
                    ),
                    keep=keep,
                )
            except StripeRequestFailed as exc:
                if not (
                    self._intents_listable_by_customer is None
                    and exc.http_status == 400
                    and "customer" in exc.message.lower()
                ):
                    raise
                log.warning(
                    "this Stripe (an emulator?) cannot list PaymentIntents by customer; "
                    "scanning all intents instead"
                )
                self._intents_listable_by_customer = False
            else:
                self._intents_listable_by_customer = True
                return items
        # localstripe lists oldest first, so a page limit would drop the newest intents, the ones
        # a reconciliation looks for: read them all (a dev-only path).
        return await self._list_all(
            "list_payment_intents",
            lambda after: self._v1.payment_intents.list_async(
                params={"expand": expand, **self._page(after)}
            ),
            max_pages=None,
            keep=keep,
        )

    async def capture(
        self, intent_id: str, amount_minor: int | None, idempotency_key: str
    ) -> Captured:
        """Take the held money: all of it (`None`) or part of it (the rest is released).

        The intent is read first, which costs one GET and buys three things: asking for more than
        is authorized is refused here; a repeated command on a captured intent answers what was
        captured, whatever the key; and a canceled intent is refused (localstripe would capture a
        canceled intent, Stripe would not)."""
        if amount_minor is not None:
            _check_amount(amount_minor)
        snap = await self.get_intent(intent_id)
        if snap.status == "succeeded":
            return _captured(snap)
        if snap.status != "requires_capture":
            raise _state_conflict(snap, "capture")
        if amount_minor is not None and amount_minor > snap.amount_capturable:
            raise CaptureExceedsAuthorized(
                intent_id=intent_id, requested=amount_minor, capturable=snap.amount_capturable
            )
        params: PaymentIntentCaptureParams = {"expand": ["latest_charge"]}
        if amount_minor is not None:
            params["amount_to_capture"] = amount_minor
        key = _derive_key(idempotency_key, "capture")
        try:
            pi = await self._request(
                "capture",
                lambda: self._v1.payment_intents.capture_async(
                    intent_id, params=params, options={"idempotency_key": key}
                ),
                passthrough=(stripe.InvalidRequestError, stripe.CardError),
            )
        except (stripe.InvalidRequestError, stripe.CardError) as exc:
            if exc.http_status == 404:
                raise _request_failed("capture", exc) from exc
            snap = await self.get_intent(intent_id)
            if snap.status == "succeeded":
                return _captured(snap)
            if snap.status != "requires_capture":
                raise _state_conflict(snap, "capture") from exc
            raise _request_failed("capture", exc) from exc
        return _captured(_snapshot(_plain(pi)))

    async def cancel(self, intent_id: str, idempotency_key: str) -> Voided:
        """Release the hold. Idempotent: an intent already canceled (by us, or by Stripe when the
        authorization lapsed) is Voided; a captured one is refused (`already_captured`)."""
        key = _derive_key(idempotency_key, "cancel")
        try:
            await self._request(
                "cancel",
                lambda: self._v1.payment_intents.cancel_async(
                    intent_id, options={"idempotency_key": key}
                ),
                passthrough=(stripe.InvalidRequestError,),
            )
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                raise _request_failed("cancel", exc) from exc
            snap = await self.get_intent(intent_id)
            if snap.status == "canceled":
                return Voided(intent_id=intent_id)
            raise _state_conflict(snap, "void") from exc
        return Voided(intent_id=intent_id)

    async def refund(self, payment_id: str, amount_minor: int, idempotency_key: str) -> Refunded:
        """Give back part or all of a captured payment (`pi_...` or `ch_...`). Refunds never add up
        to more than was captured: refused here (`RefundExceedsCaptured`) before Stripe is asked,
        which matters on localstripe, which would refund any amount. A repeated command (same key)
        returns the refund it already made."""
        _check_amount(amount_minor)
        key = _derive_key(idempotency_key, "refund")
        charge = await self._captured_charge(payment_id)
        charge_id = charge["id"]
        refunds = await self._list_all(
            "list_refunds",
            lambda after: self._v1.refunds.list_async(
                params={"charge": charge_id, **self._page(after)}
            ),
        )
        captured, refunded = _charge_amounts(charge, refunds)
        currency = str(charge.get("currency") or "").upper()
        for earlier in refunds:
            if (earlier.get("metadata") or {}).get(REFUND_KEY_METADATA) == key:
                return Refunded(
                    refund_id=earlier["id"],
                    amount=int(earlier["amount"]),
                    total_refunded=refunded,
                    charge_id=charge_id,
                    currency=currency,
                )
        refundable = captured - refunded
        if amount_minor > refundable:
            raise RefundExceedsCaptured(
                charge_id=charge_id, requested=amount_minor, refundable=refundable
            )
        try:
            created = await self._request(
                "refund",
                lambda: self._v1.refunds.create_async(
                    params={
                        "charge": charge_id,
                        "amount": amount_minor,
                        "metadata": {REFUND_KEY_METADATA: key},
                    },
                    options={"idempotency_key": key},
                ),
                passthrough=(stripe.InvalidRequestError,),
            )
        except stripe.InvalidRequestError as exc:
            # Someone refunded in between (the dashboard, another instance): Stripe has the last word.
            if exc.code in ("amount_too_large", "charge_already_refunded"):
                raise RefundExceedsCaptured(
                    charge_id=charge_id, requested=amount_minor, refundable=refundable
                ) from exc
            raise _request_failed("refund", exc) from exc
        body = _plain(created)
        return Refunded(
            refund_id=body["id"],
            amount=int(body["amount"]),
            total_refunded=refunded + int(body["amount"]),
            charge_id=charge_id,
            currency=currency,
        )

    async def _captured_charge(self, payment_id: str) -> dict[str, Any]:
        if payment_id.startswith("pi_"):
            snap_pi = _plain(
                await self._request(
                    "retrieve_payment_intent",
                    lambda: self._v1.payment_intents.retrieve_async(
                        payment_id, params={"expand": ["latest_charge"]}
                    ),
                )
            )
            charge = snap_pi.get("latest_charge")
            if not isinstance(charge, dict) or snap_pi.get("status") != "succeeded":
                raise IntentStateConflict(
                    intent_id=payment_id,
                    status=str(snap_pi.get("status")),
                    code="not_captured",
                    operation="refund",
                )
            return charge
        if payment_id.startswith("ch_"):
            charge = _plain(
                await self._request(
                    "retrieve_charge", lambda: self._v1.charges.retrieve_async(payment_id)
                )
            )
            if not charge.get("captured") or charge.get("status") != "succeeded":
                raise IntentStateConflict(
                    intent_id=_id_of(charge.get("payment_intent")) or payment_id,
                    status=str(charge.get("status")),
                    code="not_captured",
                    operation="refund",
                )
            return charge
        raise ValueError(f"not a PaymentIntent or Charge id: {payment_id!r}")

    # --- webhooks --------------------------------------------------------------------------

    def construct_webhook_event(
        self,
        raw_body: bytes,
        signature_header: str | None,
        secret: str,
        tolerance: int = DEFAULT_TOLERANCE_S,
    ) -> WebhookEvent:
        """Verify a webhook's Stripe-Signature over the raw body and its age, then parse it.
        Raises `WebhookVerificationError` (forged, stale, or not an event). Deduplicating
        replays by event id is the caller's job (its inbox)."""
        return verify_webhook(raw_body, signature_header, secret, tolerance)

    # --- plumbing --------------------------------------------------------------------------

    async def _request(
        self,
        operation: str,
        call: Callable[[], Awaitable[T]],
        *,
        passthrough: tuple[type[stripe.StripeError], ...] = (),
    ) -> T:
        """Run one Stripe call, retrying transient failures. `call` builds a fresh request each
        time with the same Idempotency-Key. Errors listed in `passthrough` reach the caller as
        they are (it knows what they mean); others become StripeRequestFailed."""

        def give_up(state: RetryCallState) -> T:
            exc = state.outcome.exception() if state.outcome else None
            assert isinstance(exc, stripe.StripeError)
            raise StripeUnavailable(
                f"Stripe {operation} failed {state.attempt_number} times: {type(exc).__name__}: "
                f"{exc.user_message or exc}",
                operation=operation,
                attempts=state.attempt_number,
            ) from exc

        def warn(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "Stripe %s failed transiently (%s, attempt %d/%d); retrying in %.3f s",
                operation,
                type(exc).__name__,
                state.attempt_number,
                self._max_attempts,
                state.upcoming_sleep,
            )

        with tracing.span(
            f"stripe {operation}", {"stripe.operation": operation}, kind=SpanKind.CLIENT
        ) as span:

            async def attempt() -> T:
                with time_call("stripe", operation) as timed:
                    try:
                        return await call()
                    except stripe.StripeError as exc:
                        timed["outcome"] = _outcome(exc)
                        raise

            def count(state: RetryCallState) -> None:
                if span is not None:
                    span.set_attribute("stripe.attempts", state.attempt_number)

            try:
                return await AsyncRetrying(
                    stop=stop_after_attempt(self._max_attempts),
                    retry=retry_if_exception(
                        lambda exc: isinstance(exc, stripe.StripeError) and _is_transient(exc)
                    ),
                    wait=lambda state: self._backoff(state.attempt_number),
                    sleep=self._sleep,
                    before=count,
                    before_sleep=warn,
                    retry_error_callback=give_up,
                )(attempt)
            except stripe.StripeError as exc:  # not transient: a typed answer, or passed through
                if isinstance(exc, passthrough):
                    raise
                raise _request_failed(operation, exc) from exc

    def _backoff(self, attempt: int) -> float:
        # Exponential with "equal jitter": at least half the step, so retries do not stampede.
        step = min(self._backoff_max_s, self._backoff_base_s * (2 ** (attempt - 1)))
        return step / 2 + random.uniform(0, step / 2)

    def _page(self, after: str | None) -> _Page:
        page: _Page = {"limit": self._list_page_size}
        if after:
            page["starting_after"] = after
        return page

    async def _list_all(
        self,
        operation: str,
        page: Callable[[str | None], Awaitable[Any]],
        *,
        max_pages: int | None = -1,
        keep: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """Follow `starting_after` pages, up to `max_pages` (-1: the gateway's
        setting; None: no limit), keeping the items `keep` accepts."""
        limit = self._max_list_pages if max_pages == -1 else max_pages
        items: list[dict[str, Any]] = []
        after: str | None = None
        pages = 0
        while limit is None or pages < limit:
            pages += 1
            result = _plain(await self._request(operation, partial(page, after)))
            data = result.get("data") or []
            items.extend(item for item in data if keep is None or keep(item))
            if not result.get("has_more") or not data:
                return items
            after = data[-1]["id"]
        log.warning("%s: stopped after %d pages", operation, pages)
        return items


# --- mapping helpers (pure) -----------------------------------------------------------------


def _plain(obj: Any) -> dict[str, Any]:
    """A StripeObject as plain dicts (the SDK's objects are not dicts)."""
    if isinstance(obj, dict):
        return obj
    if obj is None:
        return {}
    return obj.to_dict(recursive=True)


def _id_of(value: Any) -> str | None:
    """An id from a field that is either an id or an expanded object."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        return value.get("id")
    return getattr(value, "id", None)


def _derive_key(base: str | None, operation: str) -> str:
    """Idempotency-Key for one write: `<caller key>:<operation>`, hashed if too long. Without a
    caller key, a random one: still sent, so the retries of this one call are safe."""
    key = f"{base or uuid.uuid4().hex}:{operation}"
    if len(key) > _MAX_IDEMPOTENCY_KEY:
        key = f"{hashlib.sha256(key.encode()).hexdigest()}:{operation}"
    return key


def _check_amount(amount_minor: int) -> None:
    if type(amount_minor) is not int or amount_minor <= 0:
        raise ValueError(
            f"amount_minor must be a positive integer of minor units, got {amount_minor!r}"
        )


def _check_currency(currency: str) -> str:
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise ValueError(f"currency must be an ISO 4217 code, got {currency!r}")
    return currency.upper()


def _check_metadata(metadata: Mapping[str, Any]) -> dict[str, str]:
    # Stripe's limits: 50 keys, key <= 40 chars, value <= 500 chars. No PII belongs here.
    meta = {str(k): str(v) for k, v in metadata.items()}
    if len(meta) > 50 or any(len(k) > 40 or len(v) > 500 for k, v in meta.items()):
        raise ValueError(
            "metadata exceeds Stripe's limits (50 keys, 40-char keys, 500-char values)"
        )
    return meta


def _outcome(exc: stripe.StripeError) -> str:
    """How a failed call reads in the call-latency metric."""
    if isinstance(exc, stripe.APIConnectionError):
        return "network"
    return "error" if _is_transient(exc) else "rejected"


def _is_transient(exc: stripe.StripeError) -> bool:
    should_retry = _header(exc, "stripe-should-retry")
    if should_retry == "false":
        return False
    if should_retry == "true":
        return True
    if isinstance(exc, (stripe.APIConnectionError, stripe.RateLimitError)):
        return True
    if isinstance(exc, stripe.APIError):
        # 5xx, or 409 (a concurrent request holds the idempotency key's lock).
        return exc.http_status is None or exc.http_status >= 500 or exc.http_status == 409
    return False


def _header(exc: stripe.StripeError, name: str) -> str | None:
    headers = exc.headers or {}
    for key, value in dict(headers).items():
        if str(key).lower() == name:
            return str(value).lower()
    return None


def _error_body(exc: stripe.StripeError) -> dict[str, Any]:
    body = exc.json_body if isinstance(exc.json_body, dict) else {}
    err = body.get("error")
    return dict(err) if isinstance(err, dict) else {}


def _request_failed(operation: str, exc: stripe.StripeError) -> StripeRequestFailed:
    return StripeRequestFailed(
        f"Stripe {operation} failed: {type(exc).__name__}: {exc.user_message or exc}",
        operation=operation,
        http_status=exc.http_status,
        stripe_code=getattr(exc, "code", None),
    )


def _declined_from(exc: stripe.CardError, *, intent_id: str | None) -> Declined:
    err = _error_body(exc)
    code = exc.code or err.get("code") or "card_declined"
    return Declined(
        decline_code=err.get("decline_code") or code,
        message=err.get("message") or exc.user_message or "Your card was declined.",
        intent_id=intent_id,
        code=code,
    )


def _card_of(pm: dict[str, Any]) -> dict[str, Any]:
    card = pm.get("card")
    if pm.get("type") != "card" or not isinstance(card, dict):
        raise UnsupportedPaymentMethod(f"{pm.get('id')} is a {pm.get('type')}, not a card")
    return card


def _card_display(pm: dict[str, Any], *, is_default: bool) -> CardDisplay:
    card = _card_of(pm)
    return CardDisplay(
        pm_id=pm["id"],
        brand=str(card.get("brand") or "unknown"),
        last4=str(card.get("last4") or ""),
        exp_month=int(card.get("exp_month") or 0),
        exp_year=int(card.get("exp_year") or 0),
        is_default=is_default,
    )


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and value > 0:
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def _charge_amounts(
    charge: dict[str, Any], refunds: list[dict[str, Any]] | None = None
) -> tuple[int, int]:
    """(captured, refunded by actual refunds) for a charge, on Stripe and on localstripe.

    A partial capture releases the rest. Stripe reports `amount_captured` and may count the
    released rest in `amount_refunded`; localstripe has no `amount_captured` and records the rest
    as a Refund (one we did not make, so without our metadata mark)."""
    amount = int(charge.get("amount") or 0)
    if not charge.get("captured"):
        return 0, 0
    amount_refunded = int(charge.get("amount_refunded") or 0)
    if "amount_captured" in charge:
        captured = int(charge["amount_captured"] or 0)
    else:
        if refunds is None:
            refunds = list(((charge.get("refunds") or {}).get("data")) or [])
        released = sum(
            int(r.get("amount") or 0)
            for r in refunds
            if REFUND_KEY_METADATA not in (r.get("metadata") or {})
        )
        captured = amount - released
    uncaptured = amount - captured
    return captured, max(0, amount_refunded - uncaptured)


def _snapshot(pi: dict[str, Any]) -> IntentSnapshot:
    status = str(pi.get("status") or "")
    amount = int(pi.get("amount") or 0)
    charge = pi.get("latest_charge")
    charge = charge if isinstance(charge, dict) else None
    capture_before = None
    if charge:
        card_details = ((charge.get("payment_method_details") or {}).get("card")) or {}
        capture_before = _timestamp(card_details.get("capture_before"))
    if "amount_capturable" in pi:
        amount_capturable = int(pi["amount_capturable"] or 0)
    else:  # localstripe
        amount_capturable = amount if status == "requires_capture" else 0
    if "amount_received" in pi:
        amount_received = int(pi["amount_received"] or 0)
    else:  # localstripe
        amount_received = _charge_amounts(charge)[0] if charge and status == "succeeded" else 0
    error = pi.get("last_payment_error") or {}
    return IntentSnapshot(
        intent_id=str(pi["id"]),
        status=status,
        amount=amount,
        currency=str(pi.get("currency") or "").upper(),
        amount_capturable=amount_capturable,
        amount_received=amount_received,
        customer_id=_id_of(pi.get("customer")),
        payment_method_id=_id_of(pi.get("payment_method")),
        client_secret=pi.get("client_secret"),
        metadata={str(k): str(v) for k, v in (pi.get("metadata") or {}).items()},
        latest_charge_id=_id_of(pi.get("latest_charge")),
        capture_before=capture_before,
        created_at=_timestamp(pi.get("created")),
        cancellation_reason=pi.get("cancellation_reason"),
        last_error_code=error.get("code"),
        last_decline_code=error.get("decline_code"),
        last_error_message=error.get("message"),
    )


def _captured(snap: IntentSnapshot) -> Captured:
    return Captured(
        intent_id=snap.intent_id, amount_captured=snap.amount_received, currency=snap.currency
    )


def _state_conflict(snap: IntentSnapshot, operation: str) -> IntentStateConflict:
    if snap.status == "canceled":
        # Stripe cancels an uncaptured intent itself when the authorization lapses.
        code = (
            "authorization_expired"
            if snap.cancellation_reason == "automatic"
            else "intent_canceled"
        )
    elif snap.status == "succeeded":
        code = "already_captured"
    else:
        code = "not_authorized"
    return IntentStateConflict(
        intent_id=snap.intent_id, status=snap.status, code=code, operation=operation
    )
