"""iCalendar (RFC 5545) for a confirmed booking: one VEVENT per confirmed item, stable UIDs.

The text is written by the icalendar library (escaping, 75-octet line folding, CRLF); this module
only decides what goes in it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event


@dataclass(frozen=True)
class CalendarItem:
    item_id: str
    title: str
    start: datetime
    minutes: int
    confirmation_code: str | None
    provider: str


def uid(booking_id: str, item_id: str, domain: str) -> str:
    return f"{booking_id}.{item_id}@{domain}"


def render(booking_id: str, items: list[CalendarItem], stamp: datetime, domain: str) -> str:
    """The calendar text. `stamp` (when the booking was confirmed) keeps the output stable."""
    cal = Calendar()
    cal.add("version", "2.0")
    cal.add("prodid", "-//one-click-booking//gateway//EN")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    for it in items:
        desc = f"Booking {booking_id} via {it.provider}"
        if it.confirmation_code:
            desc += f". Confirmation code: {it.confirmation_code}"
        event = Event()
        event.add("uid", uid(booking_id, it.item_id, domain))
        # Times in UTC ("Z"): no VTIMEZONE needed, every client places them right.
        event.add("dtstamp", stamp.astimezone(UTC))
        event.add("dtstart", it.start.astimezone(UTC))
        event.add("dtend", (it.start + timedelta(minutes=it.minutes)).astimezone(UTC))
        event.add("summary", it.title)
        event.add("description", desc)
        event.add("status", "CONFIRMED")
        cal.add_component(event)
    return cal.to_ical().decode()
