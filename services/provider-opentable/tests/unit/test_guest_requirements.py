"""The guest requirements OpenTablePort declares are exactly what the partner refuses: every
unusual-but-valid guest books when the declaration finds no problem, and is refused (as
invalid_item) when it finds one."""

from __future__ import annotations

import pytest

from booking_shared.sealed import GuestContact
from provider_opentable.adapters.partner_port import GUEST_REQUIREMENTS

from .test_partner_port import dinner_item, partner  # noqa: F401  (the fixture)

LONG = "Á" * 100


def contact(
    first: str, last: str = "", phone: str = "", email: str = "guest@example.com"
) -> GuestContact:
    return GuestContact(first_name=first, last_name=last, email=email, phone=phone)


GUESTS = {
    "one word, no phone": contact("Madonna"),
    "one word, with phone": contact("Madonna", phone="+1 212 555 0100"),
    "no phone": contact("Ana", "Silva"),
    "non-ascii": contact("Zoë", "Ðorđević-Ødegård", "+351 912 345 678"),
    "cjk": contact("太郎", "山田", "+81 3 1234 5678"),
    "long names at the limit": contact(LONG, LONG, "+351 912 345 678"),
    "phone with dots": contact("Ana", "Silva", "+351.912.345.678"),
    "phone too long": contact("Ana", "Silva", "+351 912 345 678 901 234"),
    "short phone": contact("Ana", "Silva", "12345"),
    "local phone": contact("Ana", "Silva", "(212) 555-0100"),
}


def test_the_port_declares_first_and_last_name_email_and_phone_as_required(partner):  # noqa: F811
    declared = partner.port.capabilities.guest_requirements
    assert declared == GUEST_REQUIREMENTS
    assert {r.field for r in declared.fields if r.required} == {
        "first_name",
        "last_name",
        "email",
        "phone",
    }


@pytest.mark.parametrize("case", sorted(GUESTS))
async def test_the_partner_books_exactly_the_guests_the_declaration_accepts(partner, dinner, case):  # noqa: F811
    guest = GUESTS[case]
    problems = GUEST_REQUIREMENTS.problems(guest.model_dump())
    item = dinner_item("rest_003", dinner)
    held = await partner.port.hold(item, key="h", reference="bk:item-1")
    assert held.ok
    booked = await partner.port.confirm(item, held.hold_id, guest, key="c", reference="bk:item-1")
    assert booked.ok == (not problems), (case, problems, booked.detail)
    if problems:
        assert booked.reason_code == "invalid_item"
        refused = {p.field for p in problems}
        assert any(f in booked.detail for f in refused), (booked.detail, refused)
    else:
        [stored] = await partner.reservations("bk:item-1")
        assert (stored["guest"]["first_name"], stored["guest"]["last_name"]) == (
            guest.first_name,
            guest.last_name,
        )


def test_a_one_word_name_without_phone_misses_the_last_name_and_the_phone():
    problems = GUEST_REQUIREMENTS.problems(contact("Madonna").model_dump())
    assert [(p.field, p.code) for p in problems] == [("last_name", "missing"), ("phone", "missing")]


def test_a_phone_in_another_format_is_named_with_what_the_partner_takes():
    [problem] = GUEST_REQUIREMENTS.problems(
        contact("Ana", "Silva", "+351.912.345.678").model_dump()
    )
    assert (problem.field, problem.code) == ("phone", "invalid_format")
    assert "digits" in problem.message
