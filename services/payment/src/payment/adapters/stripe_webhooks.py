"""Stripe webhook signatures: verify an incoming event (with the SDK) and sign one (for tests and the emulator)."""

from __future__ import annotations

import hashlib
import hmac
import time

import stripe

from payment.domain.gateway import WebhookEvent, WebhookVerificationError

DEFAULT_TOLERANCE_S = 300


def sign_webhook_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe would send for `payload`: `t=<unix>,v1=<hex>`, where
    v1 = HMAC-SHA256(secret, f"{t}." + payload). For tests and local tooling; never needed in
    production, where Stripe signs."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode("utf-8"), b"%d." % t + payload, hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"


def verify_webhook(
    raw_body: bytes,
    signature_header: str | None,
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE_S,
) -> WebhookEvent:
    """Check the signature over the *raw* body (never a re-serialized one) and the timestamp,
    then parse. Raises `WebhookVerificationError` with a code saying what was wrong."""
    if tolerance <= 0:
        # The SDK treats a falsy tolerance as "accept any age", which would let replays in.
        raise ValueError("tolerance must be a positive number of seconds")
    if not secret:
        raise ValueError("a webhook signing secret is required")
    try:
        event = stripe.Webhook.construct_event(raw_body, signature_header, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        # The SDK checks the signature before the age, so "outside the tolerance zone" means
        # a genuine signature on an old message: a replay.
        stale = "tolerance zone" in str(exc)
        raise WebhookVerificationError(
            "webhook timestamp is older than the tolerance"
            if stale
            else "webhook signature is invalid",
            code="webhook_timestamp_stale" if stale else "webhook_signature_invalid",
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookVerificationError(
            f"webhook payload is not a Stripe event: {exc}", code="webhook_payload_invalid"
        ) from None

    body = event.to_dict(for_json=True)
    if body.get("object") != "event" or not body.get("id") or not body.get("type"):
        raise WebhookVerificationError(
            "webhook payload is not a Stripe event", code="webhook_payload_invalid"
        )
    data = body.get("data") or {}
    obj = data.get("object") if isinstance(data, dict) else None
    return WebhookEvent(
        id=str(body["id"]),
        type=str(body["type"]),
        created=int(body.get("created") or 0),
        data_object=dict(obj or {}),
        livemode=bool(body.get("livemode", False)),
        api_version=body.get("api_version"),
    )
