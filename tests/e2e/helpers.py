"""Drive the system as a person would (the gateway's public API), and check the invariants
against the partners' and the Stripe emulator's own records, not only our tables."""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

FINAL = {"CONFIRMED", "FAILED", "CANCELLED", "COMPENSATION_FAILED"}
STRIPE_KEY = "sk_test_localstripe"


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
            json={"name": name, "email": f"{uuid.uuid4().hex[:10]}@example.com", "phone": "+351900000000"},
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
            data={"type": "card", "card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2031", "card[cvc]": "123"},
        ).json()["id"]
        r = self.client.post("/v1/payment-methods", headers=self.auth, json={"payment_method_id": pm})
        assert r.status_code == 201, r.text
        return r.json()

    def search(self, days_ahead: int = 20, **params: Any) -> list[dict[str, Any]]:
        key = (days_ahead, tuple(sorted(params.items())))
        if key not in self._searches:
            self._searches[key] = self._search(days_ahead, **params)
        return self._searches[key]

    def _search(self, days_ahead: int, **params: Any) -> list[dict[str, Any]]:
        day = (dt.date.today() + dt.timedelta(days=days_ahead)).isoformat()
        r = self.client.get("/v1/search", headers=self.auth, params={"date": day, "party_size": 2, "quantity": 1, **params})
        assert r.status_code == 200, r.text
        assert r.json()["missing_providers"] == []
        return r.json()["results"]

    def day_plan(self, days_ahead: int = 20, restaurant: int = 0, events: int = 2) -> list[dict[str, Any]]:
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

    def wait_final(self, booking_id: str, timeout: float = 60, states: set[str] = FINAL) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            b = self.booking(booking_id)
            if b["state"] in states and (b["saga"] or {}).get("state") in states | {None}:
                return b
            if time.monotonic() > deadline:
                raise AssertionError(f"booking {booking_id} still {b['state']} after {timeout}s: {b}")
            time.sleep(0.2)


@dataclass
class Records:
    """What the outside world holds for one booking."""

    intents: list[dict[str, Any]]
    reservations: list[dict[str, Any]]
    locks: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    holds: list[dict[str, Any]]

    @property
    def captured(self) -> int:
        total = 0
        for pi in self.intents:
            for ch in (pi.get("charges") or {}).get("data", []):
                if ch.get("captured"):
                    total += ch["amount"] - ch.get("amount_refunded", 0)
        return total

    @property
    def active_partner_bookings(self) -> list[dict[str, Any]]:
        live_res = [r for r in self.reservations if r["state"] not in ("Cancelled", "CancelledWeb", "CancelledRestaurant")]
        live_orders = [o for o in self.orders if o["status"] not in ("CANCELLED", "REFUNDED")]
        return live_res + live_orders

    @property
    def live_holds(self) -> list[dict[str, Any]]:
        return [lk for lk in self.locks if lk["state"] in ("Active", "Locked", "Held")] + [
            h for h in self.holds if h["status"] == "HELD"
        ]


def records(system, booking_id: str) -> Records:
    intents = httpx.get(f"{system.url('stripe')}/v1/payment_intents", auth=(STRIPE_KEY, ""), params={"limit": 1000}).json()["data"]
    ot, eb = system.url("opentable_sandbox"), system.url("eventbrite_sandbox")
    mine = lambda ref: (ref or "").startswith(f"{booking_id}:")  # noqa: E731
    reservations = [r for r in httpx.get(f"{ot}/_admin/reservations").json()["reservations"] if mine(r["partner_reference"])]
    # Locks carry no reference of ours: find them through the lock ids the provider recorded.
    items = httpx.get(f"{system.url('opentable')}/internal/bookings/{booking_id}/items",
                      headers=system.credential("opentable")).json()["items"]
    res_locks = {r["lock_id"] for r in reservations} | {i["hold_id"] for i in items if i.get("hold_id")}
    locks = httpx.get(f"{ot}/_admin/locks").json()["locks"]
    orders = [o for o in httpx.get(f"{eb}/_admin/orders").json()["orders"] if mine(o["partner_reference"])]
    holds = [h for h in httpx.get(f"{eb}/_admin/holds").json()["holds"] if mine(h.get("partner_reference"))]
    return Records(
        intents=[pi for pi in intents if (pi.get("metadata") or {}).get("booking_id") == booking_id],
        reservations=reservations,
        locks=[lk for lk in locks if lk["lock_id"] in res_locks],
        orders=orders,
        holds=holds,
    )


def check_invariants(system, booking: dict[str, Any]) -> Records:
    """DESIGN.md's invariants for one booking in a final state, against outside records."""
    bid, state = booking["booking_id"], booking["state"]
    rec = records(system, bid)
    captured_intents = [pi for pi in rec.intents if any(c.get("captured") for c in (pi.get("charges") or {}).get("data", []))]
    assert len(captured_intents) <= 1, f"{bid} charged more than once: {captured_intents}"
    if state == "CONFIRMED":
        confirmed = [i for i in booking["items"] if i["status"] == "CONFIRMED"]
        assert rec.captured == sum(i["price"]["amount_minor"] for i in confirmed), (bid, rec.captured)
        assert len(rec.active_partner_bookings) == len(confirmed), (bid, rec.active_partner_bookings)
    elif state in ("FAILED", "CANCELLED"):
        if state == "FAILED":
            assert rec.captured == 0, f"money kept for failed booking {bid}: {rec.captured}"
        assert rec.active_partner_bookings == [], f"reservations left active for {bid}: {rec.active_partner_bookings}"
        assert rec.live_holds == [], f"holds left for {bid}: {rec.live_holds}"
    else:
        raise AssertionError(f"{bid} is {state}, not a final state")
    return rec


# A digit run standing alone (not inside a hex id or a longer token), spaces or dashes allowed.
_PAN = re.compile(rb"(?<![0-9A-Za-z])(?:\d[ -]?){12,18}\d(?![0-9A-Za-z])")
_BRANDS = [  # (prefix pattern, lengths): Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay
    (re.compile(r"^4"), {13, 16, 19}),
    (re.compile(r"^(5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720)"), {16}),
    (re.compile(r"^3[47]"), {15}),
    (re.compile(r"^(6011|65|64[4-9])"), {16, 17, 18, 19}),
    (re.compile(r"^(36|30[0-5]|38|39)"), {14, 16, 19}),
    (re.compile(r"^35(2[89]|[3-8]\d)"), {16, 17, 18, 19}),
    (re.compile(r"^62"), {16, 17, 18, 19}),
]


def luhn_ok(digits: str) -> bool:
    total, alt = 0, False
    for ch in reversed(digits):
        d = int(ch)
        if alt:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        alt = not alt
    return total % 10 == 0


def card_numbers(blob: bytes) -> list[str]:
    out = []
    for m in _PAN.finditer(blob):
        digits = re.sub(rb"[ -]", b"", m.group()).decode()
        if any(p.match(digits) and len(digits) in lengths for p, lengths in _BRANDS) and luhn_ok(digits):
            out.append(digits)
    return out
