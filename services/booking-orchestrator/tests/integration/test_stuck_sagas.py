"""The stuck list the ops dashboard shows first, answered by the orchestrator from its own tables:
each saga with its reason (COMPENSATION_FAILED, flagged, a step past its persisted deadline,
compensating too long), most urgent first, paginated, and filtered by provider."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from booking_shared.contracts.internal.orchestrator import STUCK_REASONS, StuckSagaList
from booking_shared.testing.plugin import wait_for

from .conftest import Harness
from .fakes import Act

OPS = {"actor": "ops:alice", "reason": "testing"}


async def _stuck(h: Harness, **params: Any) -> dict[str, Any]:
    r = await h.http.get("/internal/sagas/stuck", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return StuckSagaList.model_validate(r.json()).model_dump(mode="json")


async def _providers_of(h: Harness, bid: str) -> list[str]:
    """The providers the saga's items were routed to, as its own detail shows them."""
    return sorted({it["provider"] for it in (await h.saga(bid))["items"] if it["provider"]})


async def _listed(h: Harness, bid: str, **params: Any) -> dict[str, Any] | None:
    return next((s for s in (await _stuck(h, **params))["sagas"] if s["booking_id"] == bid), None)


async def test_a_paused_saga_whose_step_deadline_has_passed_is_stuck_past_its_deadline(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    bid = await h.book({"AuthorizePayment": Act("manual")})
    await h.reaches(bid, "AUTHORIZING")
    r = await h.http.post(f"/internal/sagas/{bid}/pause", json=OPS)
    assert r.status_code == 200

    async def overdue() -> dict[str, Any] | None:
        return await _listed(h, bid)

    found = await wait_for(overdue, timeout=10, interval=0.1, what="the paused saga listed")
    assert found["reason"] == "past_deadline"
    assert (found["step"], found["attempts"], found["state"]) == ("authorize", 1, "AUTHORIZING")
    # Paused, so the deadline worker left it: the persisted deadline itself is in the past.
    row = await h.pool.fetchrow(
        "SELECT deadline_at, deadline_at < now() AS past FROM saga_steps"
        " WHERE booking_id = $1 AND name = 'authorize'",
        bid,
    )
    assert row["past"] and datetime.fromisoformat(found["deadline_at"]) == row["deadline_at"]
    assert "AuthorizePayment (authorize) unanswered past its deadline" in found["detail"]
    assert found["providers"] == await _providers_of(h, bid)

    await h.http.post(f"/internal/sagas/{bid}/resume", json=OPS)
    await wait_for(lambda: h.fakes._manual.get((bid, "AuthorizePayment")), what="authorize")
    await h.fakes.release(bid, "AuthorizePayment")
    assert await h.settles(bid) == "CONFIRMED"
    assert await _listed(h, bid) is None


async def test_a_step_resent_after_its_deadline_is_stuck_with_the_number_of_sends(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    bid = await h.book({"HoldItem:item-2": Act("manual")})

    async def resent() -> dict[str, Any] | None:
        found = await _listed(h, bid)
        return found if found and (found["attempts"] or 0) >= 2 else None

    found = await wait_for(resent, timeout=10, interval=0.05, what="the resent hold listed")
    assert (found["reason"], found["step"], found["state"]) == (
        "past_deadline",
        "hold:item-2",
        "HOLDING",
    )
    assert "HoldItem (hold:item-2) unanswered past its deadline" in found["detail"]
    assert "next deadline" in found["detail"]
    # The silent hold runs out of sends and the saga compensates: nothing left stuck.
    assert await h.settles(bid, within=30) == "FAILED"
    h.fakes._manual.pop((bid, "HoldItem:item-2"), None)
    assert await _listed(h, bid) is None


async def test_a_saga_compensating_longer_than_the_limit_is_stuck(orchestrator: Harness) -> None:
    h = orchestrator
    bid = await h.book({"HoldItem:item-2": Act("reject"), "CancelItem:item-1": Act("manual")})
    await h.reaches(bid, "COMPENSATING")
    assert (await h.http.post(f"/internal/sagas/{bid}/pause", json=OPS)).status_code == 200
    # Compensating for ten minutes already, its undo still within its deadline.
    async with h.pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE sagas SET state_changed_at = now() - interval '10 minutes' WHERE booking_id = $1",
            bid,
        )
        await conn.execute(
            "UPDATE saga_steps SET deadline_at = now() + interval '1 hour', attempts = 1"
            " WHERE booking_id = $1 AND status = 'SENT'",
            bid,
        )
    found = await _listed(h, bid)
    assert found is not None and found["reason"] == "compensating_too_long", found
    assert found["detail"] == f"compensating for longer than {h.settings.stuck_compensating_s:g} s"
    assert found["since"] == found["state_changed_at"]
    assert await _listed(h, bid, compensating_longer_than_s=3600) is None
    assert (await _listed(h, bid, compensating_longer_than_s=60))["reason"] == (
        "compensating_too_long"
    )

    await h.http.post(f"/internal/sagas/{bid}/resume", json=OPS)
    await wait_for(lambda: h.fakes._manual.get((bid, "CancelItem:item-1")), what="the undo")
    await h.fakes.release(bid, "CancelItem:item-1")
    assert await h.settles(bid) == "FAILED"


async def test_the_stuck_list_is_most_urgent_first_paginated_and_filtered_by_provider(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    failed = await h.book({"HoldItem:item-2": Act("reject"), "CancelItem:item-1": Act("silent")})
    paused = await h.book({"AuthorizePayment": Act("manual")}, n=1)  # one restaurant item
    await h.reaches(paused, "AUTHORIZING")
    await h.http.post(f"/internal/sagas/{paused}/pause", json=OPS)
    assert await h.settles(failed, within=30) == "COMPENSATION_FAILED"
    await wait_for(lambda: _listed(h, paused), timeout=10, interval=0.1, what="the paused saga")

    everything = await _stuck(h)
    ranks = [STUCK_REASONS.index(s["reason"]) for s in everything["sagas"]]
    assert ranks == sorted(ranks), "most urgent first"
    ids = [s["booking_id"] for s in everything["sagas"]]
    assert ids.index(failed) < ids.index(paused)
    assert everything["total"] == len(ids)

    pages, offset = [], 0
    while offset < everything["total"]:
        page = await _stuck(h, limit=2, offset=offset)
        assert page["total"] == everything["total"] and len(page["sagas"]) <= 2
        pages += [s["booking_id"] for s in page["sagas"]]
        offset += 2
    assert pages == ids

    (tables,) = await _providers_of(h, paused)
    (tickets,) = set(await _providers_of(h, failed)) - {tables}
    only_tickets = await _stuck(h, provider=tickets)
    ticket_ids = {s["booking_id"] for s in only_tickets["sagas"]}
    assert failed in ticket_ids and paused not in ticket_ids
    assert only_tickets["total"] == len(ticket_ids)
    assert all(tickets in s["providers"] for s in only_tickets["sagas"])
    assert paused in {s["booking_id"] for s in (await _stuck(h, provider=tables))["sagas"]}
    assert (await _stuck(h, provider="nobody"))["total"] == 0

    await h.http.post(f"/internal/sagas/{paused}/resume", json=OPS)
    await wait_for(lambda: h.fakes._manual.get((paused, "AuthorizePayment")), what="authorize")
    await h.fakes.release(paused, "AuthorizePayment")
    assert await h.settles(paused) == "CONFIRMED"


async def test_sagas_are_filtered_by_provider_with_totals_across_pages(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    restaurant_only = await h.book(n=1)
    both = await h.book(n=2)
    await h.settles(restaurant_only)
    await h.settles(both)
    # Routed by the providers' announcements (a later one may book restaurants): read them back.
    (tables,) = await _providers_of(h, restaurant_only)
    (tickets,) = set(await _providers_of(h, both)) - {tables}

    async def all_pages(**params: Any) -> tuple[list[dict[str, Any]], int]:
        seen, offset, total = [], 0, None
        while total is None or offset < total:
            r = await h.http.get("/internal/sagas", params={**params, "limit": 3, "offset": offset})
            assert r.status_code == 200, r.text
            body = r.json()
            assert total is None or body["total"] == total
            total = body["total"]
            seen += body["sagas"]
            offset += 3
        return seen, total

    with_tickets, total = await all_pages(provider=tickets)
    ids = [s["booking_id"] for s in with_tickets]
    assert total == len(ids) == len(set(ids))
    assert both in ids and restaurant_only not in ids
    assert all(tickets in s["providers"] for s in with_tickets)
    everything, grand_total = await all_pages()
    assert total == sum(1 for s in everything if tickets in s["providers"]) < grand_total
    by_id = {s["booking_id"]: s for s in everything}
    assert by_id[restaurant_only]["providers"] == [tables]
    assert by_id[both]["providers"] == sorted([tables, tickets]) == await _providers_of(h, both)
    confirmed = await h.http.get(
        "/internal/sagas", params={"provider": tables, "state": "CONFIRMED", "limit": 500}
    )
    assert restaurant_only in {s["booking_id"] for s in confirmed.json()["sagas"]}
    bad = await h.http.get("/internal/sagas", params={"provider": ""})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "provider"
