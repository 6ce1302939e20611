"""Steps a person takes in the booking pages, shared by the browser journeys."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from pathlib import Path

from playwright.sync_api import Page, expect

ARTIFACTS = Path(__file__).resolve().parents[2] / ".dev" / "artifacts" / "browser"


def snap(page: Page, name: str) -> None:
    """A screenshot of what the page shows now (the viewport), beside the final ones."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def sign_up(
    page: Page,
    gateway: str,
    name: str = "Ana Silva",
    phone: str = "+351 912 345 678",
    *,
    email: str | None = None,
    password: str | None = None,
) -> str:
    """From an empty account: the sign-up form (with a password when given), the API key shown
    once; returns the key."""
    page.goto(gateway + "/")
    page.get_by_label("Full name").fill(name)
    page.get_by_label("Email", exact=True).fill(email or f"{uuid.uuid4().hex[:10]}@example.com")
    page.get_by_label("Phone (restaurants need it)").fill(phone)
    if password is not None:
        page.get_by_label("Choose a password").fill(password)
    page.get_by_role("button", name="Create account").click()
    key = page.get_by_label("Your new API key")
    expect(key).to_have_value(re.compile(r"^gw_"))
    token = key.input_value()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="1. Your itinerary")).to_be_visible()
    return token


def sign_in_with_password(page: Page, gateway: str, email: str, password: str) -> None:
    """The sign-in form as a person uses it: email and password."""
    page.goto(gateway + "/")
    page.get_by_label("Your email").fill(email)
    page.get_by_label("Your password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="1. Your itinerary")).to_be_visible()


def sign_in(page: Page, gateway: str, token: str) -> None:
    """With the API key: the secondary way in."""
    page.goto(gateway + "/")
    page.get_by_text("Sign in with an API key instead").click()
    page.get_by_label("Your API key").fill(token)
    page.get_by_role("button", name="Sign in with the key").click()
    expect(page.get_by_role("heading", name="1. Your itinerary")).to_be_visible()


def type_card(page: Page, number: str) -> None:
    """Into the card form Stripe.js mounts (the emulator's copy in dev): the number goes from the
    browser to Stripe, never to the gateway."""
    expect(page.locator("#cards")).to_contain_text(re.compile("No saved card yet|ending"))
    add = page.locator("#add-card")
    if add.get_attribute("open") is None:
        page.get_by_text("Add a card", exact=True).click()
    page.get_by_label("Card number", exact=True).fill(number)
    page.get_by_label("Expiry month", exact=True).fill("12")
    page.get_by_label("Expiry year (2 digits)", exact=True).fill("31")
    page.get_by_label("Security code", exact=True).fill("123")
    page.get_by_label("Postal code", exact=True).fill("10001")
    page.get_by_role("button", name="Save card").click()


def add_card(page: Page, number: str = "4242424242424242", last4: str | None = None) -> None:
    type_card(page, number)
    expect(page.locator("#notice")).to_contain_text(f"Card ending {last4 or number[-4:]} saved")


def paste_schedule(page: Page, items: list[dict]) -> None:
    page.get_by_text("Paste or upload a schedule (JSON)").click()
    page.get_by_label('Schedule JSON (a list of items, or {"items": [...]})').fill(
        json.dumps({"items": items})
    )
    page.get_by_role("button", name="Load schedule").click()
    expect(page.locator("#notice")).to_contain_text(f"{len(items)} items loaded")


def review_and_book(page: Page) -> str:
    """Review, confirm the total when asked, press the button; returns the booking id."""
    page.get_by_role("button", name="Review prices").click()
    expect(page.locator("#review-rows tr").first).to_be_visible()
    confirm = page.locator("#confirm-total")
    if confirm.is_visible():
        confirm.check()
    page.get_by_role("button", name="Book now").click()
    heading = page.locator("#bk-h")
    expect(heading).to_have_text(re.compile(r"Booking bk_"))
    return heading.inner_text().split()[-1]


def plan(person, days_ahead: int, restaurant: int = 0, events: int = 1) -> list[dict]:
    """Schedule items as the schedule generator lists them (found through the public search)."""
    return person.day_plan(days_ahead=days_ahead, restaurant=restaurant, events=events)


def day(days_ahead: int) -> str:
    return (dt.date.today() + dt.timedelta(days=days_ahead)).isoformat()
