"""Every Stripe call is timed by operation and outcome (real SDK against localstripe)."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import REGISTRY

from payment.domain.gateway import Authorized, CardDisplay, Declined

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

VISA = "4242424242424242"  # Stripe's published test cards
DECLINED_AT_CHARGE = "4000000000000341"


def count(operation: str, outcome: str) -> float:
    labels = {"provider": "stripe", "operation": operation, "outcome": outcome}
    return REGISTRY.get_sample_value("booking_partner_call_duration_seconds_count", labels) or 0.0


async def authorize(gateway, customer_id, new_card, number):  # type: ignore[no-untyped-def]
    card = await gateway.attach_payment_method(customer_id, await new_card(number))
    assert isinstance(card, CardDisplay)
    command = f"cmd-{uuid.uuid4().hex[:12]}"
    return await gateway.authorize(
        customer_id, card.pm_id, 5_000, "EUR", command, {"command_id": command}
    )


async def test_an_authorization_is_timed_as_ok_and_a_decline_as_rejected(
    gateway, customer_id, new_card
):
    ok, rejected = count("authorize", "ok"), count("authorize", "rejected")
    assert isinstance(await authorize(gateway, customer_id, new_card, VISA), Authorized)
    assert count("authorize", "ok") == ok + 1
    assert isinstance(await authorize(gateway, customer_id, new_card, DECLINED_AT_CHARGE), Declined)
    assert count("authorize", "rejected") == rejected + 1
    labels = {"provider": "stripe", "operation": "authorize", "outcome": "ok"}
    assert REGISTRY.get_sample_value("booking_partner_call_duration_seconds_sum", labels) > 0
