"""A declined card shown as such with nothing booked; consent refusals explained in words;
cancellation with the cancel quote first and the refunds shown (at a phone's width too)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .journeys import add_card, paste_schedule, plan, review_and_book, sign_in, sign_up, type_card

# A journey runs in seconds; the first one also waits for the stack to start.
pytestmark = pytest.mark.timeout(300)


def test_a_declined_card_is_shown_as_declined_and_nothing_is_booked(phone: Page, stack):
    scout = stack.person()
    scout.sign_up("Scout Dan")
    items = plan(scout, days_ahead=22, restaurant=2, events=1)
    token = sign_up(phone, stack.url("gateway"), name="Dora Declined")

    # Declined when saved: the page says so and keeps no card.
    type_card(phone, "4000000000000002")
    expect(phone.locator("#notice")).to_contain_text("Your card was declined")
    expect(phone.locator("#cards")).to_contain_text("No saved card yet")

    # A card declined only at charge: the booking fails, in words, and nothing is kept.
    add_card(phone, "4000000000000341")
    paste_schedule(phone, items)
    booking_id = review_and_book(phone)
    expect(phone.locator("#bk-state")).to_have_text("Not booked", timeout=60_000)
    message = phone.locator("#bk-message")
    expect(message).to_contain_text("declined")
    expect(message).to_contain_text("Nothing was charged")
    assert "{" not in message.inner_text()  # never a raw problem+json
    expect(phone.locator("#bk-items .code")).to_have_count(0)

    scout.token = token
    b = scout.booking(booking_id)
    assert b["state"] == "FAILED" and not b["payment"]["captured"], b
    assert all(not it["confirmation_code"] for it in b["items"]), b["items"]


def test_consent_settings_refuse_a_booking_and_the_page_says_why(page: Page, stack):
    scout = stack.person()
    scout.sign_up("Scout Cy")
    items = plan(scout, days_ahead=24, restaurant=3, events=1)
    sign_up(page, stack.url("gateway"), name="Carla Careful")
    add_card(page)

    page.get_by_role("button", name="Settings").click()
    expect(page.get_by_label("Restaurants", exact=True)).to_be_checked()
    page.get_by_label("Restaurants", exact=True).uncheck()
    page.get_by_label(re.compile("Book automatically")).check()
    page.get_by_label("Spending cap for automatic bookings").fill("10.00")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#notice")).to_have_text("Settings saved.")

    page.get_by_role("button", name="Plan and book").click()
    paste_schedule(page, items)
    page.get_by_role("button", name="Review prices").click()
    consent = page.locator("#review-consent")
    expect(consent).to_contain_text("This itinerary cannot be booked as it is")
    expect(consent).to_contain_text(re.compile("restaurant", re.I))  # the type the person excluded
    assert "{" not in consent.inner_text() and "_" not in consent.inner_text()  # words, not codes
    expect(page.get_by_role("button", name="Book now")).to_be_disabled()

    # Only the events: allowed, but above the automatic-booking cap, so the page asks.
    page.get_by_role("button", name="Remove", exact=False).first.click()
    page.get_by_role("button", name="Review prices").click()
    expect(consent).to_contain_text("You need to confirm this total")
    expect(page.get_by_role("button", name="Book now")).to_be_disabled()


def test_cancellation_shows_the_cancel_quote_first_then_the_refunds(page: Page, stack):
    person = stack.person()
    person.sign_up("Cora Cancel")
    person.add_card()
    booking_id = person.book(
        person.quote(plan(person, days_ahead=26, restaurant=4, events=1))["id"]
    ).json()["booking_id"]
    assert person.wait_final(booking_id)["state"] == "CONFIRMED"

    sign_in(page, stack.url("gateway"), person.token)
    page.get_by_role("button", name="My bookings").click()
    page.locator("#bookings-list li").first.get_by_role("button", name="Open").click()
    expect(page.locator("#bk-state")).to_have_text("Confirmed")
    page.get_by_role("button", name="Cancel booking…").click()
    quote = page.locator("#bk-cancel-quote")
    expect(quote).to_contain_text("If you cancel now")
    refund = page.locator("#cq-refund").inner_text()
    assert re.search(r"\d", refund), refund
    page.get_by_role("button", name="Yes, cancel this booking").click()
    expect(page.locator("#bk-state")).to_have_text("Cancelled", timeout=60_000)
    expect(page.locator("#bk-message")).to_contain_text(f"Refunded {refund}")
    expect(page.locator("#receipt-refunded")).to_have_text(refund)
    expect(page.locator("#bk-items")).to_contain_text("cancelled, refund")
