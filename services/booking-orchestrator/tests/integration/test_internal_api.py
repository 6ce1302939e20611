"""The internal read/ops API: saga detail, stuck-saga listing, and operator actions that are
recorded in the history, over the real service."""

from __future__ import annotations

import asyncio

from booking_shared.testing.plugin import wait_for

from .conftest import Harness
from .fakes import Act

OPS = {"actor": "ops:alice", "reason": "testing"}


async def test_a_saga_shows_its_items_payment_steps_and_history(orchestrator: Harness) -> None:
    h = orchestrator
    bid = await h.book()
    await h.settles(bid)
    saga = await h.saga(bid)
    assert set(saga) == {
        "booking_id",
        "user_id",
        "state",
        "mode",
        "definition_version",
        "paused",
        "total",
        "items",
        "payment",
        "failure_reasons",
        "steps",
        "history",
        "created_at",
        "updated_at",
        "attention",
        "attention_at",
    }
    assert (saga["attention"], saga["attention_at"]) == (None, None)
    assert (saga["state"], saga["mode"], saga["definition_version"], saga["paused"]) == (
        "CONFIRMED",
        "all_or_nothing",
        1,
        False,
    )
    item = saga["items"][0]
    assert set(item) == {
        "item_id",
        "provider",
        "booking_type",
        "status",
        "hold_id",
        "hold_expires_at",
        "confirmation_code",
        "price",
        "refund",
        "fee",
        "failure",
    }
    assert (item["fee"], item["failure"]) == (None, None)
    assert (item["status"], item["booking_type"], item["confirmation_code"]) == (
        "CONFIRMED",
        "restaurant",
        "CONF-item-1",
    )
    assert item["provider"] == h.fakes.providers[0].name
    assert saga["payment"]["payment_intent_id"] == f"pi_{bid}"
    assert saga["payment"]["captured"] == saga["total"]
    assert saga["payment"]["client_secret"] is None
    assert {s["name"] for s in saga["steps"]} == {
        "hold:item-1",
        "hold:item-2",
        "hold:item-3",
        "authorize",
        "confirm:item-1",
        "confirm:item-2",
        "confirm:item-3",
        "capture",
    }
    assert all(
        s["status"] == "DONE" and s["attempts"] == 1 and s["deadline_at"] is None
        for s in saga["steps"]
    )
    assert {e["direction"] for e in saga["history"]} == {"in", "out"}


async def test_sagas_are_listed_by_state_age_and_user(orchestrator: Harness) -> None:
    h = orchestrator
    bid = await h.book({"HoldItem:item-1": Act("reject")})
    await h.settles(bid)
    r = await h.http.get("/internal/sagas", params={"state": "FAILED", "user_id": f"usr_{bid}"})
    assert r.status_code == 200
    body = r.json()
    assert (
        body["total"] == 1
        and body["sagas"][0]["booking_id"] == bid
        and body["sagas"][0]["state"] == "FAILED"
    )
    stuck = await h.http.get("/internal/sagas", params={"state": "FAILED", "older_than_s": 3600})
    assert bid not in {s["booking_id"] for s in stuck.json()["sagas"]}
    page = await h.http.get("/internal/sagas", params={"limit": 1, "offset": 0})
    assert len(page.json()["sagas"]) == 1 and page.json()["total"] >= 2


async def test_bad_input_gets_a_problem_naming_the_field(orchestrator: Harness) -> None:
    h = orchestrator
    r = await h.http.get("/internal/sagas", params={"state": "SOMEWHERE", "limit": 0})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in r.json()["errors"]} == {"state", "limit"}
    missing = await h.http.get("/internal/sagas/bk_nobody")
    assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "booking_id"
    no_actor = await h.http.post("/internal/sagas/bk_nobody/retry", json={"reason": "x"})
    assert no_actor.status_code == 422 and no_actor.json()["errors"][0]["field"] == "actor"


