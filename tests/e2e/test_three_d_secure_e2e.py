"""3-D Secure with every part real: the saga parks in ACTION_REQUIRED with the client secret
for the browser, resumes when the card is authenticated, and rolls back when it never is."""

from __future__ import annotations

import json
import time

import httpx

from payment.adapters.stripe_webhooks import sign_webhook_payload
from payment.config import DEV_STRIPE_WEBHOOK_SECRET

from .helpers import STRIPE_KEY, Person, check_invariants

THREE_DS_CARD = "4000002500003155"  # Stripe's test card that always asks for authentication


def _parked(p: Person, booking_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        b = p.booking(booking_id)
        if b["state"] == "ACTION_REQUIRED" and b["payment"]["client_secret"]:
            return b
        assert time.monotonic() < deadline, f"never parked for 3-D Secure: {b['state']}"
        time.sleep(0.2)


def test_a_card_that_needs_3ds_parks_the_booking_then_confirms_once_authenticated(system):
    p = Person(system.url("gateway"), system.url("stripe"))
    p.sign_up("Secure Sara")
    p.add_card(THREE_DS_CARD)
    booking_id = p.book(p.quote(p.day_plan(days_ahead=36, restaurant=11, events=1))["id"]).json()[
        "booking_id"
    ]
    secret = _parked(p, booking_id)["payment"]["client_secret"]
    intent_id = secret.split("_secret_")[0]

    # The browser (Stripe.js) completes the challenge at Stripe...
    stripe = system.url("stripe")
    r = httpx.post(
        f"{stripe}/v1/payment_intents/{intent_id}/_authenticate",
        auth=(STRIPE_KEY, ""),
        params={"client_secret": secret, "success": "true"},
    )
    assert r.status_code == 200, r.text
    # ...and Stripe tells the payment service by webhook (localstripe does not send this
    # event, so the test sends what Stripe would: the intent now holds the money).
    intent = httpx.get(f"{stripe}/v1/payment_intents/{intent_id}", auth=(STRIPE_KEY, "")).json()
    intent.update(status="requires_capture", amount_capturable=intent["amount"])
    event = {
        "id": f"evt_{intent_id}",
        "object": "event",
        "type": "payment_intent.amount_capturable_updated",
        "created": int(time.time()),
        "api_version": "2024-06-20",
        "livemode": False,
        "data": {"object": intent},
    }
    body = json.dumps(event).encode()
    r = httpx.post(
        f"{system.url('payment_webhooks')}/webhooks/stripe",
        content=body,
        headers={
            "Stripe-Signature": sign_webhook_payload(body, DEV_STRIPE_WEBHOOK_SECRET),
            "Content-Type": "application/json",
        },
    )
    assert r.status_code == 200, r.text

    b = p.wait_final(booking_id)
    assert b["state"] == "CONFIRMED", b
    assert b["payment"]["client_secret"] is None
    check_invariants(system, b)


def test_a_3ds_challenge_never_completed_rolls_the_booking_back(system):
    p = Person(system.url("gateway"), system.url("stripe"))
    p.sign_up("Away Alex")
    p.add_card(THREE_DS_CARD)
    booking_id = p.book(p.quote(p.day_plan(days_ahead=37, restaurant=12, events=1))["id"]).json()[
        "booking_id"
    ]
    _parked(p, booking_id)
    b = p.wait_final(booking_id, timeout=60)  # the action window (8 s here) passes
    assert b["state"] == "FAILED", b
    rec = check_invariants(system, b)
    assert rec.captured == 0
    assert all(pi["status"] == "canceled" for pi in rec.intents), [
        pi["status"] for pi in rec.intents
    ]
