"""The gateway presents each internal service its own credential, and refuses to start in
production without them."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from gateway.adapters.orchestrator import OrchestratorClient
from gateway.adapters.payment import PaymentClient
from gateway.config import Settings

PRODUCTION = {
    "environment": "production",
    "db_password": "real-db-password",
    "guest_data_key": "real-guest-key",
    "db_provision": False,
}
TOKENS = {
    "payment_api_token": "p" * 40,
    "orchestrator_api_token": "o" * 40,
    "provider_opentable_api_token": "t" * 40,
    "provider_eventbrite_api_token": "e" * 40,
}


@pytest.mark.parametrize("missing", sorted(TOKENS))
def test_production_refuses_to_start_without_each_services_credential(missing):
    given = {k: v for k, v in TOKENS.items() if k != missing}
    with pytest.raises(ValidationError, match="must be set in production"):
        Settings(**PRODUCTION, **given)


def test_production_starts_with_every_credential_and_needs_none_of_its_own():
    s = Settings(**PRODUCTION, **TOKENS)
    assert s.internal_api_token is None  # the gateway's API is public: people authenticate
    assert s.provider_tokens["opentable"].get_secret_value() == "t" * 40


async def test_each_client_sends_its_own_services_credential_and_no_other():
    seen: list[tuple[str, str | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers.get("authorization")))
        return httpx.Response(200, json={"customer_id": "cus_1", "sagas": [], "total": 0})

    transport = httpx.MockTransport(answer)
    payment = PaymentClient(
        "http://payment", 1.0, transport=transport, token=Settings(**TOKENS).payment_api_token
    )
    orchestrator = OrchestratorClient("http://orchestrator", 1.0, transport=transport, token=None)
    await payment.ensure_customer("usr_1", None)
    await orchestrator.call("GET", "/internal/sagas")
    assert seen == [("payment", "Bearer " + "p" * 40), ("orchestrator", None)]
    await payment.close()
    await orchestrator.close()
