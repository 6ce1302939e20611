"""The client's retry, idempotency and ghost rules, against a scripted transport (no server)."""

from __future__ import annotations

import json
import typing
from collections.abc import Callable

import httpx
import pytest

from booking_shared.contracts.provider import RejectReason
from booking_shared.provider_kit import PartnerUnavailable as KitPartnerUnavailable
from provider_eventbrite.adapters.partner_client import (
    EventbriteClient,
    PartnerRequestError,
    PartnerUnavailable,
    Reason,
    Status,
)
from provider_eventbrite.adapters.partner_models import (
    Reason as Reasons,
)
from provider_eventbrite.adapters.partner_models import (
    contract_reason,
    normalise_status,
    reason_for,
)

ORDER = {
    "order_id": "1001",
    "status": "CONFIRMED",
    "partner_reference": "ref-1",
    "hold_id": "h1",
    "quantity": 1,
    "tickets": [{"ticket_id": "1001-1", "status": "VALID"}],
    "price": {"quantity": 1, "total": {"currency": "EUR", "value": 2500}},
}
HELD = {"hold_id": "h1", "status": "HELD", "validUntil": "2030-01-01T10:15:00.000Z", "quantity": 1}
ATTENDEE = {"name": "A", "email": "a@example.org"}


class Script:
    """A transport that answers from a list of handlers, one per request, and records requests."""

    def __init__(self, *answers: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)(request)

    def calls(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


def answer(status: int, body: dict | None = None) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=body or {})


def timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def client_for(script: Script, **kw) -> EventbriteClient:
    opts = {
        "timeout": 1.0,
        "max_retries": 3,
        "max_concurrency": 4,
        "rate_per_second": None,
        "backoff_base": 0.001,
        "backoff_max": 0.002,
    }
    opts.update(kw)
    return EventbriteClient("http://partner.test", transport=httpx.MockTransport(script), **opts)


def test_request_ids_are_stable_per_operation_and_key():
    a = EventbriteClient.request_id("hold", "cmd-1")
    assert a == EventbriteClient.request_id("hold", "cmd-1")
    assert a != EventbriteClient.request_id("create_order", "cmd-1")
    assert a != EventbriteClient.request_id("hold", "cmd-2")
    with pytest.raises(ValueError):
        EventbriteClient.request_id("hold", "")


async def test_a_retried_write_carries_the_same_request_id():
    script = Script(answer(503), refused, answer(201, HELD))
    async with client_for(script) as client:
        held = await client.hold("e1", "t1", 1, "ref-1", idempotency_key="cmd-1")
    assert held.status is Status.HELD and held.hold_id == "h1"
    ids = {r.headers["X-Request-Id"] for r in script.requests}
    assert ids == {EventbriteClient.request_id("hold", "cmd-1")} and len(script.requests) == 3


async def test_a_timed_out_order_is_looked_up_by_reference_before_writing_again():
    script = Script(timeout, answer(200, {"pagination": {}, "orders": [ORDER]}))
    async with client_for(script) as client:
        order = await client.create_order("h1", "ref-1", ATTENDEE, idempotency_key="cmd-1")
    assert order.status is Status.CONFIRMED and order.recovered and order.order_id == "1001"
    assert script.calls() == ["POST /partner/v1/orders", "GET /partner/v1/orders"]
    assert script.requests[1].url.params["partner_reference"] == "ref-1"


async def test_when_the_lookup_finds_nothing_the_order_is_written_again_with_the_same_id():
    script = Script(answer(502), answer(200, {"orders": []}), answer(201, ORDER))
    async with client_for(script) as client:
        order = await client.create_order("h1", "ref-1", ATTENDEE, idempotency_key="cmd-1")
    assert order.status is Status.CONFIRMED and not order.recovered
    assert script.calls() == [
        "POST /partner/v1/orders",
        "GET /partner/v1/orders",
        "POST /partner/v1/orders",
    ]
    posts = [r for r in script.requests if r.method == "POST"]
    assert posts[0].headers["X-Request-Id"] == posts[1].headers["X-Request-Id"]
    assert json.loads(posts[0].content) == json.loads(posts[1].content)


