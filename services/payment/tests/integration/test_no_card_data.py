"""No card number anywhere: after every kind of flow (cards saved from real test numbers,
holds, captures, refunds, declines, 3-D Secure, webhooks with whole Stripe objects, disputes),
dump every table of the service's schema, its logs (at DEBUG) and its replies, and look for
13-19 digit runs that pass the Luhn check."""

from __future__ import annotations

import secrets
import uuid

import httpx
import pytest

from booking_shared.contracts import (
    AuthorizePayment,
    CapturePayment,
    PaymentActionRequired,
    PaymentAuthorized,
    RefundPayment,
    VoidPayment,
)
from booking_shared.money import Money
from booking_shared.pan import card_numbers, luhn_ok
from booking_shared.testing.plugin import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

SERVICE_OVERRIDES = {"log_level": "DEBUG"}

CARDS = {
    "visa": "4242424242424242",
    "mastercard": "5555555555554444",
    "3ds": "4000002500003155",
    "declined_at_charge": "4000000000000341",
}
DECLINED_AT_ATTACH = "4000000000000002"

# The shared detector's scanner: digit runs standing alone, of a card brand, passing Luhn.
card_numbers_in = card_numbers


def test_the_scanner_finds_card_numbers_however_they_are_written():
    for number in [*CARDS.values(), DECLINED_AT_ATTACH, "378282246310005", "6011111111111117"]:
        assert luhn_ok(number)
        assert card_numbers_in(f'{{"number": "{number}"}}') == [number]
    assert card_numbers_in("card 4242 4242 4242 4242 exp 12/34") == ["4242424242424242"]
    assert card_numbers_in("4242-4242-4242-4242") == ["4242424242424242"]
    assert (
        card_numbers_in("4242424242424242"[:-1] + "1") == []
    )  # the test card with a wrong check digit: fails Luhn
    assert card_numbers_in("pi_3Pq2w34242424242424242x") == []  # part of an id, not a number
    assert card_numbers_in("2026-06-01T12:00:00Z 1718000000") == []


async def _exercise_everything(svc) -> None:
    """Every path that could let card data in: each saves a card from a raw test number (test
    side, straight to the emulator, as a browser does with Stripe.js) and runs a flow."""
    pms = {}
    for name, number in CARDS.items():
        customer, pm = await svc.customer_with_card(number)
        pms[name] = (customer, pm)
    refused = await svc.http.post(
        f"/internal/customers/{pms['visa'][0]}/payment-methods",
        json={"payment_method_id": await svc.new_card(DECLINED_AT_ATTACH)},
    )
    assert refused.status_code == 402
    for customer, _ in pms.values():
        assert (
            await svc.http.get(f"/internal/customers/{customer}/payment-methods")
        ).status_code == 200

    def authorize(name: str, amount: int) -> AuthorizePayment:
        customer, pm = pms[name]
        return AuthorizePayment(
            booking_id=f"bk_{secrets.token_hex(6)}",
            command_id=uuid.uuid4(),
            customer_id=customer,
            payment_method_id=pm,
            amount=Money(amount_minor=amount, currency="EUR"),
        )

    paid = authorize("visa", 12_000)
    auth = await svc.run(paid)
    await svc.run(
        CapturePayment(
            booking_id=paid.booking_id,
            command_id=uuid.uuid4(),
            amount=Money(amount_minor=10_000, currency="EUR"),
        )
    )
    await svc.run(
        RefundPayment(
            booking_id=paid.booking_id,
            command_id=uuid.uuid4(),
            amount=Money(amount_minor=2_500, currency="EUR"),
        )
    )
    charge = (await svc.intent_object(auth.payment_intent_id))["latest_charge"]
    await svc.webhook("charge.refunded", charge)
    await svc.webhook(
        "charge.dispute.created",
        {
            "id": f"dp_{secrets.token_hex(6)}",
            "object": "dispute",
            "amount": 10_000,
            "currency": "eur",
            "charge": charge["id"],
            "payment_intent": auth.payment_intent_id,
            "reason": "fraudulent",
            "status": "needs_response",
        },
    )
    await svc.webhook("payment_intent.succeeded", await svc.intent_object(auth.payment_intent_id))

    voided = authorize("mastercard", 3_000)
    await svc.run(voided)
    await svc.run(VoidPayment(booking_id=voided.booking_id, command_id=uuid.uuid4()))

    await svc.run(authorize("declined_at_charge", 2_000))

    secure = authorize("3ds", 7_000)
    action = await svc.run(secure)
    assert isinstance(action, PaymentActionRequired)
    async with httpx.AsyncClient() as http:
        await http.post(
            f"{svc.settings.stripe_api_base}/v1/payment_intents/{action.payment_intent_id}/_authenticate",
            data={"client_secret": action.client_secret, "success": "true"},
            headers={"Authorization": f"Bearer {svc.settings.stripe_api_key}"},
        )
    await svc.webhook(
        "payment_intent.amount_capturable_updated",
        await svc.intent_object(action.payment_intent_id),
    )
    await svc.reply(secure.command_id, PaymentAuthorized)
    await wait_for(lambda: _all_sent(svc), what="every reply published")


async def _all_sent(svc) -> bool:
    return await svc.pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0


async def test_no_card_number_in_the_services_tables_logs_or_replies(svc):
    await _exercise_everything(svc)

    tables = await svc.pool.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'",
        svc.settings.db_schema,
    )
    names = sorted(t["table_name"] for t in tables)
    assert {
        "customers",
        "payment_methods",
        "payments",
        "commands",
        "webhook_events",
        "disputes",
        "payment_history",
        "outbox",
        "inbox",
    } <= set(names)
    dump = {}
    for name in names:
        rows = await svc.pool.fetch(f'SELECT t::text AS row FROM "{name}" t')
        dump[name] = "\n".join(r["row"] for r in rows)
    assert (
        "4242" in dump["payment_methods"] and "pm_" in dump["payment_methods"]
    )  # the dump is real
    assert "pi_" in dump["payments"] and "PaymentAuthorized" in dump["outbox"]

    logs = "\n".join(svc.logs.lines)
    assert "webhook event handled" in logs  # the capture saw the service's DEBUG/INFO lines
    replies = "\n".join(f"{env.model_dump_json()} {r.model_dump_json()}" for env, r in svc.replies)
    assert replies

    leaks = {
        where: card_numbers_in(text)
        for where, text in {**dump, "logs": logs, "replies": replies}.items()
    }
    assert {where: found for where, found in leaks.items() if found} == {}
    for number in [*CARDS.values(), DECLINED_AT_ATTACH]:
        assert number not in logs and number not in replies
        assert all(number not in text for text in dump.values())
