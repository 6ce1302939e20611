"""The ops dashboard: a saga stuck behind a silent partner is listed first, its timeline shows
each step, and an operator forces compensation (confirmed, recorded with who did it)."""

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


def test_an_operator_sees_a_stuck_saga_and_compensates_it(page: Page, stack, ops_token):
    person = stack.person()
    person.sign_up("Stuck Stella")
    person.add_card()
    quote = person.quote(plan(person, days_ahead=28, restaurant=5, events=1))
    provider = stack.pid("provider-eventbrite")
    os.kill(provider, signal.SIGSTOP)  # alive but silent: its hold waits unanswered (30 s here)
    try:
        booking_id = person.book(quote["id"]).json()["booking_id"]

        page.goto(stack.url("gateway") + "/ops")
        page.get_by_label("Operator sign-in key").fill(ops_token)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#counts [data-state=HOLDING] strong")).not_to_have_text(
            "0", timeout=30_000
        )
        page.get_by_label("Stuck when unchanged for (seconds)").fill("2")
        row = page.locator("#stuck tr", has_text=booking_id)
        expect(row).to_be_visible(timeout=30_000)
        expect(row).to_contain_text("HOLDING")
        expect(row).to_contain_text("eventbrite")
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
        history = page.locator("#detail-history tr[data-direction=action]")
        expect(history).to_contain_text("compensate", timeout=20_000)
        me = httpx.get(
            stack.url("gateway") + "/v1/me", headers={"Authorization": f"Bearer {ops_token}"}
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
    time.sleep(0.5)
