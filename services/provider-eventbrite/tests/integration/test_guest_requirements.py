"""The guest requirements EventbritePort declares match the partner: an attendee name and an
email, no phone; a name longer than the partner's 200 characters is shortened, as declared."""

from __future__ import annotations

import pytest

from booking_shared.sealed import GuestContact
from provider_eventbrite.adapters.partner_port import (
    ATTENDEE_NAME_MAX,
    GUEST_REQUIREMENTS,
    EventbritePort,
    attendee_name,
)


def contact(first: str, last: str = "", phone: str = "") -> GuestContact:
    return GuestContact(first_name=first, last_name=last, email="guest@example.org", phone=phone)


GUESTS = {
    "one word, no phone": contact("Madonna"),
    "non-ascii": contact("Zoë", "Ðorđević-Ødegård"),
    "cjk": contact("太郎", "山田"),
    "long names, 201 together": contact("Á" * 100, "Ž" * 100),
    "spaces around": contact("  Ana ", " Silva  "),
}


@pytest.fixture
def port(make_client) -> EventbritePort:
    return EventbritePort(make_client())


def test_the_port_declares_a_name_and_an_email_and_no_phone(port):
    declared = port.capabilities.guest_requirements
    assert declared == GUEST_REQUIREMENTS
    assert {r.field: r.required for r in declared.fields} == {"full_name": True, "email": True}
    [name] = [r for r in declared.fields if r.field == "full_name"]
    assert (name.max_length, name.too_long) == (ATTENDEE_NAME_MAX, "truncated")


@pytest.mark.parametrize("case", sorted(GUESTS))
async def test_every_guest_the_declaration_accepts_gets_tickets(port, sandbox, ref, item_for, case):
    guest = GUESTS[case]
    assert GUEST_REQUIREMENTS.problems(guest.model_dump()) == []
    event, tc = await sandbox.bookable(min_left=1)
    item = item_for(event, tc, quantity=1)
    held = await port.hold(item, key=ref("hold"), reference=ref("item"))
    assert held.ok
    done = await port.confirm(item, held.hold_id, guest, key=ref("confirm"), reference=ref("item"))
    assert done.ok, done.detail
    [order] = await sandbox.orders(ref("item"))
    assert order["attendee"]["name"] == attendee_name(guest)
    assert len(order["attendee"]["name"]) <= ATTENDEE_NAME_MAX


def test_the_attendee_name_joins_first_and_last_and_keeps_within_the_partners_limit():
    assert attendee_name(contact("Madonna")) == "Madonna"
    assert attendee_name(contact(" Zoë ", " Ødegård ")) == "Zoë Ødegård"
    assert attendee_name(contact("Á" * 100, "Ž" * 100)) == "Á" * 100 + " " + "Ž" * 99
