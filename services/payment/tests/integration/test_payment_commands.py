"""The saga's conversation with the payment service over the real broker, against localstripe:
authorize, capture, void, refund, declines, 3-D Secure, duplicates and the crash case."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

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
    PaymentRefunded,
    PaymentVoided,
    RefundPayment,
    VoidPayment,
)
from booking_shared.devstack.infra import free_port
from booking_shared.money import Money
from payment.adapters.stripe_gateway import StripeGateway

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

VISA = "4242424242424242"
DECLINED_AT_CHARGE = "4000000000000341"
NEEDS_3DS = "4000002500003155"
FALLBACK_WINDOW = timedelta(days=6, hours=18)


def booking() -> str:
    return f"bk_{secrets.token_hex(6)}"


def eur(amount: int) -> Money:
    return Money(amount_minor=amount, currency="EUR")


def authorize(
    customer: str, pm: str, amount: Money, booking_id: str | None = None
) -> AuthorizePayment:
    return AuthorizePayment(
        booking_id=booking_id or booking(),
        command_id=uuid.uuid4(),
        customer_id=customer,
        payment_method_id=pm,
        amount=amount,
    )


def capture(booking_id: str, amount: Money | None = None) -> CapturePayment:
    return CapturePayment(booking_id=booking_id, command_id=uuid.uuid4(), amount=amount)


def void(booking_id: str) -> VoidPayment:
    return VoidPayment(booking_id=booking_id, command_id=uuid.uuid4())


def refund(booking_id: str, amount: Money) -> RefundPayment:
    return RefundPayment(
        booking_id=booking_id, command_id=uuid.uuid4(), amount=amount, reason="booking cancelled"
    )


async def authorized(
    svc, amount: Money | None = None, card: str = VISA
) -> tuple[AuthorizePayment, PaymentAuthorized]:
    customer, pm = await svc.customer_with_card(card)
    cmd = authorize(customer, pm, amount or eur(10_000))
    reply = await svc.ask(cmd, PaymentAuthorized)
    return cmd, reply


# --- the happy paths -------------------------------------------------------------------------


async def test_holds_the_exact_total_then_captures_part_of_it(svc):
    cmd, auth = await authorized(svc, eur(10_000))

    assert auth.payment_intent_id.startswith("pi_")
    assert auth.amount_capturable == eur(10_000)
    # localstripe gives no capture_before: the conservative rule (under Stripe's 7 days) applies.
    expected = datetime.now(UTC) + FALLBACK_WINDOW
    assert abs(auth.capture_before - expected) < timedelta(minutes=1)
    view = await svc.payment(cmd.booking_id)
    assert view["status"] == "authorized"
    assert view["amount_authorized"] == {"amount_minor": 10_000, "currency": "EUR"}
    assert datetime.fromisoformat(view["capture_before"]) == auth.capture_before
    assert view["client_secret"] is None
    snap = await svc.stripe.get_intent(auth.payment_intent_id)
    assert (snap.status, snap.amount, snap.customer_id) == (
        "requires_capture",
        10_000,
        cmd.customer_id,
    )

    captured = await svc.ask(capture(cmd.booking_id, eur(6_000)), PaymentCaptured)

    assert captured.amount_captured == eur(6_000)
    assert (await svc.stripe.get_intent(auth.payment_intent_id)).amount_received == 6_000
    view = await svc.payment(cmd.booking_id)
    assert (view["status"], view["amount_captured"]["amount_minor"]) == ("captured", 6_000)


async def test_captures_everything_authorized_when_no_amount_is_given_in_a_zero_decimal_currency(
    svc,
):
    cmd, auth = await authorized(svc, Money(amount_minor=4_500, currency="JPY"))  # ¥4,500
    assert auth.amount_capturable == Money(amount_minor=4_500, currency="JPY")

    captured = await svc.ask(capture(cmd.booking_id), PaymentCaptured)

    assert captured.amount_captured == Money(amount_minor=4_500, currency="JPY")
    snap = await svc.stripe.get_intent(auth.payment_intent_id)
    assert (snap.amount_received, snap.currency) == (4_500, "JPY")


async def test_refuses_to_capture_more_than_was_authorized_without_asking_stripe(svc):
    cmd, auth = await authorized(svc, eur(5_000))
    over = capture(cmd.booking_id, eur(5_001))

    failed = await svc.ask(over, PaymentFailed)

    assert (failed.operation, failed.code) == ("capture", "capture_exceeds_authorized")
    assert svc.gateway.count("capture", over.command_id) == 0
    assert (await svc.stripe.get_intent(auth.payment_intent_id)).status == "requires_capture"
    assert (await svc.payment(cmd.booking_id))["status"] == "authorized"


async def test_voids_a_hold_and_voiding_again_or_voiding_nothing_still_answers_voided(svc):
    cmd, auth = await authorized(svc)

    first = void(cmd.booking_id)
    assert isinstance(await svc.ask(first), PaymentVoided)
    assert (await svc.stripe.get_intent(auth.payment_intent_id)).status == "canceled"
    assert (await svc.payment(cmd.booking_id))["status"] == "voided"

    again = void(cmd.booking_id)
    assert isinstance(await svc.ask(again), PaymentVoided)
    assert svc.gateway.count("cancel", again.command_id) == 0

    never_authorized = void(booking())
    assert isinstance(await svc.ask(never_authorized), PaymentVoided)

    late_capture = await svc.ask(capture(cmd.booking_id), PaymentFailed)
    assert late_capture.code == "intent_canceled"


async def test_refunds_in_parts_up_to_what_was_captured_and_refuses_beyond(svc):
    cmd, auth = await authorized(svc, eur(10_000))
    await svc.ask(capture(cmd.booking_id, eur(8_000)), PaymentCaptured)  # 2_000 released

    first = await svc.ask(refund(cmd.booking_id, eur(3_000)), PaymentRefunded)
    assert (first.amount_refunded, first.total_refunded) == (eur(3_000), eur(3_000))
    assert first.refund_id.startswith("re_")

    too_much = await svc.ask(refund(cmd.booking_id, eur(5_001)), PaymentFailed)
    assert (too_much.operation, too_much.code) == ("refund", "refund_exceeds_captured")

    rest = await svc.ask(refund(cmd.booking_id, eur(5_000)), PaymentRefunded)
    assert (rest.amount_refunded, rest.total_refunded) == (eur(5_000), eur(8_000))
    view = await svc.payment(cmd.booking_id)
    assert (view["status"], view["amount_refunded"]["amount_minor"]) == ("refunded", 8_000)

    one_more_cent = await svc.ask(refund(cmd.booking_id, eur(1)), PaymentFailed)
    assert one_more_cent.code == "refund_exceeds_captured"
    refunds = await svc.sdk.v1.refunds.list_async(params={"payment_intent": auth.payment_intent_id})
    ours = [r for r in refunds.data if r.metadata.to_dict().get("refund_key")]
    assert sorted(r.amount for r in ours) == [3_000, 5_000]


async def test_refuses_to_refund_a_payment_that_was_never_captured(svc):
    cmd, _ = await authorized(svc)
    failed = await svc.ask(refund(cmd.booking_id, eur(100)), PaymentFailed)
    assert failed.code == "not_captured"


# --- declines and 3-D Secure -----------------------------------------------------------------


async def test_a_card_declined_at_charge_answers_payment_declined_with_the_code(svc):
    customer, pm = await svc.customer_with_card(
        DECLINED_AT_CHARGE
    )  # attach works, the charge fails
    cmd = authorize(customer, pm, eur(2_500))

    declined = await svc.ask(cmd, PaymentDeclined)

    assert declined.decline_code == "card_declined"
    assert declined.message
    view = await svc.payment(cmd.booking_id)
    assert view["status"] == "declined"
    assert view["payment_intent_id"].startswith("pi_")


async def test_a_3ds_card_parks_the_saga_until_a_signed_webhook_says_the_hold_is_in_place(svc):
    customer, pm = await svc.customer_with_card(NEEDS_3DS)
    cmd = authorize(customer, pm, eur(7_000))

    action = await svc.ask(cmd, PaymentActionRequired)
    assert action.client_secret.startswith(f"{action.payment_intent_id}_secret_")
    view = await svc.payment(cmd.booking_id)
    assert (view["status"], view["client_secret"]) == ("requires_action", action.client_secret)

    # The person finishes 3-D Secure in the browser (localstripe's own endpoint), then Stripe
    # sends payment_intent.amount_capturable_updated (localstripe does not: we sign it here).
    async with httpx.AsyncClient() as http:
        done = await http.post(
            f"{svc.settings.stripe_api_base}/v1/payment_intents/{action.payment_intent_id}/_authenticate",
            data={"client_secret": action.client_secret, "success": "true"},
            headers={"Authorization": f"Bearer {svc.settings.stripe_api_key}"},
        )
        assert done.status_code == 200, done.text
    event = await svc.webhook(
        "payment_intent.amount_capturable_updated",
        await svc.intent_object(action.payment_intent_id),
    )
    assert event.status_code == 200 and event.json()["outcome"] == "applied"

    resumed = await svc.reply(cmd.command_id, PaymentAuthorized)
    assert resumed.command_id == cmd.command_id  # the original command: the saga resumes
    assert (resumed.payment_intent_id, resumed.amount_capturable) == (
        action.payment_intent_id,
        eur(7_000),
    )
    view = await svc.payment(cmd.booking_id)
    assert (view["status"], view["client_secret"]) == ("authorized", None)

    # A resend of the authorize command now gets the newer answer; no new intent.
    again = await svc.ask(cmd)
    assert again == resumed
    assert len(await svc.intents_of(customer, cmd.command_id)) == 1
    assert isinstance(await svc.ask(capture(cmd.booking_id)), PaymentCaptured)


# --- duplicates ------------------------------------------------------------------------------


async def test_the_same_message_delivered_twice_has_one_stripe_effect_and_one_reply(svc):
    customer, pm = await svc.customer_with_card()
    cmd = authorize(customer, pm, eur(3_300))
    env = svc.envelope(cmd)

    await svc.send(cmd, env)
    await svc.send(cmd, env)  # the broker delivers it again
    # A later message of the same booking is handled after both (one partition, in order).
    probe = await svc.ask(refund(cmd.booking_id, eur(1)), PaymentFailed)
    assert probe.code == "not_captured"

    assert len(svc.answers(cmd.command_id)) == 1
    assert isinstance(svc.answers(cmd.command_id)[0], PaymentAuthorized)
    assert svc.gateway.count("authorize", cmd.command_id) == 1
    assert len(await svc.intents_of(customer, cmd.command_id)) == 1


async def test_the_same_command_in_a_new_message_gets_the_same_reply_without_calling_stripe_again(
    svc,
):
    customer, pm = await svc.customer_with_card()
    cmd = authorize(customer, pm, eur(4_400))
    first = await svc.ask(cmd, PaymentAuthorized)
    second = await svc.ask(cmd, PaymentAuthorized)  # the saga's deadline resend: a new message id

    assert second == first
    assert svc.gateway.count("authorize", cmd.command_id) == 1
    assert len(await svc.intents_of(customer, cmd.command_id)) == 1

    cap = capture(cmd.booking_id, eur(4_000))
    captured = await svc.ask(cap, PaymentCaptured)
    assert await svc.ask(cap, PaymentCaptured) == captured
    assert svc.gateway.count("capture", cap.command_id) == 1
    assert (await svc.stripe.get_intent(first.payment_intent_id)).amount_received == 4_000

    ref = refund(cmd.booking_id, eur(1_000))
    refunded = await svc.ask(ref, PaymentRefunded)
    assert await svc.ask(ref, PaymentRefunded) == refunded
    assert svc.gateway.count("refund", ref.command_id) == 1


async def test_a_second_authorize_for_an_authorized_booking_places_no_second_hold(svc):
    cmd, auth = await authorized(svc, eur(2_000))
    retry = authorize(cmd.customer_id, cmd.payment_method_id, eur(2_000), booking_id=cmd.booking_id)

    same = await svc.ask(retry, PaymentAuthorized)
    assert (same.payment_intent_id, same.capture_before) == (
        auth.payment_intent_id,
        auth.capture_before,
    )
    assert svc.gateway.count("authorize", retry.command_id) == 0

    other_amount = authorize(
        cmd.customer_id, cmd.payment_method_id, eur(2_500), booking_id=cmd.booking_id
    )
    refused = await svc.ask(other_amount, PaymentFailed)
    assert (refused.operation, refused.code) == ("authorize", "already_authorized")


# --- the crash case --------------------------------------------------------------------------


async def test_a_process_that_dies_after_stripe_created_the_intent_makes_no_second_one_on_redelivery(
    svc,
):
    customer, pm = await svc.customer_with_card()
    cmd = authorize(customer, pm, eur(9_900))
    env = svc.envelope(cmd)

    await svc.die_while_handling(cmd, env, die_after="authorize")
    (intent,) = await svc.intents_of(customer, cmd.command_id)  # Stripe acted...
    assert (await svc.command_row(cmd.command_id))["status"] == "started"  # ...we never answered
    assert (await svc.http.get(f"/internal/payments/{cmd.booking_id}")).status_code == 404

    await svc.send(cmd, env)  # the broker redelivers the same message to the next process
    reply = await svc.reply(cmd.command_id)

    assert isinstance(reply, PaymentAuthorized)
    assert reply.payment_intent_id == intent.intent_id
    assert [i.intent_id for i in await svc.intents_of(customer, cmd.command_id)] == [
        intent.intent_id
    ]
    assert svc.gateway.count("authorize", cmd.command_id) == 0  # reconciled, not asked again
    row = await svc.command_row(cmd.command_id)
    assert (row["status"], row["attempts"]) == ("done", 2)
    assert (await svc.payment(cmd.booking_id))["status"] == "authorized"


async def test_a_process_that_dies_after_stripe_captured_makes_no_second_capture_on_redelivery(svc):
    cmd, auth = await authorized(svc, eur(10_000))
    cap = capture(cmd.booking_id, eur(7_500))
    env = svc.envelope(cap)

    await svc.die_while_handling(cap, env, die_after="capture")
    assert (await svc.stripe.get_intent(auth.payment_intent_id)).status == "succeeded"
    assert (await svc.payment(cmd.booking_id))["status"] == "authorized"  # the commit was lost

    await svc.send(cap, env)
    reply = await svc.reply(cap.command_id)

    assert reply == PaymentCaptured(
        booking_id=cmd.booking_id, command_id=cap.command_id, amount_captured=eur(7_500)
    )
    assert svc.gateway.count("capture", cap.command_id) == 0
    assert (await svc.stripe.get_intent(auth.payment_intent_id)).amount_received == 7_500
    view = await svc.payment(cmd.booking_id)
    assert (view["status"], view["amount_captured"]["amount_minor"]) == ("captured", 7_500)


async def test_a_process_that_dies_before_reaching_stripe_authorizes_on_redelivery(svc):
    customer, pm = await svc.customer_with_card()
    cmd = authorize(customer, pm, eur(1_200))
    env = svc.envelope(cmd)

    await svc.die_while_handling(cmd, env, die_before="authorize")
    assert await svc.intents_of(customer, cmd.command_id) == []

    await svc.send(cmd, env)
    reply = await svc.reply(cmd.command_id)

    assert isinstance(reply, PaymentAuthorized)
    assert len(await svc.intents_of(customer, cmd.command_id)) == 1


async def test_a_void_releases_the_hold_of_an_authorize_that_died_and_its_redelivery_holds_nothing(
    svc,
):
    customer, pm = await svc.customer_with_card()
    cmd = authorize(customer, pm, eur(6_000))
    env = svc.envelope(cmd)
    await svc.die_while_handling(cmd, env, die_after="authorize")

    # The saga's deadline passed; it compensates with a void before the authorize is redelivered.
    assert isinstance(await svc.ask(void(cmd.booking_id)), PaymentVoided)
    (intent,) = await svc.intents_of(customer, cmd.command_id)
    assert intent.status == "canceled"

    await svc.send(cmd, env)
    late = await svc.reply(cmd.command_id)
    assert (late.operation, late.code) == ("authorize", "voided")
    assert len(await svc.intents_of(customer, cmd.command_id)) == 1


async def test_an_unreachable_stripe_sends_the_command_to_the_dlq_and_the_saga_resend_then_succeeds(
    svc,
):
    customer, pm = await svc.customer_with_card()
    cmd = authorize(customer, pm, eur(800))
    down = StripeGateway(
        "sk_test_x",
        api_base=f"http://127.0.0.1:{free_port()}",
        max_attempts=2,
        backoff_base_s=0.001,
    )
    try:
        outcome = await svc.router_with(down, consumer_retry_backoff_ms=1).process(
            svc.settings.commands_topic,
            cmd.model_dump_json().encode(),
            svc.envelope(cmd).to_headers(),
        )
    finally:
        await down.close()

    assert outcome == "dead"
    dead = await svc.pool.fetchrow(
        "SELECT * FROM dead_letters WHERE message_type = 'AuthorizePayment' ORDER BY id DESC LIMIT 1"
    )
    assert "StripeUnavailable" in dead["error"]
    assert (await svc.command_row(cmd.command_id))["status"] == "started"

    resent = await svc.ask(cmd)  # the saga's deadline: same command id, new message
    assert isinstance(resent, PaymentAuthorized)
    assert len(await svc.intents_of(customer, cmd.command_id)) == 1


async def test_reconciling_releases_extra_holds_of_one_command_and_keeps_one(svc):
    # Only where Idempotency-Key is ignored (localstripe) can one command own two intents.
    customer, pm = await svc.customer_with_card()
    cmd = authorize(customer, pm, eur(5_500))
    env = svc.envelope(cmd)
    await svc.die_while_handling(cmd, env, die_after="authorize")
    await svc.stripe.authorize(
        customer, pm, 5_500, "EUR", "elsewhere", {"command_id": str(cmd.command_id)}
    )

    await svc.send(cmd, env)
    reply = await svc.reply(cmd.command_id)

    assert isinstance(reply, PaymentAuthorized)
    statuses = {i.intent_id: i.status for i in await svc.intents_of(customer, cmd.command_id)}
    assert sorted(statuses.values()) == ["canceled", "requires_capture"]
    assert statuses[reply.payment_intent_id] == "requires_capture"


async def test_a_new_authorize_after_an_abandoned_3ds_releases_the_old_intent(svc):
    customer, secure_pm = await svc.customer_with_card(NEEDS_3DS)
    first = authorize(customer, secure_pm, eur(3_000))
    action = await svc.ask(first, PaymentActionRequired)
    other = await svc.http.post(
        f"/internal/customers/{customer}/payment-methods",
        json={"payment_method_id": await svc.new_card(VISA)},
    )
    second = authorize(customer, other.json()["id"], eur(3_000), booking_id=first.booking_id)

    auth = await svc.ask(second, PaymentAuthorized)

    assert auth.payment_intent_id != action.payment_intent_id
    assert (await svc.stripe.get_intent(action.payment_intent_id)).status == "canceled"
    view = await svc.payment(first.booking_id)
    assert (view["status"], view["payment_intent_id"]) == ("authorized", auth.payment_intent_id)
