"""Every user the API accepts can book: a guest a provider would refuse (a one-word name, no
phone) is named at quote time and refused at booking before anything is written or published,
and the profile or the booking body can supply what is missing."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import httpx

from booking_shared.contracts import BookingRequested
from booking_shared.contracts.topics import BOOKING_EVENTS
from booking_shared.sealed import GuestContact, unseal

from .conftest import add_card, bearer, book, event_item, quote, read_topic, restaurant_item


async def person(client: httpx.AsyncClient, name: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    tag = secrets.token_hex(4)
    r = await client.post(
        "/v1/users", json={"name": name, "email": f"p.{tag}@example.com", **extra}
    )
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    await add_card(client, token)
    return token, r.json()["user"]


async def booked_guest(gateway, booking_id: str) -> GuestContact:
    [record] = await read_topic(gateway.kafka, BOOKING_EVENTS, booking_id)
    msg = BookingRequested.model_validate_json(record.value)
    return unseal(msg.guest, gateway.settings.guest_data_key)


async def test_the_quote_names_what_a_one_word_name_without_phone_lacks_and_why(gateway, client):
    token, _ = await person(client, "Madonna")
    q = await quote(client, token, [restaurant_item(), event_item()])
    assert q["bookable"] is False and q["all_available"] is True
    assert q["guest"]["complete"] is False
    assert [(i["field"], i["code"], i["providers"], i["items"]) for i in q["guest"]["issues"]] == [
        ("guest.last_name", "missing", ["opentable"], ["item-1"]),
        ("guest.phone", "missing", ["opentable"], ["item-1"]),
    ]
    assert q["reasons"][0]["code"] == "guest_details_missing"
    assert "guest.last_name" in q["reasons"][0]["message"]
    restaurant, tickets = q["items"]
    required = {f["field"] for f in restaurant["guest_requirements"]["fields"] if f["required"]}
    assert required == {"first_name", "last_name", "email", "phone"}
    assert {f["field"] for f in tickets["guest_requirements"]["fields"]} == {"full_name", "email"}


async def test_booking_for_a_one_word_name_without_phone_is_refused_before_anything_is_written(
    gateway, client
):
    token, _ = await person(client, "Madonna")
    q = await quote(client, token, [restaurant_item(), event_item()])
    key = str(uuid.uuid4())
    before = await gateway.counts()
    r = await book(client, token, q["id"], key=key, confirm=True)
    assert r.status_code == 422, r.text
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert body["type"].endswith("/guest-details-required")
    assert [e["field"] for e in body["errors"]] == ["guest.last_name", "guest.phone"]
    assert "opentable" in body["errors"][0]["message"]
    assert [i["items"] for i in body["issues"]] == [["item-1"], ["item-1"]]
    assert await gateway.counts() == before  # no booking, consent, outbox row or used key

    # The same key, now with the details in the body: the refused request left it unused.
    guest = {
        "first_name": "Madonna",
        "last_name": "Ciccone",
        "email": "m@example.com",
        "phone": "+1 212 555 0100",
    }
    r = await book(client, token, q["id"], key=key, confirm=True, guest=guest)
    assert r.status_code == 202, r.text
    sent = await booked_guest(gateway, r.json()["booking_id"])
    assert (sent.first_name, sent.last_name, sent.phone) == (
        "Madonna",
        "Ciccone",
        "+1 212 555 0100",
    )


async def test_the_profile_can_supply_the_missing_details_and_the_quote_then_says_so(
    gateway, client
):
    token, user = await person(client, "Madonna")
    q = await quote(client, token, [restaurant_item()])
    assert q["guest"]["complete"] is False
    r = await client.patch(
        "/v1/me", json={"last_name": " Ciccone ", "phone": "+1 212 555 0100"}, headers=bearer(token)
    )
    assert r.status_code == 200, r.text
    assert (r.json()["first_name"], r.json()["last_name"]) == (None, "Ciccone")
    again = (await client.get(f"/v1/quotes/{q['id']}", headers=bearer(token))).json()
    assert again["guest"] == {"source": "profile", "complete": True, "issues": []}
    assert again["bookable"] is True
    r = await book(client, token, q["id"], confirm=True)
    assert r.status_code == 202, r.text
    sent = await booked_guest(gateway, r.json()["booking_id"])
    assert (sent.first_name, sent.last_name, sent.email) == ("Madonna", "Ciccone", user["email"])

    cleared = await client.patch("/v1/me", json={"last_name": None}, headers=bearer(token))
    assert cleared.status_code == 200 and cleared.json()["last_name"] is None


async def test_tickets_alone_book_for_a_one_word_name_without_phone(gateway, client):
    token, _ = await person(client, "Björk")
    q = await quote(client, token, [event_item()])
    assert q["bookable"] is True and q["guest"]["complete"] is True
    r = await book(client, token, q["id"], confirm=True)
    assert r.status_code == 202, r.text
    sent = await booked_guest(gateway, r.json()["booking_id"])
    assert (sent.first_name, sent.last_name, sent.phone) == ("Björk", "", "")


async def test_a_long_non_ascii_name_books_as_given(gateway, client):
    name = "Maria da Conceição Ðorđević-Ødegård de Vasconcelos e Sá Pereira Tavares Coutinho"
    token, _ = await person(client, name, phone="+351 912 345 678")
    q = await quote(client, token, [restaurant_item(), event_item()])
    assert q["bookable"] is True, q["guest"]
    r = await book(client, token, q["id"], confirm=True)
    assert r.status_code == 202, r.text
    sent = await booked_guest(gateway, r.json()["booking_id"])
    assert (sent.first_name, sent.last_name) == ("Maria", name.removeprefix("Maria "))


async def test_a_user_books_for_another_person_who_is_the_guest(gateway, client):
    token, user = await person(client, "Cher")
    q = await quote(client, token, [restaurant_item()])
    assert q["bookable"] is False  # Cher's own profile lacks a last name and a phone
    guest = {
        "first_name": "Zoë",
        "last_name": "山田",
        "email": "zoe@example.org",
        "phone": "+81 3 1234 5678",
    }
    r = await book(client, token, q["id"], confirm=True, guest=guest)
    assert r.status_code == 202, r.text
    sent = await booked_guest(gateway, r.json()["booking_id"])
    assert sent == GuestContact(**guest)
    assert sent.email != user["email"]


async def test_a_guest_in_the_body_the_restaurant_would_refuse_is_named(gateway, client):
    token, _ = await person(client, "Ana Silva", phone="+351 912 345 678")
    q = await quote(client, token, [restaurant_item()])
    before = await gateway.counts()
    guest = {"first_name": "Rui", "email": "rui@example.org", "phone": "+351.913.000.000"}
    r = await book(client, token, q["id"], confirm=True, guest=guest)
    assert r.status_code == 422, r.text
    assert [(e["field"]) for e in r.json()["errors"]] == ["guest.last_name", "guest.phone"]
    assert [i["code"] for i in r.json()["issues"]] == ["missing", "invalid_format"]
    assert "digits" in r.json()["errors"][1]["message"]
    assert await gateway.counts() == before


async def test_a_blank_guest_first_name_is_refused_as_input(gateway, client):
    token, _ = await person(client, "Ana Silva", phone="+351 912 345 678")
    q = await quote(client, token, [event_item()])
    r = await book(
        client, token, q["id"], confirm=True, guest={"first_name": "  ", "email": "a@example.org"}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "guest.first_name"


async def test_sign_up_takes_first_and_last_name_for_partners(gateway, client):
    tag = secrets.token_hex(4)
    r = await client.post(
        "/v1/users",
        json={
            "name": "Gabriel García Márquez",
            "email": f"g.{tag}@example.com",
            "phone": "+57 1 555 0100",
            "first_name": "Gabriel",
            "last_name": "García Márquez",
        },
    )
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    await add_card(client, token)
    q = await quote(client, token, [restaurant_item()])
    r = await book(client, token, q["id"], confirm=True)
    assert r.status_code == 202, r.text
    sent = await booked_guest(gateway, r.json()["booking_id"])
    assert (sent.first_name, sent.last_name) == ("Gabriel", "García Márquez")


async def test_a_blank_or_overlong_profile_name_part_is_refused_naming_it(gateway, client):
    token, _ = await person(client, "Madonna")
    before = await gateway.counts()
    r = await client.patch("/v1/me", json={"last_name": "   "}, headers=bearer(token))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "last_name"
    r = await client.patch("/v1/me", json={"first_name": "Á" * 101}, headers=bearer(token))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "first_name"
    assert await gateway.counts() == before
