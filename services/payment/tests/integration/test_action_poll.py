"""The 3-D Secure poll: a payment parked for the person's authentication moves on from what
Stripe says of its intent, with no webhook at all (the dev emulator never sends it)."""

from __future__ import annotations

import asyncio

import pytest

from booking_shared.contracts import PaymentActionRequired, PaymentAuthorized, PaymentDeclined
from payment.entrypoints.action_poll import ActionPoll

from .test_stripe_webhooks import NEEDS_3DS, authenticate, authorize

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

SERVICE_OVERRIDES = {"action_poll_interval_s": 0.2}


async def test_an_authenticated_card_resumes_the_parked_saga_without_a_webhook(svc):
    cmd, action = await authorize(svc, NEEDS_3DS)
    assert isinstance(action, PaymentActionRequired)
    await authenticate(svc, action, success=True)

    authorized = await svc.reply(cmd.command_id, PaymentAuthorized)
    assert authorized.payment_intent_id == action.payment_intent_id
    assert authorized.amount_capturable.amount_minor == cmd.amount.amount_minor
    view = await svc.payment(cmd.booking_id)
    assert (view["status"], view["client_secret"]) == ("authorized", None)
    assert await svc.run(cmd) == authorized  # a resend of the command gets the same answer


async def test_a_failed_authentication_answers_payment_declined_without_a_webhook(svc):
    cmd, action = await authorize(svc, NEEDS_3DS)
    await authenticate(svc, action, success=False)

    declined = await svc.reply(cmd.command_id, PaymentDeclined)
    assert declined.decline_code == "payment_intent_authentication_failure"
    assert (await svc.payment(cmd.booking_id))["status"] == "declined"


async def test_a_payment_still_waiting_for_the_person_is_left_waiting(svc):
    cmd, action = await authorize(svc, NEEDS_3DS)
    poll = svc.runtime.worker(ActionPoll)
    before = poll.moved
    await asyncio.sleep(1.0)  # several polls

    assert poll.moved == before
    assert svc.answers(cmd.command_id, PaymentAuthorized) == []
    view = await svc.payment(cmd.booking_id)
    assert view["status"] == "requires_action"
    assert view["client_secret"] == action.client_secret
