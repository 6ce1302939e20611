"""Saga edges with every part real: best-effort bookings, and a participant that never answers."""

from __future__ import annotations

import os
import signal
import time

import httpx

from .helpers import Person, check_invariants, records


def _sell_out(system, item: dict) -> None:
    eb = system.url("eventbrite_sandbox")
    tc = httpx.get(
        f"{eb}/v3/events/{item['event_id']}/ticket_classes/{item['ticket_class_id']}/"
    ).json()
    httpx.put(
        f"{eb}/_admin/ticket_classes/{item['ticket_class_id']}",
        json={"quantity_sold": tc["capacity"]},
    ).raise_for_status()


def test_best_effort_books_what_it_can_and_captures_only_for_that(system):
    p = Person(system.url("gateway"), system.url("stripe"))
    p.sign_up("Best Effort")
    p.add_card()
    plan = p.day_plan(days_ahead=33, restaurant=9, events=1)
    quote = p.quote(plan)
    _sell_out(system, plan[1])

    b = p.wait_final(p.book(quote["id"], mode="best_effort").json()["booking_id"])
    assert b["state"] == "CONFIRMED", b
    status = {i["item_id"]: i["status"] for i in b["items"]}
    assert status[plan[0]["id"]] == "CONFIRMED"
    assert status[plan[1]["id"]] != "CONFIRMED"
    restaurant_price = next(i["price"] for i in b["items"] if i["item_id"] == plan[0]["id"])
    assert b["payment"]["captured"] == restaurant_price
    rec = check_invariants(system, b)
    assert len(rec.reservations) == 1 and rec.orders == []


def test_a_participant_that_never_answers_is_resent_to_then_the_booking_is_rolled_back(system):
    p = Person(system.url("gateway"), system.url("stripe"))
    p.sign_up(
        "Patient Pia"
    )  # a one-word name gets no table (no last name): see test_guest_details_e2e
    p.add_card()
    quote = p.quote(p.day_plan(days_ahead=34, restaurant=10, events=1))
    provider = system.pid("provider-eventbrite")
    orchestrator = system.url("orchestrator")
    os.kill(provider, signal.SIGSTOP)  # alive but silent: its commands wait unanswered
    try:
        booking_id = p.book(quote["id"]).json()["booking_id"]
        deadline = time.monotonic() + 60  # 4 sends (conftest.py): 30 s, then compensation
        while True:
            saga = httpx.get(
                f"{orchestrator}/internal/sagas/{booking_id}",
                headers=system.credential("orchestrator"),
            ).json()
            if saga.get("state") == "COMPENSATING":
                break
            assert time.monotonic() < deadline, (
                f"no compensation after the resends: {saga.get('state')}"
            )
            time.sleep(0.3)
        # The same hold command was sent again before the saga gave up; while the provider is
        # silent, its undo cannot be confirmed either, so the saga keeps compensating.
        sent = [h for h in saga["history"] if h["direction"] == "out" and h["type"] == "HoldItem"]
        assert len(sent) >= 4, [h.get("summary") for h in sent]  # 2 items, the silent one resent
        assert records(system, booking_id).intents == []  # the card was never touched
    finally:
        os.kill(provider, signal.SIGCONT)

    # The provider wakes up, works through its backlog (the late hold is released again) and
    # answers the undo: the booking ends FAILED with nothing held and nothing charged.
    b = p.wait_final(booking_id, timeout=60)
    assert b["state"] == "FAILED", b
    rec = check_invariants(system, b)
    assert rec.holds and all(h["status"] != "HELD" for h in rec.holds), rec.holds


def test_a_capture_that_fails_cancels_every_confirmed_item(system):
    """The authorization is gone by capture time (here cancelled at Stripe while the partner is
    slow to confirm, as a lapsed hold would be): nothing may stay booked without the money."""
    p = Person(system.url("gateway"), system.url("stripe"))
    p.sign_up("Lapsed Lea")
    p.add_card()
    quote = p.quote(p.day_plan(days_ahead=38, restaurant=13, events=1))
    eb, stripe = system.url("eventbrite_sandbox"), system.url("stripe")
    httpx.patch(f"{eb}/_admin/faults", json={"latency_ms": 1500}).raise_for_status()
    try:
        booking_id = p.book(quote["id"]).json()["booking_id"]
        deadline = time.monotonic() + 30
        while True:
            saga = httpx.get(
                f"{system.url('orchestrator')}/internal/sagas/{booking_id}",
                headers=system.credential("orchestrator"),
            ).json()
            if saga.get("state") == "CONFIRMING":
                break
            assert time.monotonic() < deadline, f"never reached CONFIRMING: {saga.get('state')}"
            time.sleep(0.05)
        intents = records(system, booking_id).intents
        assert len(intents) == 1 and intents[0]["status"] == "requires_capture", intents
        httpx.post(
            f"{stripe}/v1/payment_intents/{intents[0]['id']}/cancel",
            auth=("sk_test_localstripe", ""),
        ).raise_for_status()
    finally:
        httpx.patch(f"{eb}/_admin/faults", json={"latency_ms": 0})

    b = p.wait_final(booking_id, timeout=60)
    assert b["state"] == "FAILED", b
    rec = check_invariants(system, b)
    assert rec.captured == 0
    assert rec.reservations and all(r["state"] != "Confirmed" for r in rec.reservations), (
        rec.reservations
    )
    assert rec.orders and all(o["status"] == "CANCELLED" for o in rec.orders), rec.orders
