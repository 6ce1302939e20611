"""StripeGateway against a real localstripe, through the real SDK: cards, holds, captures, voids, refunds, webhooks."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid

import httpx
import pytest
import stripe
from aiohttp import web

from payment.adapters.stripe_gateway import StripeGateway
from payment.adapters.stripe_webhooks import sign_webhook_payload
from payment.domain.gateway import (
    ActionRequired,
    Authorized,
    Captured,
    CaptureExceedsAuthorized,
    CardDisplay,
    Declined,
    IntentStateConflict,
    PaymentMethodNotOwned,
    RefundExceedsCaptured,
    StripeRequestFailed,
    StripeUnavailable,
    Voided,
    WebhookVerificationError,
)

pytestmark = [
    pytest.mark.integration,
    # stripe 16.1's HTTPXClient passes bytes as `data=`, which httpx 0.28 deprecates.
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

# Stripe's published test cards (https://docs.stripe.com/testing).
VISA = "4242424242424242"
MASTERCARD = "5555555555554444"
DECLINED_AT_ATTACH = "4000000000000002"
DECLINED_AT_CHARGE = "4000000000000341"
NEEDS_3DS = "4000002500003155"
NEEDS_3DS_ALWAYS = "4000002760003184"

SECRET = "whsec_test_payment_integration"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def saved_card(gateway: StripeGateway, customer_id: str, new_card, number: str) -> str:
    card = await gateway.attach_payment_method(customer_id, await new_card(number))
    assert isinstance(card, CardDisplay)
    return card.pm_id


async def hold(gateway, customer_id, pm_id, amount=10_000, currency="EUR", command=None):
    command = command or unique("cmd")
    result = await gateway.authorize(
        customer_id, pm_id, amount, currency, f"{command}", {"command_id": command}
    )
    return command, result


# --- customers and saved cards ---------------------------------------------------------------


async def test_saves_cards_lists_them_switches_the_default_and_detaches(gateway, new_card):
    user = unique("user")
    customer = await gateway.ensure_customer(user, "person@example.com")
    assert customer.startswith("cus_")
    assert await gateway.ensure_customer(user, customer_id=customer) == customer

    setup = await gateway.create_setup_intent(customer)
    setup_intent_id, client_secret = setup
    assert setup_intent_id.startswith("seti_")
    assert client_secret.startswith(f"{setup_intent_id}_secret_")

    first = await gateway.attach_payment_method(customer, await new_card(VISA))
    second = await gateway.attach_payment_method(
        customer, await new_card(MASTERCARD), make_default=False
    )
    assert isinstance(first, CardDisplay) and isinstance(second, CardDisplay)
    assert (first.last4, first.exp_month, first.exp_year, first.is_default) == (
        "4242",
        12,
        2034,
        True,
    )
    assert second.last4 == "4444" and not second.is_default

    cards = {c.pm_id: c for c in await gateway.list_payment_methods(customer)}
    assert set(cards) == {first.pm_id, second.pm_id}
    assert cards[first.pm_id].is_default and not cards[second.pm_id].is_default

    await gateway.set_default(customer, second.pm_id)
    cards = {c.pm_id: c for c in await gateway.list_payment_methods(customer)}
    assert cards[second.pm_id].is_default and not cards[first.pm_id].is_default

    await gateway.detach(first.pm_id, customer_id=customer)
    await gateway.detach(first.pm_id, customer_id=customer)  # again: harmless
    assert [c.pm_id for c in await gateway.list_payment_methods(customer)] == [second.pm_id]


async def test_attaching_a_card_again_is_a_no_op_and_a_stranger_cannot_use_it(
    gateway, customer_id, new_card
):
    card = await gateway.attach_payment_method(customer_id, await new_card(VISA))
    again = await gateway.attach_payment_method(customer_id, card.pm_id)
    assert again == card

    stranger = await gateway.ensure_customer(unique("user"))
    with pytest.raises(PaymentMethodNotOwned):
        await gateway.attach_payment_method(stranger, card.pm_id)
    with pytest.raises(PaymentMethodNotOwned):
        await gateway.set_default(stranger, card.pm_id)
    with pytest.raises(PaymentMethodNotOwned):
        await gateway.detach(card.pm_id, customer_id=stranger)


async def test_a_test_alias_becomes_a_new_payment_method_to_store(gateway, customer_id):
    card = await gateway.attach_payment_method(customer_id, "pm_card_visa")
    assert isinstance(card, CardDisplay)
    assert card.pm_id.startswith("pm_") and card.pm_id != "pm_card_visa"
    assert card.last4 == "4242"


async def test_a_card_declined_at_attach_comes_back_as_declined_with_its_code(
    gateway, customer_id, new_card
):
    result = await gateway.attach_payment_method(customer_id, await new_card(DECLINED_AT_ATTACH))

    assert isinstance(result, Declined)
    assert result.decline_code == "card_declined"
    assert result.intent_id is None
    assert result.message
    assert await gateway.list_payment_methods(customer_id) == []


# --- authorize, capture, void ----------------------------------------------------------------


async def test_holds_the_exact_amount_then_captures_part_of_it(gateway, customer_id, new_card):
    pm = await saved_card(gateway, customer_id, new_card, VISA)
    _, result = await hold(gateway, customer_id, pm, amount=10_000)

    assert isinstance(result, Authorized)
    assert result.intent_id.startswith("pi_")
    assert result.amount_capturable == 10_000
    assert result.currency == "EUR"
    assert result.capture_before is None  # localstripe does not say; Stripe does
    snap = await gateway.get_intent(result.intent_id)
    assert (snap.status, snap.amount, snap.customer_id, snap.payment_method_id) == (
        "requires_capture",
        10_000,
        customer_id,
        pm,
    )

    captured = await gateway.capture(result.intent_id, 6_000, "cap-1")
    assert captured == Captured(intent_id=result.intent_id, amount_captured=6_000, currency="EUR")
    # The same command again (localstripe ignores Idempotency-Key): the same answer, no error.
    assert await gateway.capture(result.intent_id, 6_000, "cap-1") == captured
    assert await gateway.capture(result.intent_id, None, "cap-1") == captured
    assert (await gateway.get_intent(result.intent_id)).amount_received == 6_000


async def test_captures_everything_when_no_amount_is_given(gateway, customer_id, new_card):
    pm = await saved_card(gateway, customer_id, new_card, VISA)
    _, auth = await hold(gateway, customer_id, pm, amount=4_500)
    captured = await gateway.capture(auth.intent_id, None, unique("cap"))
    assert captured.amount_captured == 4_500


async def test_refuses_to_capture_more_than_was_authorized(gateway, customer_id, new_card):
    pm = await saved_card(gateway, customer_id, new_card, VISA)
    _, auth = await hold(gateway, customer_id, pm, amount=10_000)

    with pytest.raises(CaptureExceedsAuthorized) as refused:
        await gateway.capture(auth.intent_id, 10_001, unique("cap"))

    assert (refused.value.requested, refused.value.capturable) == (10_001, 10_000)
    assert refused.value.code == "capture_exceeds_authorized"
    assert (await gateway.get_intent(auth.intent_id)).status == "requires_capture"


async def test_voids_a_hold_and_voiding_again_is_harmless(gateway, customer_id, new_card):
    pm = await saved_card(gateway, customer_id, new_card, VISA)
    _, auth = await hold(gateway, customer_id, pm)

    assert await gateway.cancel(auth.intent_id, "void-1") == Voided(intent_id=auth.intent_id)
    assert await gateway.cancel(auth.intent_id, "void-1") == Voided(intent_id=auth.intent_id)
    assert (await gateway.get_intent(auth.intent_id)).status == "canceled"

    with pytest.raises(IntentStateConflict) as refused:
        await gateway.capture(auth.intent_id, None, unique("cap"))
    assert refused.value.code == "intent_canceled"


async def test_refuses_to_void_a_captured_payment(gateway, customer_id, new_card):
    pm = await saved_card(gateway, customer_id, new_card, VISA)
    _, auth = await hold(gateway, customer_id, pm)
    await gateway.capture(auth.intent_id, None, unique("cap"))

    with pytest.raises(IntentStateConflict) as refused:
        await gateway.cancel(auth.intent_id, unique("void"))
    assert refused.value.code == "already_captured"


async def test_a_card_declined_at_charge_comes_back_as_declined_with_the_intent(
    gateway, customer_id, new_card
):
    pm = await saved_card(gateway, customer_id, new_card, DECLINED_AT_CHARGE)
    command, result = await hold(gateway, customer_id, pm)

    assert isinstance(result, Declined)
    assert (result.decline_code, result.code) == ("card_declined", "card_declined")
    assert result.intent_id and result.intent_id.startswith("pi_")
    snap = await gateway.find_intent_by_command(customer_id, command)
    assert snap.intent_id == result.intent_id
    assert snap.authorization_outcome() == Declined(
        decline_code="card_declined",
        message=result.message,
        intent_id=result.intent_id,
        code="card_declined",
    )


@pytest.mark.parametrize("number", [NEEDS_3DS, NEEDS_3DS_ALWAYS])
async def test_a_card_that_needs_3ds_comes_back_as_action_required(
    gateway, customer_id, new_card, number
):
    pm = await saved_card(gateway, customer_id, new_card, number)
    _, result = await hold(gateway, customer_id, pm)

    assert isinstance(result, ActionRequired)
    assert result.client_secret.startswith(f"{result.intent_id}_secret_")
    assert (await gateway.get_intent(result.intent_id)).status == "requires_action"
    # The person never came back: the hold is voided.
    assert await gateway.cancel(result.intent_id, unique("void")) == Voided(result.intent_id)


async def test_a_zero_decimal_amount_goes_to_stripe_unchanged(gateway, customer_id, new_card):
    pm = await saved_card(gateway, customer_id, new_card, VISA)
    _, auth = await hold(gateway, customer_id, pm, amount=500, currency="jpy")  # ¥500

    assert isinstance(auth, Authorized)
    assert (auth.amount_capturable, auth.currency) == (500, "JPY")
    snap = await gateway.get_intent(auth.intent_id)
    assert (snap.amount, snap.currency) == (500, "JPY")


async def test_rejects_bad_amounts_and_a_missing_command_id_before_calling_stripe(
    gateway, customer_id
):
    for amount in (0, -5, 10.5, True):
        with pytest.raises(ValueError):
            await gateway.authorize(customer_id, "pm_x", amount, "EUR", "k", {"command_id": "c"})
    with pytest.raises(ValueError):
        await gateway.authorize(customer_id, "pm_x", 100, "EURO", "k", {"command_id": "c"})
    with pytest.raises(ValueError):
        await gateway.authorize(customer_id, "pm_x", 100, "EUR", "k", {})


# --- reconciliation --------------------------------------------------------------------------


async def test_finds_the_intent_of_a_command_after_a_crash(gateway, customer_id, new_card):
    pm = await saved_card(gateway, customer_id, new_card, VISA)
    command, auth = await hold(gateway, customer_id, pm, amount=7_700)
    await hold(gateway, customer_id, pm, amount=100)  # another command of the same customer

    found = await gateway.find_intent_by_command(customer_id, command)

    assert found is not None and found.intent_id == auth.intent_id
    assert found.command_id == command
    assert found.authorization_outcome() == auth
    assert await gateway.find_intent_by_command(customer_id, unique("cmd")) is None
    stranger = await gateway.ensure_customer(unique("user"))
    assert await gateway.find_intent_by_command(stranger, command) is None


async def test_lists_duplicate_holds_of_one_command_so_they_can_be_voided(
    gateway, customer_id, new_card
):
    # localstripe ignores Idempotency-Key: the same authorize twice makes two holds.
    pm = await saved_card(gateway, customer_id, new_card, VISA)
    command, first = await hold(gateway, customer_id, pm)
    _, second = await hold(gateway, customer_id, pm, command=command)
    assert first.intent_id != second.intent_id
    await gateway.cancel(first.intent_id, unique("void"))

    found = await gateway.list_intents_by_command(customer_id, command)

    assert [(s.intent_id, s.status) for s in found] == [
        (second.intent_id, "requires_capture"),
        (first.intent_id, "canceled"),
    ]
    assert (
        await gateway.find_intent_by_command(customer_id, command)
    ).intent_id == second.intent_id


async def test_follows_pages_when_listing(localstripe_url, customer_id, new_card, gateway):
    pm = await saved_card(gateway, customer_id, new_card, VISA)
    await saved_card(gateway, customer_id, new_card, MASTERCARD)
    command, auth = await hold(gateway, customer_id, pm)
    for _ in range(3):
        await hold(gateway, customer_id, pm, amount=100)

    paging = StripeGateway("sk_test_x", api_base=localstripe_url, list_page_size=2)
    try:
        assert len(await paging.list_payment_methods(customer_id)) == 2
        found = await paging.find_intent_by_command(customer_id, command)
        assert found is not None and found.intent_id == auth.intent_id
    finally:
        await paging.close()


# --- refunds ---------------------------------------------------------------------------------


async def test_refunds_in_parts_up_to_the_captured_amount_and_refuses_beyond(
    gateway, customer_id, new_card
):
    pm = await saved_card(gateway, customer_id, new_card, VISA)
    _, auth = await hold(gateway, customer_id, pm, amount=10_000)
    await gateway.capture(auth.intent_id, 8_000, unique("cap"))  # 2_000 released

    first = await gateway.refund(auth.intent_id, 3_000, "refund-1")
    assert first.refund_id.startswith("re_")
    assert (first.amount, first.total_refunded, first.currency) == (3_000, 3_000, "EUR")

    # The same command again: the same refund, not a second one.
    assert await gateway.refund(auth.intent_id, 3_000, "refund-1") == first

    with pytest.raises(RefundExceedsCaptured) as refused:
        await gateway.refund(auth.intent_id, 5_001, "refund-2")
    assert (refused.value.requested, refused.value.refundable) == (5_001, 5_000)
    assert refused.value.code == "refund_exceeds_captured"

    # By charge id, to the last cent.
    second = await gateway.refund(first.charge_id, 5_000, "refund-3")
    assert (second.amount, second.total_refunded) == (5_000, 8_000)

    with pytest.raises(RefundExceedsCaptured) as refused:
        await gateway.refund(auth.intent_id, 1, "refund-4")
    assert refused.value.refundable == 0


async def test_refuses_to_refund_a_payment_that_was_never_captured(gateway, customer_id, new_card):
    pm = await saved_card(gateway, customer_id, new_card, VISA)
    _, auth = await hold(gateway, customer_id, pm)

    with pytest.raises(IntentStateConflict) as refused:
        await gateway.refund(auth.intent_id, 100, unique("refund"))
    assert refused.value.code == "not_captured"


# --- webhooks --------------------------------------------------------------------------------


def _event_body(event_type="payment_intent.succeeded", intent_id="pi_123") -> bytes:
    return json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex[:14]}",
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": {"id": intent_id, "object": "payment_intent", "amount": 100}},
        }
    ).encode()


def test_a_correctly_signed_webhook_is_accepted(gateway):
    body = _event_body()
    event = gateway.construct_webhook_event(body, sign_webhook_payload(body, SECRET), SECRET)

    assert event.type == "payment_intent.succeeded"
    assert event.id == json.loads(body)["id"]
    assert event.data_object["id"] == "pi_123"


@pytest.mark.parametrize(
    "forge",
    [
        lambda body: sign_webhook_payload(body, "whsec_someone_else"),
        lambda body: sign_webhook_payload(body.replace(b"pi_123", b"pi_666"), SECRET),
        lambda body: "t=1,v1=deadbeef",
        lambda body: "garbage",
        lambda body: None,
    ],
    ids=["other-secret", "tampered-body", "made-up", "malformed", "missing"],
)
def test_a_forged_webhook_is_rejected(gateway, forge):
    body = _event_body()
    with pytest.raises(WebhookVerificationError) as rejected:
        gateway.construct_webhook_event(body, forge(body), SECRET)
    assert rejected.value.code == "webhook_signature_invalid"


def test_a_stale_webhook_is_rejected_as_a_replay(gateway):
    body = _event_body()
    old = sign_webhook_payload(body, SECRET, timestamp=int(time.time()) - 301)
    with pytest.raises(WebhookVerificationError) as rejected:
        gateway.construct_webhook_event(body, old, SECRET, tolerance=300)
    assert rejected.value.code == "webhook_timestamp_stale"

    fresh_enough = sign_webhook_payload(body, SECRET, timestamp=int(time.time()) - 250)
    assert gateway.construct_webhook_event(body, fresh_enough, SECRET).type


def test_a_signed_body_that_is_not_an_event_is_rejected(gateway):
    body = b"not json"
    with pytest.raises(WebhookVerificationError) as rejected:
        gateway.construct_webhook_event(body, sign_webhook_payload(body, SECRET), SECRET)
    assert rejected.value.code == "webhook_payload_invalid"


async def _configure_webhook(
    localstripe_url: str, hook_id: str, url: str, events: list[str]
) -> None:
    """localstripe's own endpoint (not Stripe API): deliver these events, signed with SECRET."""
    async with httpx.AsyncClient() as http:
        r = await http.post(
            f"{localstripe_url}/_config/webhooks/{hook_id}",
            json={"url": url, "secret": SECRET, "events": events},
        )
        r.raise_for_status()


