"""Integration fixtures for the Stripe gateway: a private localstripe for the session, the gateway, test cards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import stripe
from payment.adapters.stripe_gateway import StripeGateway

API_KEY = "sk_test_payment_integration"

@pytest.fixture
async def gateway(localstripe_url: str) -> AsyncIterator[StripeGateway]:
    gw = StripeGateway(API_KEY, api_base=localstripe_url, backoff_base_s=0.01, timeout_s=10)
    try:
        yield gw
    finally:
        await gw.close()


@pytest.fixture
async def stripe_client(localstripe_url: str) -> AsyncIterator[stripe.StripeClient]:
    """The raw SDK, for what only tests do (minting PaymentMethods from test card numbers)."""
    http = stripe.HTTPXClient(timeout=10)
    client = stripe.StripeClient(
        API_KEY,
        base_addresses={"api": localstripe_url},
        http_client=http,
        max_network_retries=0,
    )
    try:
        yield client
    finally:
        await http.close_async()


@pytest.fixture
def new_card(stripe_client: stripe.StripeClient) -> Callable[[str], Awaitable[str]]:
    """Mint a `pm_...` from one of Stripe's published test card numbers (tests only: in the
    product, card numbers go from the browser to Stripe and never through us)."""

    async def make(number: str) -> str:
        pm = await stripe_client.v1.payment_methods.create_async(
            params={
                "type": "card",
                "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
            }
        )
        return pm.id

    return make


@pytest.fixture
async def customer_id(gateway: StripeGateway) -> str:
    return await gateway.ensure_customer(f"user-{uuid.uuid4().hex[:12]}", "person@example.com")
