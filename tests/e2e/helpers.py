"""Drive the system as a person would (the gateway's public API), and check the invariants
against the partners' and the Stripe emulator's own records, not only our tables."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from booking_shared import pan
from booking_shared.devstack import checker

FINAL = {"CONFIRMED", "FAILED", "CANCELLED", "PARTIALLY_CANCELLED", "COMPENSATION_FAILED"}
STRIPE_KEY = checker.STRIPE_TEST_KEY


@dataclass
class Person:
    gateway: str
    stripe: str
    token: str = ""
    client: httpx.Client = field(init=False)

    _searches: dict = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.gateway, timeout=30)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def sign_up(self, name: str = "Ana Silva") -> dict[str, Any]:
        r = self.client.post(
            "/v1/users",
            json={
                "name": name,
                "email": f"{uuid.uuid4().hex[:10]}@example.com",
                "phone": "+351900000000",
            },
        )
        assert r.status_code == 201, r.text
        self.token = r.json()["token"]
        return r.json()["user"]

    def add_card(self, number: str = "4242424242424242") -> dict[str, Any]:
        """The browser's part (Stripe.js turns the number into a pm_ at Stripe), then ours."""
        r = self.client.post("/v1/payment-methods/setup-intent", headers=self.auth)
        assert r.status_code == 201, r.text
        pm = httpx.post(
            f"{self.stripe}/v1/payment_methods",
            auth=(STRIPE_KEY, ""),
            data={
                "type": "card",
                "card[number]": number,
                "card[exp_month]": "12",
                "card[exp_year]": "2031",
                "card[cvc]": "123",
            },
        ).json()["id"]
        r = self.client.post(
            "/v1/payment-methods", headers=self.auth, json={"payment_method_id": pm}
        )
        assert r.status_code == 201, r.text
        return r.json()

    def search(self, days_ahead: int = 20, **params: Any) -> list[dict[str, Any]]:
        key = (days_ahead, tuple(sorted(params.items())))
        if key not in self._searches:
            self._searches[key] = self._search(days_ahead, **params)
        return self._searches[key]

    def _search(self, days_ahead: int, **params: Any) -> list[dict[str, Any]]:
        day = (dt.date.today() + dt.timedelta(days=days_ahead)).isoformat()
        r = self.client.get(
            "/v1/search",
            headers=self.auth,
            params={"date": day, "party_size": 2, "quantity": 1, **params},
        )
        assert r.status_code == 200, r.text
        assert r.json()["missing_providers"] == []
        return r.json()["results"]

    def day_plan(
        self, days_ahead: int = 20, restaurant: int = 0, events: int = 2
    ) -> list[dict[str, Any]]:
        """A restaurant and `events` ticket classes, as a schedule would list them (the event
        catalogue has about one event a day, so later days fill the plan when needed)."""
        results = self.search(days_ahead)
        rest = [x["item"] for x in results if x["booking_type"] == "restaurant" and x["available"]]
        evs = [x["item"] for x in results if x["booking_type"] == "event" and x["available"]]
        for extra in range(1, 10):
            if len(evs) >= events:
                break
            more = self.search(days_ahead + extra, types="event")
            evs += [x["item"] for x in more if x["booking_type"] == "event" and x["available"]]
        assert rest and len(evs) >= events, f"{len(rest)} restaurants, {len(evs)} events"
        return [rest[restaurant % len(rest)], *evs[:events]]

    def quote(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        r = self.client.post("/v1/quotes", headers=self.auth, json={"items": items})
        assert r.status_code == 201, r.text
        return r.json()

    def book(self, quote_id: str, key: str | None = None, **body: Any) -> httpx.Response:
        return self.client.post(
            "/v1/bookings",
            headers={**self.auth, "Idempotency-Key": key or str(uuid.uuid4())},
            json={"quote_id": quote_id, "confirm": True, **body},
        )

    def booking(self, booking_id: str) -> dict[str, Any]:
        r = self.client.get(f"/v1/bookings/{booking_id}", headers=self.auth)
        assert r.status_code == 200, r.text
        return r.json()

    def wait_final(
        self, booking_id: str, timeout: float = 60, states: set[str] = FINAL
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            b = self.booking(booking_id)
            if b["state"] in states and (b["saga"] or {}).get("state") in states | {None}:
                return b
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"booking {booking_id} still {b['state']} after {timeout}s: {b}"
                )
            time.sleep(0.2)


def stack(system) -> checker.Stack:
    """Where the invariant checker finds this stack's records (the environment `make up` gave it)."""
    return checker.Stack.from_env(system.env())


def records(system, booking_id: str) -> checker.Records:
    """What the outside world (Stripe, the partner sandboxes) holds for one booking."""
    return asyncio.run(checker.collect(stack(system), [booking_id])).records(booking_id)


def check_invariants(system, booking: dict[str, Any]) -> checker.Records:
    """DESIGN.md's invariants for one booking in a final state, against outside records: the
    invariant checker of `make check`, on this booking."""
    bid, state = booking["booking_id"], booking["state"]
    assert state in FINAL - {"COMPENSATION_FAILED"}, f"{bid} is {state}, not a final state"
    snap, violations = checker.run(stack(system), booking_ids=[bid])
    assert not violations, checker.report(snap, violations)
    assert snap.sagas[bid].state == state, (bid, snap.sagas[bid].state, state)
    return snap.records(bid)


# The scanner is the shared card-number detector (booking_shared.pan), re-exported for the tests.
card_numbers = pan.card_numbers


def day_plan_retried(person: Person, **kw: Any) -> list[dict[str, Any]]:
    """A day plan; a search that finds a provider too slow (a cold stack on a loaded machine)
    is asked again: for tests whose subject comes after the search."""
    for _ in range(2):
        try:
            return person.day_plan(**kw)
        except AssertionError:
            person._searches.clear()
            time.sleep(1)
    return person.day_plan(**kw)
