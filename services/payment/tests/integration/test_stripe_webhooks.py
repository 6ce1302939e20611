"""POST /webhooks/stripe: signatures over the raw body, replays, out-of-order events, and what
each event type does to a payment. localstripe sends few of these, so events are signed here
exactly as Stripe signs them, around the real objects localstripe holds."""

from __future__ import annotations

import json
import secrets
import time
import uuid

import httpx
import pytest

from booking_shared.contracts import (
    AuthorizePayment,
    CapturePayment,
    PaymentActionRequired,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PaymentFailed,
)
from booking_shared.money import Money
from payment.adapters.stripe_webhooks import sign_webhook_payload

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

NEEDS_3DS = "4000002500003155"


def eur(amount: int) -> Money:
    return Money(amount_minor=amount, currency="EUR")


async def authorize(svc, card: str = "4242424242424242", amount: int = 5_000):
    customer, pm = await svc.customer_with_card(card)
    cmd = AuthorizePayment(
        booking_id=f"bk_{secrets.token_hex(6)}",
        command_id=uuid.uuid4(),
        customer_id=customer,
        payment_method_id=pm,
        amount=eur(amount),
    )
    return cmd, await svc.run(cmd)


async def authenticate(svc, action: PaymentActionRequired, success: bool) -> None:
    """The person finishing (or failing) 3-D Secure: localstripe's own endpoint."""
    async with httpx.AsyncClient() as http:
        r = await http.post(
            f"{svc.settings.stripe_api_base}/v1/payment_intents/{action.payment_intent_id}/_authenticate",
            data={"client_secret": action.client_secret, "success": "true" if success else "false"},
            headers={"Authorization": f"Bearer {svc.settings.stripe_api_key}"},
        )
        assert r.status_code == 200, r.text


async def event_count(svc, event_id: str) -> int:
    return await svc.pool.fetchval(
        "SELECT count(*) FROM webhook_events WHERE event_id = $1", event_id
    )


# --- signatures --------------------------------------------------------------------------------


def _body(event_id: str, intent_id: str = "pi_123") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "data": {
                "object": {"id": intent_id, "object": "payment_intent", "status": "succeeded"}
            },
        }
    ).encode()


@pytest.mark.parametrize(
    "forge",
    [
        lambda svc, body: svc.webhook("", {}, body=body, secret="whsec_someone_else"),
        lambda svc, body: svc.webhooks.post(
            "/webhooks/stripe",
            content=body.replace(b"pi_123", b"pi_666"),
            headers={"Stripe-Signature": _signature(svc, body)},
        ),
        lambda svc, body: svc.webhooks.post("/webhooks/stripe", content=body),
        lambda svc, body: svc.webhooks.post(
            "/webhooks/stripe", content=body, headers={"Stripe-Signature": "t=1,v1=00"}
        ),
    ],
    ids=["other-secret", "tampered-body", "no-signature", "made-up-signature"],
)
async def test_a_forged_webhook_is_rejected_with_400_and_changes_nothing(svc, forge):
    event_id = f"evt_{secrets.token_hex(8)}"
    r = await forge(svc, _body(event_id))

    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "webhook_signature_invalid"
    assert await event_count(svc, event_id) == 0


def _signature(svc, body: bytes) -> str:
    return sign_webhook_payload(body, svc.settings.stripe_webhook_secret)


async def test_a_stale_webhook_is_rejected_as_a_replay(svc):
    event_id = f"evt_{secrets.token_hex(8)}"
    r = await svc.webhook("", {}, body=_body(event_id), timestamp=int(time.time()) - 301)

    assert r.status_code == 400
    assert r.json()["code"] == "webhook_timestamp_stale"
    assert await event_count(svc, event_id) == 0


