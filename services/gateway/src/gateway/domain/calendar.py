"""iCalendar (RFC 5545) for a confirmed booking: one VEVENT per confirmed item, stable UIDs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class CalendarItem:
    item_id: str
    title: str
    start: datetime
    minutes: int
    confirmation_code: str | None
    provider: str


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts: list[str] = []
    start = 0
    limit = 75
    while start < len(raw):
        end = min(start + limit, len(raw))
        while end < len(raw) and (raw[end] & 0xC0) == 0x80:  # never split a UTF-8 sequence
            end -= 1
        parts.append(raw[start:end].decode())
        start = end
        limit = 74  # continuation lines start with a space
    return "\r\n ".join(parts)


def _utc(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def uid(booking_id: str, item_id: str, domain: str) -> str:
    return f"{booking_id}.{item_id}@{domain}"


def render(booking_id: str, items: list[CalendarItem], stamp: datetime, domain: str) -> str:
    """The calendar text. `stamp` (when the booking was confirmed) keeps the output stable."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//one-click-booking//gateway//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    for it in items:
        desc = f"Booking {booking_id} via {it.provider}"
        if it.confirmation_code:
            desc += f". Confirmation code: {it.confirmation_code}"
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid(booking_id, it.item_id, domain)}",
            f"DTSTAMP:{_utc(stamp)}",
            f"DTSTART:{_utc(it.start)}",
            f"DTEND:{_utc(it.start + timedelta(minutes=it.minutes))}",
            f"SUMMARY:{_escape(it.title)}",
            f"DESCRIPTION:{_escape(desc)}",
            "STATUS:CONFIRMED",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(ln) + "\r\n" for ln in lines)
