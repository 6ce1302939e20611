"""The payment service SIGKILLed, restarted 5 s later: bookings made while it is down are all
accepted (202, the card comes from the gateway's own copy), and they complete once it is back.

Slow (`make test-all`): the e2e stack gives a payment step 2 + 4 + 8 s before the saga
compensates, and a restarted payment service must start and take over its consumer group's
partitions (the killed member's session must lapse) within that window; on a loaded machine it
does not, and the sagas then fail cleanly (nothing charged), which this test reports as failure."""

from __future__ import annotations

import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from booking_shared.devstack import infra

from .helpers import Person, check_invariants

BOOKINGS = 6


@pytest.mark.slow
@pytest.mark.timeout(
    420
)  # the stack's start (first test of a session) and a service restart on a busy machine
def test_bookings_are_accepted_while_payment_is_down_and_complete_when_it_is_back(system):
    scout = Person(system.url("gateway"), system.url("stripe"))
    scout.sign_up("Scout")
    plans = [scout.day_plan(days_ahead=40 + i % 4, restaurant=i, events=1) for i in range(BOOKINGS)]

    def prepare(i: int) -> tuple[Person, str]:
        p = Person(system.url("gateway"), system.url("stripe"))
        p.sign_up(f"Outage guest {i}")
        p.add_card()
        return p, p.quote(plans[i])["id"]

    with ThreadPoolExecutor(4) as pool:
        people = list(pool.map(prepare, range(BOOKINGS)))

    port = system.ports["payment"]
    os.kill(system.pid("payment"), signal.SIGKILL)
    killed_at = time.monotonic()
    deadline = killed_at + 10
    while infra.port_open(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not infra.port_open(port), "the payment service is still listening"

    def book(pq: tuple[Person, str]) -> str:
        p, quote_id = pq
        r = p.book(quote_id)
        assert r.status_code == 202, r.text  # accepted with payment down
        return r.json()["booking_id"]

    with ThreadPoolExecutor(BOOKINGS) as pool:
        booked = list(pool.map(book, people))
    assert not infra.port_open(port)  # all of them while it was down

    time.sleep(max(0.0, killed_at + 5 - time.monotonic()))
    replacement = infra.spawn(
        "payment-restarted",
        [sys.executable, "-m", "payment"],
        port,
        system.state_dir / "logs",
        env={
            **system.env(),
            "PORT": str(port),
            "INTERNAL_API_TOKEN": system.env()["PAYMENT_API_TOKEN"],
        },
        timeout=180,
    )
    system.extra.append(replacement)
    print(f"payment listening again {time.monotonic() - killed_at:.1f} s after the kill")

    for (p, _), booking_id in zip(people, booked, strict=True):
        b = p.wait_final(booking_id, timeout=150)
        assert b["state"] == "CONFIRMED", (b["state"], b.get("failure_reasons"), b.get("saga"))
        check_invariants(system, b)