async def test_the_signature_is_checked_over_the_raw_bytes_not_reparsed_json(svc):
    event_id = f"evt_{secrets.token_hex(8)}"
    # Same JSON, other bytes (spacing): a re-serializing endpoint would accept or reject both alike.
    body = _body(event_id)
    spaced = json.dumps(json.loads(body), indent=2).encode()
    r = await svc.webhooks.post(
        "/webhooks/stripe", content=spaced, headers={"Stripe-Signature": _signature(svc, body)}
    )
    assert r.status_code == 400


# --- 3-D Secure, answered by webhooks --------------------------------------------------------


async def test_a_replayed_webhook_is_acknowledged_but_has_no_second_effect(svc):
    cmd, action = await authorize(svc, NEEDS_3DS)
    assert isinstance(action, PaymentActionRequired)
    await authenticate(svc, action, success=True)
    obj = await svc.intent_object(action.payment_intent_id)
    event_id = f"evt_{secrets.token_hex(8)}"

    first = await svc.webhook("payment_intent.amount_capturable_updated", obj, event_id=event_id)
    outbox_after_first = await svc.outbox_count(cmd.booking_id)
    replay = await svc.webhook("payment_intent.amount_capturable_updated", obj, event_id=event_id)

    assert (first.status_code, first.json()["outcome"]) == (200, "applied")
    assert (replay.status_code, replay.json()["outcome"]) == (200, "duplicate")
    assert await svc.outbox_count(cmd.booking_id) == outbox_after_first
    resumed = await svc.reply(cmd.command_id, PaymentAuthorized)
    assert resumed.payment_intent_id == action.payment_intent_id
    history = await svc.pool.fetchval(
        "SELECT count(*) FROM payment_history WHERE booking_id = $1 AND to_status = 'authorized'",
        cmd.booking_id,
    )
    assert history == 1


async def test_failed_3ds_answers_the_parked_saga_with_payment_declined(svc):
    cmd, action = await authorize(svc, NEEDS_3DS)
    await authenticate(svc, action, success=False)

    r = await svc.webhook(
        "payment_intent.payment_failed", await svc.intent_object(action.payment_intent_id)
    )
    assert r.json()["outcome"] == "applied"

    declined = await svc.reply(cmd.command_id, PaymentDeclined)
    assert declined.decline_code == "payment_intent_authentication_failure"
    view = await svc.payment(cmd.booking_id)
    assert (view["status"], view["client_secret"]) == ("declined", None)
    assert await svc.run(cmd) == declined  # a resend gets the newer answer


async def test_an_intent_canceled_while_waiting_for_3ds_answers_payment_failed(svc):
    cmd, action = await authorize(svc, NEEDS_3DS)
    canceled = await svc.sdk.v1.payment_intents.cancel_async(action.payment_intent_id)

    r = await svc.webhook("payment_intent.canceled", canceled.to_dict(recursive=True))
    assert r.json()["outcome"] == "applied"

    failed = await svc.reply(cmd.command_id, PaymentFailed)
    assert (failed.operation, failed.code) == ("authorize", "intent_canceled")
    assert (await svc.payment(cmd.booking_id))["status"] == "voided"


# --- out of order ----------------------------------------------------------------------------


async def test_a_late_amount_capturable_updated_after_the_capture_changes_nothing(svc):
    cmd, auth = await authorize(svc)
    held = await svc.intent_object(auth.payment_intent_id)  # the object as it was at authorization
    captured = await svc.run(CapturePayment(booking_id=cmd.booking_id, command_id=uuid.uuid4()))
    assert isinstance(captured, PaymentCaptured)
    outbox_before = await svc.outbox_count(cmd.booking_id)

    r = await svc.webhook("payment_intent.amount_capturable_updated", held)

    assert (r.status_code, r.json()["outcome"]) == (200, "stale")
    view = await svc.payment(cmd.booking_id)
    assert (view["status"], view["amount_captured"]["amount_minor"]) == ("captured", 5_000)
    assert await svc.outbox_count(cmd.booking_id) == outbox_before


