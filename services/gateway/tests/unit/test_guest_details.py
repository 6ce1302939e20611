"""Guest details against the requirements providers declare: unusual but valid people."""

from __future__ import annotations

import pytest

from booking_shared.contracts import GuestFieldRule, GuestRequirements
from gateway.domain.guest import ProviderNeeds, from_profile, from_request, guest_issues, split_name

RESTAURANT = GuestRequirements(
    fields=[
        GuestFieldRule(field="first_name", max_length=100),
        GuestFieldRule(field="last_name", max_length=100),
        GuestFieldRule(field="phone", pattern=r"^\+?[0-9][0-9 ()\-]{5,19}$", hint="digits"),
    ]
)
TICKETS = GuestRequirements(
    fields=[GuestFieldRule(field="full_name", max_length=200, too_long="truncated")]
)


def needs(restaurant_items=("item-1",), ticket_items=("item-2",)) -> list[ProviderNeeds]:
    out = []
    if restaurant_items:
        out.append(ProviderNeeds("opentable", RESTAURANT, list(restaurant_items)))
    if ticket_items:
        out.append(ProviderNeeds("eventbrite", TICKETS, list(ticket_items)))
    return out


def profile(name, phone=None, first=None, last=None, email="someone@example.com"):
    return from_profile(name, email, phone, first, last)


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("Madonna", "Madonna", ""),
        ("Ana Silva", "Ana", "Silva"),
        ("  Gabriel García Márquez ", "Gabriel", "García Márquez"),
        ("山田 太郎", "山田", "太郎"),
    ],
)
def test_a_display_name_splits_at_its_first_space(name, first, last):
    assert split_name(name) == (first, last)


def test_a_one_word_name_without_phone_misses_the_last_name_and_phone_for_the_restaurant_only():
    issues = guest_issues(profile("Madonna"), needs())
    assert [(i.field, i.code, i.providers, i.items) for i in issues] == [
        ("guest.last_name", "missing", ["opentable"], ["item-1"]),
        ("guest.phone", "missing", ["opentable"], ["item-1"]),
    ]
    assert issues[0].message == "opentable needs a family name (last_name) (for item-1)"


def test_tickets_alone_need_neither_a_last_name_nor_a_phone():
    assert guest_issues(profile("Madonna"), needs(restaurant_items=())) == []


def test_the_profile_names_override_the_split_display_name():
    guest = profile("Madonna", phone="+1 212 555 0100", last="Ciccone")
    assert (guest.first_name, guest.last_name) == ("Madonna", "Ciccone")
    assert guest_issues(guest, needs()) == []


def test_a_guest_in_the_request_is_checked_the_same_way():
    rui = from_request(" Rui ", "", "rui@example.com", "")
    assert {i.field for i in guest_issues(rui, needs())} == {"guest.last_name", "guest.phone"}
    assert rui.first_name == "Rui" and rui.source == "request"


def test_non_ascii_and_long_names_within_the_limits_pass():
    guest = profile("Zoë " + "Ðorđević-Ødegård " * 5, phone="+351 912 345 678")
    assert len(guest.last_name) > 80
    assert guest_issues(guest, needs()) == []
    at_limit = profile("Á" * 100 + " " + "Ž" * 100, phone="212 555-0100")
    assert guest_issues(at_limit, needs()) == []  # 201 together: the ticket provider truncates


def test_a_first_word_over_what_a_guest_contact_carries_is_named_not_a_crash():
    issues = guest_issues(profile("X" * 150, phone="+351 912 345 678"), needs())
    assert ("guest.first_name", "too_long") in [(i.field, i.code) for i in issues]
    assert [i for i in issues if i.field == "guest.first_name"][0].providers == []


def test_a_phone_the_restaurant_cannot_read_is_named_with_what_it_takes():
    [issue] = guest_issues(profile("Ana Silva", phone="+351.912.345.678"), needs())
    assert (issue.field, issue.code) == ("guest.phone", "invalid_format")
    assert issue.message == "opentable accepts digits (for item-1)"


def test_two_restaurant_items_give_one_issue_naming_both():
    [last, phone] = guest_issues(
        profile("Cher"), [ProviderNeeds("opentable", RESTAURANT, ["a", "b"])]
    )
    assert last.items == ["a", "b"] and phone.items == ["a", "b"]


def test_a_provider_that_declares_nothing_asks_for_nothing():
    assert guest_issues(profile("Cher"), [ProviderNeeds("tours", None, ["t-1"])]) == []