async def test_an_order_lost_to_an_outage_is_still_found_by_a_last_lookup():
    # The write times out; the lookup that should come before a second write fails too, so the
    # client does not write blindly; its last act is one more lookup, which finds the order.
    script = Script(timeout, answer(503), answer(200, {"orders": [ORDER]}))
    async with client_for(script, max_retries=1) as client:
        order = await client.create_order("h1", "ref-1", ATTENDEE, idempotency_key="cmd-1")
    assert order.recovered
    assert script.calls() == [
        "POST /partner/v1/orders",
        "GET /partner/v1/orders",
        "GET /partner/v1/orders",
    ]


async def test_a_409_is_an_answer_and_is_not_retried():
    script = Script(answer(409, {"code": "HOLD_EXPIRED", "message": "expired"}))
    async with client_for(script) as client:
        order = await client.create_order("h1", "ref-1", ATTENDEE, idempotency_key="cmd-1")
    assert order.status is Status.REJECTED and order.reason == Reason.HOLD_EXPIRED
    assert order.partner_status == "HOLD_EXPIRED" and len(script.requests) == 1


async def test_only_an_outage_past_the_retries_raises():
    script = Script(*[answer(500)] * 3)
    async with client_for(script, max_retries=2) as client:
        with pytest.raises(PartnerUnavailable) as err:
            await client.cancel_quote("1001")
    assert err.value.attempts == 3 and err.value.last == 500


async def test_an_unexpected_4xx_on_a_read_is_a_request_error_not_a_retry():
    script = Script(answer(401, {"error": "INVALID_AUTH"}))
    async with client_for(script) as client:
        with pytest.raises(PartnerRequestError) as err:
            await client.search_events()
    assert err.value.status == 401 and len(script.requests) == 1


@pytest.mark.parametrize(
    ("raw", "ours"),
    [
        ("HELD", Status.HELD),
        ("PENDING_CONFIRMATION", Status.PENDING),
        ("placed", Status.CONFIRMED),
        ("CONFIRMED", Status.CONFIRMED),
        ("SOLD_OUT", Status.REJECTED),
        ("RELEASED", Status.CANCELLED),
        ("CANCELLED", Status.CANCELLED),
        ("FAILED", Status.FAILED),
        ("SOMETHING_NEW", Status.FAILED),
    ],
)
def test_partner_states_are_normalised(raw, ours):
    assert normalise_status(raw) is ours


def test_partner_codes_become_reason_codes():
    assert reason_for("SOLD_OUT") == "sold_out"
    assert reason_for("HOLD_EXPIRED") == "hold_expired"
    assert reason_for("INSUFFICIENT_INVENTORY") == "insufficient_inventory"
    assert reason_for(None, 404) == "not_found"
    assert reason_for("BRAND_NEW_CODE", 409) == "brand_new_code"


def test_every_reason_maps_to_a_reply_contract_reason():
    allowed = set(typing.get_args(RejectReason))
    assert {contract_reason(r.value) for r in Reasons} <= allowed
    assert contract_reason("something_new") in allowed and contract_reason(None) in allowed


def test_the_outage_error_is_the_provider_kits_too():
    assert issubclass(PartnerUnavailable, KitPartnerUnavailable)


async def test_ids_are_quoted_as_one_path_segment_and_never_reach_another_resource():
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={"error": "NOT_FOUND"})

    async with client_for(record) as client:
        assert await client.get_event("../../partner/v1/orders/1001?x=#") is None
        assert await client.get_venue("v 1/%2e") is None
        with pytest.raises(ValueError):
            await client.get_event("..")
    assert len(seen) == 2
    assert seen[0].url.raw_path.decode() == (
        "/v3/events/..%2F..%2Fpartner%2Fv1%2Forders%2F1001%3Fx%3D%23/?expand=venue%2Cticket_classes"
    )
    assert seen[1].url.raw_path.decode() == "/v3/venues/v%201%2F%252e/"
