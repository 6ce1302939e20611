"""The whole booking journey in a real browser: from an empty account to a confirmed booking
with its codes, receipt and calendar; and a card that needs 3-D Secure, completed in the page."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from .journeys import (
    add_card,
    day,
    plan,
    review_and_book,
    sign_in_with_password,
    sign_up,
    snap,
)

# A journey runs in seconds; the first one also waits for the stack to start.
pytestmark = pytest.mark.timeout(300)


def _a_day_with_an_event(person, start: int) -> int:
    for ahead in range(start, start + 15):
        if any(
            r["booking_type"] == "event" and r["available"]
            for r in person.search(ahead, types="event")
        ):
            return ahead
    raise AssertionError("no day with an event in the sandbox catalogue")


def test_a_new_account_books_a_searched_itinerary_and_gets_codes_receipt_and_calendar(
    page: Page, stack
):
    scout = stack.person()
    scout.sign_up("Scout Sam")
    ahead = _a_day_with_an_event(scout, 12)

    email, password = f"ana-{uuid.uuid4().hex[:10]}@example.com", "a long walk by the river"
    sign_up(page, stack.url("gateway"), name="Ana Silva", email=email, password=password)
    # Signed out, the person comes back with their email and password (a session, not the key).
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Your email").fill(email)
    page.get_by_label("Your password").fill("not my password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("#notice")).to_have_text("The email or the password is wrong.")
    sign_in_with_password(page, stack.url("gateway"), email, password)
    assert page.evaluate("sessionStorage.getItem('booking.token')").startswith("gs_")
    add_card(page)  # the first card of an empty account: the form is open
    expect(page.get_by_label(re.compile(r"visa ending 4242"))).to_be_checked()

    page.get_by_label("Date").fill(day(ahead))
    for _ in range(3):  # a provider slower than the search timeout is listed as not answering
        page.get_by_role("button", name="Search").click()
        expect(page.locator("#search-status")).to_contain_text("results")
        if "Not answering" not in page.locator("#search-status").inner_text():
            break
    results = page.locator("#search-results li").filter(has_not_text="sold out")
    results.filter(has_text="· restaurant").first.get_by_role("button").click()
    results.filter(has_text="· event").first.get_by_role("button").click()
    expect(page.locator("#itinerary li")).to_have_count(2)

    page.get_by_role("button", name="Review prices").click()
    rows = page.locator("#review-rows tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(
        re.compile(r"cancel", re.I)
    )  # each line's cancellation policy
    expect(page.locator("#review-total")).not_to_be_empty()
    # A new account has auto-booking off: the page says why it asks for a confirmation.
    expect(page.locator("#review-consent")).to_contain_text("You need to confirm this total")
    expect(page.get_by_role("button", name="Book now")).to_be_disabled()
    page.get_by_label(re.compile(r"I confirm booking these items")).check()
    page.locator("#review").scroll_into_view_if_needed()
    snap(page, "booking-review")
    page.get_by_role("button", name="Book now").click()

    expect(page.locator("#bk-state")).to_have_text("Confirmed", timeout=60_000)
    codes = page.locator("#bk-items .code")
    expect(codes).to_have_count(2)
    assert all(re.fullmatch(r"[A-Z0-9-]{4,}", c) for c in codes.all_inner_texts()), (
        codes.all_inner_texts()
    )
    expect(page.locator("#receipt-card")).to_have_text("visa ending 4242")
    expect(page.locator("#receipt-charged")).to_have_text(
        page.locator("#review-total").inner_text()
    )

    with page.expect_download() as download:
        page.get_by_role("button", name="Add to calendar (.ics)").click()
    ics = open(download.value.path(), encoding="utf-8").read()
    assert ics.startswith("BEGIN:VCALENDAR") and ics.count("BEGIN:VEVENT") == 2, ics[:300]


def test_a_card_that_needs_3ds_is_completed_in_the_page_and_the_booking_resumes(page: Page, stack):
    scout = stack.person()
    scout.sign_up("Scout Sue")
    items = plan(scout, days_ahead=40, restaurant=1, events=1)

    sign_up(page, stack.url("gateway"), name="Sara Secure")
    page.get_by_label("Card number", exact=True).fill("4000002500003155")
    page.get_by_label("Expiry month", exact=True).fill("12")
    page.get_by_label("Expiry year (2 digits)", exact=True).fill("31")
    page.get_by_label("Security code", exact=True).fill("123")
    page.get_by_label("Postal code", exact=True).fill("10001")
    page.get_by_role("button", name="Save card").click()
    # Saving the card may itself ask the bank (Stripe.js shows the challenge in the page).
    done = page.locator("#notice").filter(has_text="Card ending 3155 saved")
    challenge = page.get_by_role("button", name="Complete authentication")
    expect(done.or_(challenge)).to_be_visible()
    if challenge.is_visible():
        challenge.click()
    expect(done).to_be_visible()

    from .journeys import paste_schedule

    paste_schedule(page, items)
    booking_id = review_and_book(page)
    # The saga parks: the page asks the person to confirm with their bank, in the page.
    expect(page.locator("#bk-state")).to_have_text(
        re.compile("Waiting for you to confirm"), timeout=60_000
    )
    page.get_by_role("button", name="Confirm the payment with my bank").click()
    page.get_by_role("button", name="Complete authentication").click()
    expect(page.locator("#bk-message")).to_contain_text("your bank confirmed")
    # Stripe.js completed the challenge at Stripe (the emulator's intent now holds the money);
    # Stripe then tells the payment service by webhook. The emulator does not send this event,
    # so the test sends what Stripe would, signed, around the emulator's own intent.
    _stripe_says_authorized(stack, booking_id)
    expect(page.locator("#bk-state")).to_have_text("Confirmed", timeout=60_000)
    expect(page.locator("#bk-items .code")).to_have_count(2)
    expect(page.locator("#receipt-card")).to_have_text("visa ending 3155")


def _stripe_says_authorized(stack, booking_id: str) -> None:
    import json
    import time

    import httpx

    from payment.adapters.stripe_webhooks import sign_webhook_payload
    from payment.config import DEV_STRIPE_WEBHOOK_SECRET

    stripe, key = stack.url("stripe"), "sk_test_localstripe"
    intents = httpx.get(
        f"{stripe}/v1/payment_intents", auth=(key, ""), params={"limit": 100}
    ).json()["data"]
    intent = next(i for i in intents if (i.get("metadata") or {}).get("booking_id") == booking_id)
    assert intent["status"] == "requires_capture", intent["status"]  # authenticated in the page
    event = {
        "id": f"evt_{intent['id']}",
        "object": "event",
        "type": "payment_intent.amount_capturable_updated",
        "created": int(time.time()),
        "api_version": "2024-06-20",
        "livemode": False,
        "data": {"object": {**intent, "amount_capturable": intent["amount"]}},
    }
    body = json.dumps(event).encode()
    r = httpx.post(
        f"{stack.url('payment_webhooks')}/webhooks/stripe",
        content=body,
        headers={
            "Stripe-Signature": sign_webhook_payload(body, DEV_STRIPE_WEBHOOK_SECRET),
            "Content-Type": "application/json",
        },
    )
    assert r.status_code == 200, r.text