async def test_a_capture_seen_only_through_payment_intent_succeeded_moves_the_payment_on(svc):
    cmd, auth = await authorize(svc, amount=3_000)
    await svc.sdk.v1.payment_intents.capture_async(
        auth.payment_intent_id, params={"amount_to_capture": 2_000}
    )

    r = await svc.webhook(
        "payment_intent.succeeded", await svc.intent_object(auth.payment_intent_id)
    )

    assert r.json()["outcome"] == "applied"
    view = await svc.payment(cmd.booking_id)
    assert (view["status"], view["amount_captured"]["amount_minor"]) == ("captured", 2_000)
    # ...and the saga's own capture afterwards is answered from that, with no second capture.
    cap = CapturePayment(booking_id=cmd.booking_id, command_id=uuid.uuid4())
    assert (await svc.run(cap)).amount_captured == eur(2_000)
    assert svc.gateway.count("capture", cap.command_id) == 0


# --- refunds and disputes --------------------------------------------------------------------


async def test_a_refund_made_outside_the_saga_is_recorded_from_charge_refunded(svc):
    cmd, auth = await authorize(svc, amount=5_000)
    await svc.run(CapturePayment(booking_id=cmd.booking_id, command_id=uuid.uuid4()))
    await svc.sdk.v1.refunds.create_async(
        params={"payment_intent": auth.payment_intent_id, "amount": 1_500}
    )
    charge = (await svc.intent_object(auth.payment_intent_id))["latest_charge"]

    r = await svc.webhook("charge.refunded", charge)

    assert r.json()["outcome"] == "applied"
    assert (await svc.payment(cmd.booking_id))["amount_refunded"]["amount_minor"] == 1_500
    # An older charge.refunded delivered late never lowers the total.
    stale = {**charge, "amount_refunded": 500}
    assert (await svc.webhook("charge.refunded", stale)).json()["outcome"] == "no_change"
    assert (await svc.payment(cmd.booking_id))["amount_refunded"]["amount_minor"] == 1_500


async def test_a_dispute_is_recorded_for_operators_without_touching_the_payment_state(svc):
    cmd, auth = await authorize(svc, amount=4_000)
    await svc.run(CapturePayment(booking_id=cmd.booking_id, command_id=uuid.uuid4()))
    dispute_id = f"dp_{secrets.token_hex(8)}"
    dispute = {
        "id": dispute_id,
        "object": "dispute",
        "amount": 4_000,
        "currency": "eur",
        "charge": f"ch_{secrets.token_hex(6)}",
        "payment_intent": auth.payment_intent_id,
        "reason": "fraudulent",
        "status": "needs_response",
    }

    r = await svc.webhook("charge.dispute.created", dispute)

    assert r.json()["outcome"] == "dispute_recorded"
    row = await svc.pool.fetchrow("SELECT * FROM disputes WHERE dispute_id = $1", dispute_id)
    assert (row["booking_id"], row["amount_minor"], row["currency"], row["reason"]) == (
        cmd.booking_id,
        4_000,
        "EUR",
        "fraudulent",
    )
    assert await svc.pool.fetchval(
        "SELECT disputed FROM payments WHERE booking_id = $1", cmd.booking_id
    )
    assert (await svc.payment(cmd.booking_id))["status"] == "captured"
    assert any("disputed" in line and dispute_id in line for line in svc.logs.lines)


async def test_events_for_unknown_payments_or_of_other_types_are_acknowledged_and_ignored(svc):
    unknown = await svc.webhook(
        "payment_intent.succeeded",
        {"id": "pi_notours", "object": "payment_intent", "status": "succeeded"},
    )
    other = await svc.webhook("customer.created", {"id": "cus_x", "object": "customer"})

    assert (unknown.status_code, unknown.json()["outcome"]) == (200, "unknown_payment")
    assert (other.status_code, other.json()["outcome"]) == (200, "ignored")
