"""Operators' view of a real booking on the whole system: every service's /metrics moves with
it, and every service's log is JSON lines carrying the booking's ids, with no secret and no
personal data in them."""

from __future__ import annotations

import json
import re
import secrets
import string
import time
import uuid
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from booking_shared.config import DEV_DB_PASSWORD, DEV_GUEST_DATA_KEY

from .helpers import Person

SERVICES = {
    "gateway": "gateway",
    "booking-orchestrator": "orchestrator",
    "payment": "payment",
    "provider-opentable": "opentable",
    "provider-eventbrite": "eventbrite",
}
HEX32 = re.compile(r"^[0-9a-f]{32}$")

Samples = dict[tuple[str, tuple], float]


def scrape(system, part: str) -> Samples:
    r = httpx.get(f"{system.url(part)}/metrics", timeout=10)
    assert r.status_code == 200, (part, r.status_code)
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def total(
    samples: Samples, name: str, match: Callable[[dict], bool] = lambda labels: True
) -> float:
    return sum(v for (n, labels), v in samples.items() if n == name and match(dict(labels)))


def book_one(system, person: Person, days_ahead: int) -> str:
    for attempt in range(
        3
    ):  # a search a provider did not answer in time (a loaded machine) is asked again
        try:
            plan = person.day_plan(days_ahead=days_ahead, events=1)
            break
        except AssertionError:
            if attempt == 2:
                raise
            person._searches.clear()
            time.sleep(2)
    booking_id = person.book(person.quote(plan)["id"]).json()["booking_id"]
    assert person.wait_final(booking_id)["state"] == "CONFIRMED"
    return booking_id


def test_every_service_serves_metrics_that_move_with_a_booking(system):
    person = Person(system.url("gateway"), system.url("stripe"))
    person.sign_up("Metrics Reader")
    person.add_card()
    before = {part: scrape(system, part) for part in SERVICES.values()}
    book_one(system, person, days_ahead=31)
    time.sleep(0.5)  # the last replies are consumed after the state the person sees
    after = {part: scrape(system, part) for part in SERVICES.values()}

    def moved(part: str, name: str, match: Callable[[dict], bool] = lambda labels: True) -> bool:
        return total(after[part], name, match) > total(before[part], name, match)

    assert moved("gateway", "gateway_bookings_requested_total")
    assert total(after["orchestrator"], "booking_sagas", lambda lb: lb["state"] == "CONFIRMED") >= 1
    assert moved(
        "orchestrator", "booking_saga_transitions_total", lambda lb: lb["to_state"] == "CONFIRMED"
    )
    for kind in ("hold", "authorize", "confirm", "capture"):
        assert moved(
            "orchestrator",
            "booking_saga_step_duration_seconds_count",
            lambda lb, k=kind: lb["kind"] == k,
        ), kind
    for step in ("authorize", "capture"):
        assert moved(
            "payment",
            "booking_partner_call_duration_seconds_count",
            lambda lb, s=step: (
                (lb["provider"], lb["operation"], lb["outcome"]) == ("stripe", s, "ok")
            ),
        ), step
    for part in ("opentable", "eventbrite"):
        assert moved(
            part,
            "booking_partner_call_duration_seconds_count",
            lambda lb, p=part: lb["provider"] == p,
        ), part
    for part, samples in after.items():
        # The plumbing's gauges, read from each service's own tables and its consumer at the scrape.
        assert any(n == "booking_outbox_pending" for n, _ in samples), part
        assert any(n == "booking_outbox_lag_seconds" for n, _ in samples), part
        assert any(n == "booking_consumer_lag_messages" for n, _ in samples), part
        assert moved(part, "booking_messages_handled_total"), part


def test_a_bookings_logs_are_json_lines_with_its_ids_and_no_secret_or_personal_data(system):
    tag = "".join(secrets.choice(string.ascii_lowercase) for _ in range(6))
    name, family = f"Quillon{tag}", f"Vasquerra{tag}"
    email = f"log-scan-{tag}@example.com"
    phone = f"+351 91{secrets.randbelow(10_000_000):07d}"
    person = Person(system.url("gateway"), system.url("stripe"))
    r = person.client.post(
        "/v1/users", json={"name": f"{name} {family}", "email": email, "phone": phone}
    )
    assert r.status_code == 201, r.text
    person.token = r.json()["token"]
    person.add_card()
    booking_id = book_one(system, person, days_ahead=32)
    time.sleep(1.0)  # the replies after CONFIRMED, and the log writes

    env = system.env()
    secret_values = {
        "the Stripe key": env["STRIPE_API_KEY"],
        "the webhook secret": env["STRIPE_WEBHOOK_SECRET"],
        "the database password": env.get("DB_PASSWORD", DEV_DB_PASSWORD),
        "the guest data key": env.get("GUEST_DATA_KEY", DEV_GUEST_DATA_KEY),
        "the person's bearer token": person.token,
        **{f"credential {k}": v for k, v in env.items() if k.endswith("_API_TOKEN")},
    }
    personal = {
        "name": name,
        "family name": family,
        "email": email,
        "phone": phone,
        "phone digits": phone.replace(" ", ""),
    }

    about: dict[str, list[dict]] = {}
    for service in SERVICES:
        text = system.log(service)
        assert text, f"no log for {service}"
        for what, value in {**secret_values, **personal}.items():
            assert value not in text, f"{what} in the {service} log"
        for n, raw in enumerate(text.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:
                raise AssertionError(f"{service} log line {n} is not JSON: {raw[:300]}") from None
            assert isinstance(line, dict), raw[:300]
            assert {
                "ts",
                "level",
                "service",
                "logger",
                "msg",
                "booking_id",
                "message_id",
                "trace_id",
            } <= set(line), raw[:300]
            assert line["service"] == service or line["service"].startswith(service), raw[:300]
            if booking_id in raw:
                assert line["booking_id"] == booking_id, (
                    f"{service}: a line mentions the booking but names another: {raw[:300]}"
                )
                about.setdefault(service, []).append(line)

    # The booking's lines: the gateway's request, then the saga and the payment, each from a message.
    assert {"gateway", "booking-orchestrator", "payment"} <= set(about), sorted(about)
    # Each line caused by a message or a request has a trace id (a saga's own timers have none).
    timers = [line for line in about["booking-orchestrator"] if not line["message_id"]]
    caused = [
        line for lines in about.values() for line in lines if not any(line is t for t in timers)
    ]
    untraced = [line for line in caused if not HEX32.match(line["trace_id"] or "")]
    assert not untraced, untraced
    handled = [line for lines in about.values() for line in lines if line["message_id"]]
    assert handled and all(uuid.UUID(line["message_id"]) for line in handled)
    saga_traces = {line["trace_id"] for line in about["booking-orchestrator"] if line["message_id"]}
    payment_traces = {line["trace_id"] for line in about["payment"] if line["message_id"]}
    assert saga_traces & payment_traces, "the saga and the payment do not share the booking's trace"
