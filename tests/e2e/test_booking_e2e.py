"""One click, end to end, every part real: gateway, orchestrator, payment (localstripe),
both providers and their sandboxes, Postgres and the Kafka-protocol broker."""

from __future__ import annotations

import json
import uuid

import httpx

from .helpers import Person, check_invariants, records


def test_a_planned_day_is_booked_and_paid_with_one_click(system, person):
    plan = person.day_plan(days_ahead=21)
    quote = person.quote(plan)
    r = person.book(quote["id"])
    assert r.status_code == 202, r.text
    booking_id = r.json()["booking_id"]
    assert r.headers["location"].endswith(booking_id)

    b = person.wait_final(booking_id)
    assert b["state"] == "CONFIRMED", b
    assert [i["status"] for i in b["items"]] == ["CONFIRMED"] * 3
    assert all(i["confirmation_code"] for i in b["items"])
    assert b["payment"]["captured"] == quote["total"]

    rec = check_invariants(system, b)
    assert len(rec.reservations) == 1 and len(rec.orders) == 2
    assert rec.captured == quote["total"]["amount_minor"]

    ics = person.client.get(f"/v1/bookings/{booking_id}/calendar.ics", headers=person.auth)
    assert ics.status_code == 200 and ics.text.count("BEGIN:VEVENT") == 3


def test_the_event_stream_follows_the_booking_to_its_final_state(system, person):
    quote = person.quote(person.day_plan(days_ahead=22, restaurant=1, events=1))
    booking_id = person.book(quote["id"]).json()["booking_id"]
    states = []
    with person.client.stream(
        "GET", f"/v1/bookings/{booking_id}/events", headers=person.auth, timeout=60
    ) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                event = json.loads(line[5:])
                states.append(event["state"])
                if event.get("final"):
                    break
    assert states[0] == "REQUESTED"
    assert states[-1] == "CONFIRMED"
    assert {"HOLDING", "AUTHORIZING", "CONFIRMING", "CAPTURING"} <= set(states)


def test_the_same_idempotency_key_gives_the_same_booking(system, person):
    quote = person.quote(person.day_plan(days_ahead=23, restaurant=2, events=1))
    key = str(uuid.uuid4())
    first, again = person.book(quote["id"], key=key), person.book(quote["id"], key=key)
    assert first.status_code == again.status_code == 202
    assert first.json()["booking_id"] == again.json()["booking_id"]
    other = person.book(quote["id"], key=key, mode="best_effort")
    assert other.status_code == 422
    assert person.wait_final(first.json()["booking_id"])["state"] == "CONFIRMED"


def test_an_item_sold_out_after_the_quote_fails_the_booking_and_charges_nothing(system, person):
    plan = person.day_plan(days_ahead=24, restaurant=3, events=2)
    quote = person.quote(plan)
    sold_out = plan[2]["ticket_class_id"]
    eb = system.url("eventbrite_sandbox")
    tc = httpx.get(f"{eb}/v3/events/{plan[2]['event_id']}/ticket_classes/{sold_out}/").json()
    httpx.put(
        f"{eb}/_admin/ticket_classes/{sold_out}", json={"quantity_sold": tc["capacity"]}
    ).raise_for_status()

    b = person.wait_final(person.book(quote["id"]).json()["booking_id"])
    assert b["state"] == "FAILED", b
    assert any(r["code"] in ("sold_out", "insufficient_inventory") for r in b["failure_reasons"]), b
    rec = check_invariants(system, b)
    assert rec.intents == [], "the card is never touched when an item cannot be held"
    assert [lk["state"] for lk in rec.locks] == ["Released"]
    assert {h["status"] for h in rec.holds} == {"RELEASED"}


def test_tickets_taken_between_hold_and_confirm_roll_the_whole_booking_back(system, person):
    eb = system.url("eventbrite_sandbox")
    quote = person.quote(person.day_plan(days_ahead=28, restaurant=7, events=1))
    httpx.patch(f"{eb}/_admin/faults", json={"steal_next_confirm": True}).raise_for_status()
    try:
        b = person.wait_final(person.book(quote["id"]).json()["booking_id"])
    finally:
        httpx.patch(f"{eb}/_admin/faults", json={"steal_next_confirm": False})
    assert b["state"] == "FAILED", b
    assert any(r["code"] in ("sold_out", "slot_taken") for r in b["failure_reasons"]), b
    rec = check_invariants(system, b)
    assert rec.captured == 0
    assert all(pi["status"] == "canceled" for pi in rec.intents), [
        pi["status"] for pi in rec.intents
    ]