async def test_a_paused_saga_parks_replies_and_fires_no_deadline_until_resumed(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    bid = await h.book({"AuthorizePayment": Act("manual")})
    await h.reaches(bid, "AUTHORIZING")
    r = await h.http.post(f"/internal/sagas/{bid}/pause", json=OPS)
    assert r.status_code == 200 and r.json()["paused"] is True
    sends = len(h.fakes.commands(bid, "AuthorizePayment"))
    await wait_for(
        lambda: h.fakes._manual.get((bid, "AuthorizePayment")), what="the authorize command"
    )
    await h.fakes.release(bid, "AuthorizePayment")
    await asyncio.sleep(h.settings.step_timeout_s * 2.5)  # past a deadline: nothing may fire
    assert await h.state(bid) == "AUTHORIZING"
    assert len(h.fakes.commands(bid, "AuthorizePayment")) == sends
    assert h.fakes.commands(bid, "ConfirmItem") == []
    parked = await h.saga(bid)
    assert any(
        "parked" in e["summary"] for e in parked["history"] if e["type"] == "PaymentAuthorized"
    )
    r = await h.http.post(f"/internal/sagas/{bid}/resume", json=OPS)
    assert r.status_code == 200 and r.json()["paused"] is False
    assert await h.settles(bid) == "CONFIRMED"
    actions = [
        (e["type"], e["summary"])
        for e in (await h.saga(bid))["history"]
        if e["direction"] == "action"
    ]
    assert [a for a, _ in actions][:2] == ["pause", "resume"]
    assert all("ops:alice" in s for _, s in actions[:2])


async def test_an_operator_retry_resends_the_stuck_step_now_with_the_same_command_id(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    bid = await h.book({"CapturePayment": Act("manual")})
    await h.reaches(bid, "CAPTURING")
    before = len(h.fakes.commands(bid, "CapturePayment"))
    r = await h.http.post(f"/internal/sagas/{bid}/retry", json=OPS)
    assert r.status_code == 200
    await wait_for(
        lambda: len(h.fakes.commands(bid, "CapturePayment")) > before, what="the resent capture"
    )
    assert len({c.command_id for c in h.fakes.commands(bid, "CapturePayment")}) == 1
    await h.fakes.release(bid, "CapturePayment")
    assert await h.settles(bid) == "CONFIRMED"
    assert any(e["type"] == "retry" for e in (await h.saga(bid))["history"])


async def test_an_operator_can_force_compensation_before_capture(orchestrator: Harness) -> None:
    h = orchestrator
    bid = await h.book({"AuthorizePayment": Act("manual")})
    await h.reaches(bid, "AUTHORIZING")
    r = await h.http.post(
        f"/internal/sagas/{bid}/compensate", json={"actor": "ops:bob", "reason": "fraud check"}
    )
    assert r.status_code == 200
    assert await h.settles(bid) == "FAILED"
    h.fakes._manual.pop((bid, "AuthorizePayment"), None)  # the payment service never got to it
    saga = await h.saga(bid)
    assert saga["failure_reasons"] == [
        {"item_id": None, "code": "operator_compensation", "detail": "ops:bob: fraud check"}
    ]
    assert len(h.fakes.commands(bid, "VoidPayment")) == 1
    assert h.fakes.active(bid) == {}


async def test_an_action_the_state_does_not_allow_is_a_409_problem(orchestrator: Harness) -> None:
    h = orchestrator
    bid = await h.book()
    await h.settles(bid)
    r = await h.http.post(f"/internal/sagas/{bid}/compensate", json=OPS)
    assert r.status_code == 409
    assert r.json()["errors"] == [
        {"field": "action", "message": "cannot force compensation in CONFIRMED"}
    ]
    assert await h.state(bid) == "CONFIRMED"


async def test_a_compensation_that_cannot_finish_is_visible_and_an_operator_retry_finishes_it(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    bid = await h.book({"HoldItem:item-2": Act("reject"), "CancelItem:item-1": Act("silent")})
    assert await h.settles(bid, within=30) == "COMPENSATION_FAILED"
    listed = await h.http.get("/internal/sagas", params={"state": "COMPENSATION_FAILED"})
    assert bid in {s["booking_id"] for s in listed.json()["sagas"]}
    stuck = await h.http.get("/internal/sagas/stuck", params={"limit": 500})
    mine = [s for s in stuck.json()["sagas"] if s["booking_id"] == bid]
    assert [(s["reason"], s["state"]) for s in mine] == [
        ("compensation_failed", "COMPENSATION_FAILED")
    ]
    assert h.fakes.active(bid) == {"item-1": "HELD"}
    h.fakes.script(bid, {})  # the partner is back
    r = await h.http.post(f"/internal/sagas/{bid}/retry", json=OPS)
    assert r.status_code == 200 and r.json()["state"] == "COMPENSATING"
    assert await h.settles(bid) == "FAILED"
    assert h.fakes.active(bid) == {}
    releases = h.fakes.commands(bid, "CancelItem", "item-1")
    assert len({c.command_id for c in releases}) == 1, "the retry resends the same command"