async def test_verifies_the_webhooks_localstripe_sends(
    gateway, customer_id, new_card, localstripe_url
):
    received: asyncio.Queue[tuple[bytes, str | None]] = asyncio.Queue()

    async def receive(request: web.Request) -> web.Response:
        await received.put((await request.read(), request.headers.get("Stripe-Signature")))
        return web.Response()

    app = web.Application()
    app.router.add_post("/webhooks/stripe", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    hook_id = unique("hook")
    try:
        await _configure_webhook(
            localstripe_url,
            hook_id,
            f"http://127.0.0.1:{port}/webhooks/stripe",
            ["payment_intent.succeeded"],
        )
        pm = await saved_card(gateway, customer_id, new_card, VISA)
        _, auth = await hold(gateway, customer_id, pm, amount=1_234)
        await gateway.capture(auth.intent_id, None, unique("cap"))

        # localstripe waits 1 s before delivering; other tests' events may arrive too.
        deadline = time.monotonic() + 10
        while True:
            body, signature = await asyncio.wait_for(
                received.get(), timeout=max(0.1, deadline - time.monotonic())
            )
            event = gateway.construct_webhook_event(body, signature, SECRET)
            if event.data_object.get("id") == auth.intent_id:
                break
        assert event.type == "payment_intent.succeeded"
        with pytest.raises(WebhookVerificationError):
            gateway.construct_webhook_event(body, signature, "whsec_wrong")
    finally:
        # localstripe cannot unregister a webhook: point it nowhere useful by overwriting it.
        await _configure_webhook(localstripe_url, hook_id, "http://127.0.0.1:9/", ["none"])
        await runner.cleanup()


# --- idempotency keys and retries -------------------------------------------------------------


class RecordingHTTPClient(stripe.HTTPXClient):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sent: list[tuple[str, str, dict[str, str]]] = []

    async def request_with_retries_async(self, method, url, headers, post_data=None, *a, **kw):
        self.sent.append((method.upper(), url, dict(headers)))
        return await super().request_with_retries_async(method, url, headers, post_data, *a, **kw)


async def test_every_write_carries_an_idempotency_key_derived_from_the_callers(
    localstripe_url, new_card
):
    http = RecordingHTTPClient(timeout=10)
    gateway = StripeGateway("sk_test_x", api_base=localstripe_url, http_client=http)
    try:
        customer = await gateway.ensure_customer(unique("user"))
        pm = await saved_card(gateway, customer, new_card, VISA)
        _, auth = await hold(gateway, customer, pm, command="cmd-42")
        await gateway.capture(auth.intent_id, 5_000, "cmd-43")
        await gateway.refund(auth.intent_id, 1_000, "cmd-44")
    finally:
        await http.close_async()

    writes = [(url.split("/v1/", 1)[1], h) for method, url, h in http.sent if method == "POST"]
    assert all(h.get("Idempotency-Key") for _, h in writes)
    keys = {path: h["Idempotency-Key"] for path, h in writes}
    assert keys["payment_intents"] == "cmd-42:authorize"
    assert keys[f"payment_intents/{auth.intent_id}/capture"] == "cmd-43:capture"
    assert keys["refunds"] == "cmd-44:refund"


async def test_gives_up_on_an_unreachable_stripe_after_bounded_backoff():
    delays: list[float] = []

    async def no_sleep(seconds: float) -> None:
        delays.append(seconds)

    closed = _free_port()  # nothing listens there
    gateway = StripeGateway(
        "sk_test_x",
        api_base=f"http://127.0.0.1:{closed}",
        max_attempts=4,
        backoff_base_s=0.1,
        backoff_max_s=0.3,
        sleep=no_sleep,
    )
    try:
        with pytest.raises(StripeUnavailable) as unavailable:
            await gateway.authorize("cus_x", "pm_x", 100, "EUR", "k", {"command_id": "c"})
    finally:
        await gateway.close()

    assert unavailable.value.attempts == 4 and unavailable.value.operation == "authorize"
    assert len(delays) == 3
    for delay, step in zip(delays, [0.1, 0.2, 0.3], strict=True):
        assert step / 2 <= delay <= step


async def test_retries_a_5xx_but_not_a_bad_request(localstripe_url):
    gateway = StripeGateway("sk_test_x", api_base=localstripe_url, sleep=lambda s: asyncio.sleep(0))
    calls = 0

    async def flaky():
        nonlocal calls
        calls += 1
        if calls < 3:
            raise stripe.APIError("boom", http_status=503)
        return "ok"

    async def bad():
        nonlocal calls
        calls += 1
        raise stripe.InvalidRequestError("no such thing", param="x", http_status=400)

    try:
        assert await gateway._request("flaky", flaky) == "ok"
        assert calls == 3
        calls = 0
        with pytest.raises(StripeRequestFailed) as failed:
            await gateway._request("bad", bad)
        assert calls == 1 and failed.value.http_status == 400
    finally:
        await gateway.close()
