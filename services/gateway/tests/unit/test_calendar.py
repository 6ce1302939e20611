"""The iCalendar of a confirmed booking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from gateway.domain.calendar import CalendarItem, render

STAMP = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def items():
    lisbon = timezone(timedelta(hours=1))
    return [
        CalendarItem(
            "item-1",
            "Dinner, with; friends\nand more",
            datetime(2026, 12, 5, 21, 0, tzinfo=lisbon),
            120,
            "OT-1",
            "opentable",
        ),
        CalendarItem(
            "item-2",
            "Fado " + "night " * 20,
            datetime(2026, 12, 5, 22, 30, tzinfo=UTC),
            180,
            None,
            "eventbrite",
        ),
    ]


def test_one_event_per_item_with_stable_uids_in_utc():
    text = render("bk_1", items(), STAMP, "booking.local")
    assert text.count("BEGIN:VEVENT") == 2
    assert "UID:bk_1.item-1@booking.local" in text and "UID:bk_1.item-2@booking.local" in text
    assert "DTSTART:20261205T200000Z" in text and "DTEND:20261205T220000Z" in text
    assert text == render("bk_1", items(), STAMP, "booking.local")


def test_text_is_escaped_and_long_lines_folded_with_crlf():
    text = render("bk_1", items(), STAMP, "booking.local")
    assert "SUMMARY:Dinner\\, with\\; friends\\nand more" in text
    lines = text.split("\r\n")
    assert all(len(ln.encode()) <= 75 for ln in lines)
    assert any(ln.startswith(" ") for ln in lines)
    assert text.endswith("END:VCALENDAR\r\n")


def test_the_text_reads_back_as_the_same_events():
    from icalendar import Calendar

    cal = Calendar.from_ical(render("bk_1", items(), STAMP, "booking.local"))
    events = list(cal.walk("VEVENT"))
    assert [str(e["summary"]) for e in events] == [i.title for i in items()]
    assert events[0].decoded("dtstart") == items()[0].start
    assert str(events[0]["description"]) == "Booking bk_1 via opentable. Confirmation code: OT-1"
