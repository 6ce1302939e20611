"""Writes need a request id, a repeated one has one effect, and bad input names its field."""

from __future__ import annotations

import asyncio

import pytest

from provider_eventbrite.adapters.partner_client import Reason, Status


async def test_a_repeated_request_id_returns_the_first_answer_without_a_second_effect(sandbox, ref):
    event, tc = await sandbox.bookable(min_left=2)
    body = {
        "event_id": event["id"],
        "ticket_class_id": tc["id"],
        "quantity": 2,
        "partner_reference": ref("item"),
    }
    headers = {"X-Request-Id": ref("req")}
    first, second, third = await asyncio.gather(
        *(sandbox.http.post("/partner/v1/holds", json=body, headers=headers) for _ in range(3))
    )
    assert first.status_code == second.status_code == third.status_code == 201
    assert first.json() == second.json() == third.json()
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in (first, second, third)) == 2
    assert len([h for h in await sandbox.holds() if h["partner_reference"] == ref("item")]) == 1

    # Idempotency-Key is accepted as well; the same key on another request is refused.
    reused = await sandbox.http.post(
        "/partner/v1/holds", json={**body, "quantity": 1}, headers={"Idempotency-Key": ref("req")}
    )
    assert reused.status_code == 422 and reused.json()["field"] == "X-Request-Id"


async def test_the_client_reuses_its_request_id_so_a_repeated_command_holds_once(
    sandbox, make_client, ref
):
    client = make_client()
    event, tc = await sandbox.bookable(min_left=1)
    a = await client.hold(event["id"], tc["id"], 1, ref("item"), idempotency_key=ref("cmd"))
    b = await client.hold(event["id"], tc["id"], 1, ref("item"), idempotency_key=ref("cmd"))
    assert a.hold_id == b.hold_id and a.status is Status.HELD
    o1 = await client.create_order(
        a.hold_id, ref("item"), {"name": "A", "email": "a@example.org"}, idempotency_key=ref("cmd")
    )
    o2 = await client.create_order(
        a.hold_id, ref("item"), {"name": "A", "email": "a@example.org"}, idempotency_key=ref("cmd")
    )
    assert o1.order_id == o2.order_id and len(await sandbox.orders(ref("item"))) == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/partner/v1/holds"),
        ("POST", "/partner/v1/orders"),
        ("DELETE", "/partner/v1/holds/hold_x"),
        ("POST", "/partner/v1/orders/1/cancel"),
    ],
)
async def test_writes_without_a_request_id_are_refused(sandbox, method, path):
    resp = await sandbox.http.request(method, path)
    assert resp.status_code == 400
    assert resp.json()["code"] == "MISSING_REQUEST_ID" and resp.json()["field"] == "X-Request-Id"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": "2"}, "quantity"),
        ({"quantity": 11}, "quantity"),  # above the class's maximum per order
        ({"event_id": None}, "event_id"),
        ({"ticket_class_id": "  "}, "ticket_class_id"),
        ({"partner_reference": ""}, "partner_reference"),
    ],
)
async def test_bad_hold_input_gets_422_naming_the_field_and_changes_nothing(
    sandbox, ref, change, field
):
    event, tc = await sandbox.bookable(min_left=1)
    body = {
        "event_id": event["id"],
        "ticket_class_id": tc["id"],
        "quantity": 1,
        "partner_reference": ref("item"),
        **change,
    }
    resp = await sandbox.http.post(
        "/partner/v1/holds", json=body, headers={"X-Request-Id": ref("r")}
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == field and field in resp.json()["message"]
    assert await sandbox.holds() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"partner_reference": "x", "attendee": {"name": "A", "email": "a@example.org"}},
            "hold_id",
        ),
        (
            {"hold_id": "h", "partner_reference": "x", "attendee": {"name": "A", "email": "nope"}},
            "attendee.email",
        ),
        ({"hold_id": "h", "partner_reference": "x"}, "attendee"),
    ],
)
async def test_bad_order_input_gets_422_naming_the_field(sandbox, ref, body, field):
    resp = await sandbox.http.post(
        "/partner/v1/orders", json=body, headers={"X-Request-Id": ref("r")}
    )
    assert resp.status_code == 422 and resp.json()["field"] == field
    assert await sandbox.orders() == []


async def test_unknown_ids_and_unsellable_classes_are_typed_rejections(sandbox, make_client, ref):
    client = make_client()
    event, _ = await sandbox.bookable()
    unknown = await client.hold(event["id"], "999", 1, ref("i"), idempotency_key=ref("a"))
    assert unknown.status is Status.REJECTED and unknown.reason == Reason.NOT_FOUND
    events = await sandbox.events()
    sold_out = next(
        (e, t) for e in events for t in e["ticket_classes"] if t["on_sale_status"] == "SOLD_OUT"
    )
    r = await client.hold(
        sold_out[0]["id"], sold_out[1]["id"], 1, ref("i"), idempotency_key=ref("b")
    )
    assert r.reason == Reason.SOLD_OUT and r.partner_status == "SOLD_OUT"
    later = next(
        (e, t)
        for e in events
        for t in e["ticket_classes"]
        if t["on_sale_status"] == "NOT_YET_ON_SALE"
    )
    r = await client.hold(later[0]["id"], later[1]["id"], 1, ref("i"), idempotency_key=ref("c"))
    assert r.status is Status.REJECTED and r.reason == Reason.NOT_ON_SALE
    missing = await client.create_order(
        "hold_nope", ref("i"), {"name": "A", "email": "a@example.org"}, idempotency_key=ref("d")
    )
    assert missing.status is Status.REJECTED and missing.reason == Reason.HOLD_NOT_FOUND
