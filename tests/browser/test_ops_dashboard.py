"""The ops dashboard: a saga stuck behind a silent partner is listed with its reason (its hold
unanswered past the deadline), its timeline shows each step, and an operator forces compensation
(confirmed, recorded with who did it). The state badges stay inside their cells on a desktop and
the page fits a phone's width."""

from __future__ import annotations

import os
import re
import signal
import time

import httpx
import pytest
from playwright.sync_api import Page, expect

from .journeys import plan, snap

# A journey runs in seconds; the first one also waits for the stack to start.
pytestmark = pytest.mark.timeout(300)


# Each state badge inside the box that holds it (a table cell, a count's tile).
BADGES_OUTSIDE = """() => [...document.querySelectorAll('.badge')].filter((b) => {
  if (!b.offsetParent) return false;
  const p = b.parentElement.getBoundingClientRect(), r = b.getBoundingClientRect();
  return r.right > p.right + 0.5 || r.left < p.left - 0.5;
}).map((b) => b.textContent)"""


def assert_badges_fit(page: Page) -> None:
    assert page.evaluate(BADGES_OUTSIDE) == []
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_an_operator_sees_a_stuck_saga_and_compensates_it(page: Page, stack, operator):
    person = stack.person()
    person.sign_up("Stuck Stella")
    person.add_card()
    quote = person.quote(plan(person, days_ahead=28, restaurant=5, events=1))
    provider = stack.pid("provider-eventbrite")
    os.kill(provider, signal.SIGSTOP)  # alive but silent: its hold waits unanswered (10 s here)
    try:
        booking_id = person.book(quote["id"]).json()["booking_id"]

        page.goto(stack.url("gateway") + "/ops")
        page.get_by_label("Your email").fill(operator.email)
        page.get_by_label("Your password").fill(operator.password)
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.locator("#counts [data-state=HOLDING] strong")).not_to_have_text(
            "0", timeout=30_000
        )
        assert_badges_fit(page)  # COMPENSATION_FAILED's among them, at 1200 px
        # The silent partner's hold waits past its deadline (10 s here) and is sent again: the
        # orchestrator lists the saga as stuck for that reason.
        row = page.locator("#stuck tr", has_text=booking_id)
        expect(row).to_be_visible(timeout=60_000)
        expect(row).to_have_attribute("data-reason", "past_deadline")
        expect(row).to_contain_text("past its deadline")
        expect(row).to_contain_text("HoldItem")
        expect(row).to_contain_text("HOLDING")
        expect(row).to_contain_text("eventbrite")
        page.get_by_label("Provider").select_option("eventbrite")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("#sagas tr", has_text=booking_id)).to_be_visible()
        expect(page.locator("#sagas-pages")).to_contain_text(re.compile(r"of \d+"))
        row.get_by_role("button", name=booking_id).click()

        expect(page.locator("#detail-state")).to_have_text("HOLDING")
        expect(page.locator("#detail-steps")).to_contain_text("hold")
        expect(page.locator("#detail-history")).to_contain_text("BookingRequested")
        expect(page.locator("#detail-history")).to_contain_text("HoldItem")
        expect(page.locator("#detail-steps")).to_contain_text(
            "ItemHeld"
        )  # the table's hold answered
        page.locator("#stuck-h").scroll_into_view_if_needed()
        snap(page, "ops-stuck-saga")

        page.get_by_role("button", name="Force compensate").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("Force compensation")
        dialog.get_by_label(re.compile("^Reason")).fill("eventbrite silent; releasing the table")
        dialog.get_by_role("button", name="Confirm").click()
        expect(page.locator("#notice")).to_contain_text("compensate sent")
        # The resend past the deadline is in the history too; the operator's action follows it.
        history = page.locator("#detail-history tr[data-direction=action]").filter(
            has=page.locator("strong", has_text=re.compile(r"^compensate$"))
        )
        expect(history).to_contain_text("compensate", timeout=20_000)
        me = httpx.get(
            stack.url("gateway") + "/v1/me", headers={"Authorization": f"Bearer {operator.token}"}
        ).json()
        expect(history).to_contain_text(me["id"])  # who did it
    finally:
        os.kill(provider, signal.SIGCONT)

    # The partner wakes up, answers the undo: the saga ends FAILED, nothing held or charged.
    expect(page.locator("#detail-state")).to_have_text("FAILED", timeout=90_000)
    b = person.wait_final(booking_id, timeout=60)
    assert b["state"] == "FAILED" and not b["payment"]["captured"], b
    page.get_by_role("button", name="Load dead letters").click()
    expect(page.locator("#dlq")).to_contain_text(re.compile(r"\.dlq|No dead-letter topic yet"))
    # At a phone's width nothing spills out sideways: the tables stack, the badges wrap.
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    assert_badges_fit(page)
    page.set_viewport_size({"width": 1200, "height": 900})
    time.sleep(0.5)
