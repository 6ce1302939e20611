"""GuestRequirements: the guest details a provider declares it needs, checked as data."""

from __future__ import annotations

from booking_shared.contracts import Capabilities, GuestFieldRule, GuestRequirements

REQ = GuestRequirements(
    fields=[
        GuestFieldRule(field="last_name", min_length=2, max_length=5),
        GuestFieldRule(
            field="phone", required=False, pattern=r"^[0-9]{6,}$", hint="six digits or more"
        ),
        GuestFieldRule(field="full_name", max_length=8, too_long="truncated"),
    ]
)


def codes(**guest: str) -> list[tuple[str, str]]:
    return [(p.field, p.code) for p in REQ.problems({"first_name": "Ana", **guest})]


def test_a_blank_required_detail_is_missing_and_an_optional_one_may_be_absent():
    assert codes(last_name="   ") == [("last_name", "missing")]
    assert codes(last_name="Sá") == []


def test_lengths_count_characters_of_the_trimmed_value():
    assert codes(last_name=" Ø ") == [("last_name", "too_short")]
    assert codes(last_name="Ødegå") == []
    assert codes(last_name="Ødegård") == [("last_name", "too_long")]


def test_a_pattern_applies_to_a_present_value_and_says_what_it_takes():
    [problem] = REQ.problems({"first_name": "Ana", "last_name": "Sá", "phone": "+351"})
    assert (problem.field, problem.code, problem.message) == (
        "phone",
        "invalid_format",
        "six digits or more",
    )


def test_a_truncated_field_is_never_too_long():
    assert codes(first_name="Anastasia", last_name="Silva") == []


def test_capabilities_without_guest_requirements_still_parse():
    caps = Capabilities.model_validate({"hold": True, "api_book": True, "cancel": True})
    assert caps.guest_requirements is None
