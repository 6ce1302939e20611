"""Every user the API accepts can book: a one-word name without a phone is refused at the
quote and the booking, with nothing held or authorized at the partners or Stripe, then books
once the details are supplied; a long non-ASCII name and a guest booked for by another user
book as given."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from .helpers import STRIPE_KEY, Person, check_invariants


def sign_up(system, body: dict[str, Any]) -> Person:
    p = Person(system.url("gateway"), system.url("stripe"))
    r = p.client.post("/v1/users", json={"email": f"{uuid.uuid4().hex[:10]}@example.com", **body})
    assert r.status_code == 201, r.text
    p.token = r.json()["token"]
    p.add_card()
    return p


def outside_world(system) -> dict[str, int]:
    """How many locks, reservations, holds, orders and payment intents exist anywhere."""
    ot, eb = system.url("opentable_sandbox"), system.url("eventbrite_sandbox")
    intents = httpx.get(
        f"{system.url('stripe')}/v1/payment_intents", auth=(STRIPE_KEY, ""), params={"limit": 1000}
    ).json()["data"]
    return {
        "locks": len(httpx.get(f"{ot}/_admin/locks").json()["locks"]),
        "reservations": len(httpx.get(f"{ot}/_admin/reservations").json()["reservations"]),
        "holds": len(httpx.get(f"{eb}/_admin/holds").json()["holds"]),
        "orders": len(httpx.get(f"{eb}/_admin/orders").json()["orders"]),
        "payment_intents": len(intents),
    }


@pytest.fixture
def madonna(system) -> Person:
    return sign_up(system, {"name": "Madonna"})


def test_a_one_word_name_without_phone_is_refused_before_anything_is_held_then_books(
    system, madonna
):
    quote = madonna.quote(madonna.day_plan(days_ahead=40, restaurant=1, events=1))
    assert quote["bookable"] is False and quote["all_available"] is True
    assert [(i["field"], i["providers"]) for i in quote["guest"]["issues"]] == [
        ("guest.last_name", ["opentable"]),
        ("guest.phone", ["opentable"]),
    ]

    before = outside_world(system)
    key = str(uuid.uuid4())
    r = madonna.book(quote["id"], key=key)
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/guest-details-required")
    assert [e["field"] for e in r.json()["errors"]] == ["guest.last_name", "guest.phone"]
    assert outside_world(system) == before  # no lock, hold or payment intent anywhere
    mine = madonna.client.get("/v1/bookings", headers=madonna.auth).json()["items"]
    assert mine == []

    r = madonna.client.patch(
        "/v1/me", headers=madonna.auth, json={"last_name": "Ciccone", "phone": "+1 212 555 0100"}
    )
    assert r.status_code == 200, r.text
    again = madonna.client.get(f"/v1/quotes/{quote['id']}", headers=madonna.auth).json()
    assert again["bookable"] is True and again["guest"]["issues"] == []

    r = madonna.book(quote["id"], key=key)  # the refused request left the key unused
    assert r.status_code == 202, r.text
    b = madonna.wait_final(r.json()["booking_id"])
    assert b["state"] == "CONFIRMED", b
    rec = check_invariants(system, b)
    [reservation] = rec.reservations
    assert (reservation["guest"]["first_name"], reservation["guest"]["last_name"]) == (
        "Madonna",
        "Ciccone",
    )
    assert reservation["guest"]["phone"] == "+1 212 555 0100"
    [order] = rec.orders
    assert order["attendee"]["name"] == "Madonna Ciccone"


def test_a_long_non_ascii_name_books_as_given(system):
    name = "Maria da Conceição Ðorđević-Ødegård de Vasconcelos e Sá Pereira Tavares Coutinho"
    person = sign_up(system, {"name": name, "phone": "+351 912 345 678"})
    quote = person.quote(person.day_plan(days_ahead=41, restaurant=2, events=1))
    assert quote["bookable"] is True, quote["guest"]
    b = person.wait_final(person.book(quote["id"]).json()["booking_id"])
    assert b["state"] == "CONFIRMED", b
    rec = check_invariants(system, b)
    [reservation] = rec.reservations
    assert (reservation["guest"]["first_name"], reservation["guest"]["last_name"]) == (
        "Maria",
        name.removeprefix("Maria "),
    )
    [order] = rec.orders
    assert order["attendee"]["name"] == name


def test_a_user_books_a_table_for_another_person_as_the_guest(system):
    booker = sign_up(system, {"name": "Cher"})
    quote = booker.quote(booker.day_plan(days_ahead=42, restaurant=3, events=1))
    assert quote["bookable"] is False  # her own profile lacks a last name and a phone
    guest = {
        "first_name": "Zoë",
        "last_name": "山田",
        "email": "zoe@example.org",
        "phone": "+81 3 1234 5678",
    }
    r = booker.book(quote["id"], guest=guest)
    assert r.status_code == 202, r.text
    b = booker.wait_final(r.json()["booking_id"])
    assert b["state"] == "CONFIRMED", b
    rec = check_invariants(system, b)
    [reservation] = rec.reservations
    assert reservation["guest"] == guest
    [order] = rec.orders
    assert order["attendee"] == {"name": "Zoë 山田", "email": "zoe@example.org"}
