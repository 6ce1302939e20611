"""The httpx clients of the other services: paths under a base URL, errors mapped."""

from __future__ import annotations

import httpx
import pytest

from gateway.adapters.orchestrator import OrchestratorClient
from gateway.adapters.payment import PaymentClient
from gateway.adapters.providers import ProviderClient
from gateway.domain.errors import UpstreamRejected, UpstreamUnavailable


def transport(handler):
    return httpx.MockTransport(handler)


async def test_paths_are_joined_under_a_base_path_and_ids_escaped():
    seen = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req.url.raw_path.decode())
        return httpx.Response(
            200,
            json={
                "payment_methods": [
                    {
                        "id": "pm_1",
                        "brand": "visa",
                        "last4": "4242",
                        "exp_month": 12,
                        "exp_year": 2034,
                        "is_default": True,
                    }
                ]
            },
        )

    client = PaymentClient("http://svc/payment", 1, transport=transport(handler))
    cards = await client.list_cards("cus/1")
    assert seen == ["/payment/internal/customers/cus%2F1/payment-methods"] and cards[0].id == "pm_1"


async def test_5xx_and_transport_errors_are_unavailable_4xx_rejected_404_none():
    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path.endswith("/search"):
            return httpx.Response(503)
        if req.url.path.endswith("/quote"):
            return httpx.Response(422, json={"errors": [{"field": "items[0]", "message": "bad"}]})
        if "/sagas/" in req.url.path:
            return httpx.Response(404, json={"detail": "no such saga"})
        raise httpx.ConnectError("refused")

    p = ProviderClient("opentable", "http://svc", 1, transport=transport(handler))
    with pytest.raises(UpstreamUnavailable):
        await p.search({"date": "2026-12-05", "q": None}, 1)
    with pytest.raises(UpstreamRejected) as exc:
        await p.quote([])
    assert exc.value.status == 422 and exc.value.body["errors"][0]["field"] == "items[0]"
    o = OrchestratorClient("http://svc", 1, transport=transport(handler))
    assert await o.get_saga("bk_1") is None
    with pytest.raises(UpstreamUnavailable):
        await o.list_sagas({})


async def test_a_providers_capabilities_are_read_once_then_cached_and_unreadable_ones_are_an_outage():
    calls = []
    answer = {
        "provider": "opentable",
        "booking_types": ["restaurant"],
        "capabilities": {
            "hold": True,
            "api_book": True,
            "cancel": True,
            "guest_requirements": {"fields": [{"field": "phone"}]},
        },
    }

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req.url.path)
        return httpx.Response(200, json=answer)

    p = ProviderClient("opentable", "http://svc", 1, transport=transport(handler))
    first, again = await p.capabilities(), await p.capabilities()
    assert first == again and calls == ["/internal/capabilities"]
    [rule] = first.guest_requirements.fields
    assert (rule.field, rule.required) == ("phone", True)

    answer["capabilities"] = {"hold": "perhaps"}
    fresh = ProviderClient(
        "opentable", "http://svc", 1, capabilities_ttl_s=0, transport=transport(handler)
    )
    with pytest.raises(UpstreamUnavailable):
        await fresh.capabilities()


async def test_a_quote_waits_for_the_quote_timeout_and_other_calls_for_the_usual_one():
    seen: dict[str, float] = {}

    def handler(req: httpx.Request) -> httpx.Response:
        seen[req.url.path] = req.extensions["timeout"]["read"]
        if req.url.path.endswith("/quote"):
            return httpx.Response(200, json={"provider": "opentable", "items": []})
        return httpx.Response(404, json={"detail": "none"})

    p = ProviderClient(
        "opentable", "http://svc", 1, quote_timeout_s=15, transport=transport(handler)
    )
    assert await p.quote([]) == []
    assert await p.booking_items("bk_1") == []
    assert seen == {"/internal/quote": 15, "/internal/bookings/bk_1/items": 1}
