"""Who the partners book for: the guest's details (from the booking body, else the profile),
checked against the guest requirements each provider declares in its capabilities, so that a
booking a partner would refuse is refused here, before any table is held or card authorized."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from booking_shared.contracts import GuestFieldRule, GuestRequirements
from booking_shared.sealed import GuestContact

# What the sealed GuestContact itself carries (its field limits): a derived name over these
# cannot be sent to any provider, whatever it declares.
CONTACT_LIMITS = GuestRequirements(
    fields=[
        GuestFieldRule(field="first_name", max_length=100),
        GuestFieldRule(field="last_name", required=False, max_length=100),
        GuestFieldRule(field="email", max_length=254),
        GuestFieldRule(field="phone", required=False, max_length=32),
    ]
)

# Where the person supplies each detail: the booking body's `guest`, or the profile.
FIELD_PATHS = {
    "first_name": "guest.first_name",
    "last_name": "guest.last_name",
    "full_name": "guest",
    "email": "guest.email",
    "phone": "guest.phone",
}


@dataclass(frozen=True)
class GuestDetails:
    """The details a booking would send, before they are sealed."""

    first_name: str
    last_name: str
    email: str
    phone: str
    source: str  # "request" (the booking body's guest) or "profile"

    def values(self) -> dict[str, str]:
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "phone": self.phone,
        }

    def contact(self) -> GuestContact:
        """The sealed contact; call only once guest_issues() found nothing."""
        return GuestContact(**self.values())


@dataclass(frozen=True)
class GuestIssue:
    """A detail at least one provider of the quote would refuse, and which items need it."""

    field: str  # the request path, e.g. guest.last_name
    code: str  # missing | too_short | too_long | invalid_format
    message: str
    # dataclasses.field in full: the attribute `field` above shadows the bare name here.
    providers: list[str] = dataclasses.field(default_factory=list)
    items: list[str] = dataclasses.field(default_factory=list)

    def view(self) -> dict[str, object]:
        return {
            "field": self.field,
            "code": self.code,
            "message": self.message,
            "providers": self.providers,
            "items": self.items,
        }


def split_name(name: str) -> tuple[str, str]:
    """A display name as partners want it: the first word, then the rest ("" for one word)."""
    first, _, rest = name.strip().partition(" ")
    return first, rest.strip()


def from_profile(
    name: str, email: str, phone: str | None, first_name: str | None, last_name: str | None
) -> GuestDetails:
    """The profile's own first/last name where set, else the display name split in two: a
    one-word name ("Madonna") has no last name, which a partner that needs one will miss."""
    derived_first, derived_last = split_name(name)
    return GuestDetails(
        first_name=(first_name or derived_first).strip(),
        last_name=(last_name or derived_last).strip(),
        email=email.strip(),
        phone=(phone or "").strip(),
        source="profile",
    )


def from_request(first_name: str, last_name: str, email: str, phone: str) -> GuestDetails:
    return GuestDetails(
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=email.strip(),
        phone=phone.strip(),
        source="request",
    )


@dataclass(frozen=True)
class ProviderNeeds:
    """One provider of a quote: what it declared, and the items it would book."""

    provider: str
    requirements: GuestRequirements | None
    items: list[str]


def guest_issues(guest: GuestDetails, needs: Iterable[ProviderNeeds]) -> list[GuestIssue]:
    """Every detail a provider of these items would refuse: one issue per field, reason and
    provider, naming its items. A provider that declares nothing gets the details as they are."""
    values: Mapping[str, str] = guest.values()
    out = [
        GuestIssue(FIELD_PATHS[p.field], p.code, p.message) for p in CONTACT_LIMITS.problems(values)
    ]
    seen = {(i.field, i.code) for i in out}
    by_key: dict[tuple[str, str, str], GuestIssue] = {}
    for need in needs:
        if need.requirements is None:
            continue
        for p in need.requirements.problems(values):
            path = FIELD_PATHS[p.field]
            if (path, p.code) in seen:  # already over what any booking can carry
                continue
            key = (path, p.code, need.provider)
            if key in by_key:
                by_key[key].items.extend(i for i in need.items if i not in by_key[key].items)
                continue
            by_key[key] = GuestIssue(path, p.code, p.message, [need.provider], list(need.items))
            out.append(by_key[key])
    return [_worded(i) for i in out]


def _worded(issue: GuestIssue) -> GuestIssue:
    """ "opentable needs a family name (last_name) (for item-1)", "opentable accepts at most
    100 characters (for item-1)"."""
    if not issue.providers:
        return issue
    if issue.code == "missing":
        what = f"needs {issue.message.removesuffix(' is required')}"
    else:
        what = f"accepts {issue.message}"
    message = f"{issue.providers[0]} {what} (for {', '.join(issue.items)})"
    return GuestIssue(issue.field, issue.code, message, issue.providers, issue.items)