def test_a_card_declined_at_charge_releases_every_hold(system):
    p = Person(system.url("gateway"), system.url("stripe"))
    p.sign_up("Rui Costa")
    p.add_card("4000000000000341")  # attaches fine, declined when charged
    b = p.wait_final(
        p.book(p.quote(p.day_plan(days_ahead=25, restaurant=4))["id"]).json()["booking_id"]
    )
    assert b["state"] == "FAILED", b
    assert any("declin" in r["code"] for r in b["failure_reasons"]), b
    rec = check_invariants(system, b)
    assert rec.captured == 0
    assert rec.locks and all(lk["state"] != "Active" for lk in rec.locks)
    assert rec.holds and all(h["status"] != "HELD" for h in rec.holds)


def test_cancelling_a_confirmed_booking_refunds_what_each_policy_allows(system, person):
    quote = person.quote(person.day_plan(days_ahead=26, restaurant=5, events=2))
    booking_id = person.book(quote["id"]).json()["booking_id"]
    assert person.wait_final(booking_id)["state"] == "CONFIRMED"

    cq = person.client.get(f"/v1/bookings/{booking_id}/cancel-quote", headers=person.auth)
    assert cq.status_code == 200, cq.text
    r = person.client.post(
        f"/v1/bookings/{booking_id}/cancel", headers=person.auth, json={"reason": "plans changed"}
    )
    assert r.status_code == 202, r.text
    b = person.wait_final(booking_id, states={"CANCELLED", "COMPENSATION_FAILED"})
    assert b["state"] == "CANCELLED", b
    # Weeks ahead, every item is inside its free-cancellation window: everything comes back.
    assert b["payment"]["refunded"] == quote["total"]
    rec = check_invariants(system, b)
    assert rec.captured == 0
    assert {r["state"] for r in rec.reservations} <= {"CancelledWeb", "Cancelled"}
    assert {o["status"] for o in rec.orders} == {"CANCELLED"}


def test_a_table_already_seated_stands_and_the_rest_of_the_day_is_cancelled_and_refunded(
    system, person
):
    quote = person.quote(person.day_plan(days_ahead=27, restaurant=7, events=1))
    booking_id = person.book(quote["id"]).json()["booking_id"]
    b = person.wait_final(booking_id)
    assert b["state"] == "CONFIRMED", b
    dinner = next(i for i in b["items"] if i["booking_type"] == "restaurant")
    [reservation] = records(system, booking_id).reservations
    ot = system.url("opentable_sandbox")
    httpx.put(
        f"{ot}/_admin/reservations/{reservation['reservation_id']}/state", json={"state": "Seated"}
    ).raise_for_status()

    r = person.client.post(
        f"/v1/bookings/{booking_id}/cancel", headers=person.auth, json={"reason": "plans changed"}
    )
    assert r.status_code == 202, r.text
    b = person.wait_final(
        booking_id, states={"CANCELLED", "PARTIALLY_CANCELLED", "COMPENSATION_FAILED"}
    )
    assert b["state"] == "PARTIALLY_CANCELLED", b
    items = {i["item_id"]: i for i in b["items"]}
    seated = items[dinner["item_id"]]
    assert seated["status"] == "NOT_CANCELLABLE"
    assert (
        seated["cancellation"]["outcome"] == "not_cancellable"
        and seated["cancellation"]["refund"] is None
    )
    others = [i for i in items.values() if i["item_id"] != dinner["item_id"]]
    assert all(i["cancellation"]["outcome"] == "cancelled" for i in others), others
    refunded = sum(i["cancellation"]["refund"]["amount_minor"] for i in others)
    assert (b["payment"]["refunded"] or {"amount_minor": 0})["amount_minor"] == refunded
    rec = check_invariants(system, b)
    # The seated table is still paid for; what was cancelled was given back per its policy.
    assert rec.captured == quote["total"]["amount_minor"] - refunded
    assert [r["state"] for r in rec.reservations] == ["Seated"]
    assert {o["status"] for o in rec.orders} == {"CANCELLED"}


def test_another_persons_booking_is_not_found(system, person):
    quote = person.quote(person.day_plan(days_ahead=27, restaurant=6, events=1))
    booking_id = person.book(quote["id"]).json()["booking_id"]
    intruder = Person(system.url("gateway"), system.url("stripe"))
    intruder.sign_up("Eve")
    for path in (
        f"/v1/bookings/{booking_id}",
        f"/v1/bookings/{booking_id}/events",
        f"/v1/bookings/{booking_id}/cancel-quote",
    ):
        assert intruder.client.get(path, headers=intruder.auth).status_code == 404
    assert (
        intruder.client.post(
            f"/v1/bookings/{booking_id}/cancel", headers=intruder.auth, json={}
        ).status_code
        == 404
    )
    person.wait_final(booking_id)
    assert records(system, booking_id).intents  # the owner's booking went ahead untouched
