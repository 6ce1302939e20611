"""The orchestrator SIGKILLed in the middle of 20 concurrent sagas, then restarted: every saga
reaches a final state and the invariants hold against Stripe's and the partners' records."""

from __future__ import annotations

import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from booking_shared.devstack import infra

from .helpers import FINAL, Person, check_invariants


def test_every_saga_finishes_correctly_after_the_orchestrator_is_killed_mid_flight(system):
    scout = Person(system.url("gateway"), system.url("stripe"))
    scout.sign_up("Scout")
    plans = [scout.day_plan(days_ahead=30 + i % 5, restaurant=i, events=1) for i in range(20)]

    def prepare(i: int) -> tuple[Person, str]:
        p = Person(system.url("gateway"), system.url("stripe"))
        p.sign_up(f"Guest {i}")
        p.add_card()
        return p, p.quote(plans[i])["id"]

    with ThreadPoolExecutor(8) as pool:
        people = list(pool.map(prepare, range(20)))

    def book(pq: tuple[Person, str]) -> str:
        p, quote_id = pq
        r = p.book(quote_id)
        assert r.status_code == 202, r.text
        return r.json()["booking_id"]

    with ThreadPoolExecutor(10) as pool:
        first = list(pool.map(book, people[:10]))
        time.sleep(0.15)  # let the first sagas get going
        os.kill(system.pid("booking-orchestrator"), signal.SIGKILL)
        second = list(pool.map(book, people[10:]))  # accepted while the orchestrator is dead
    time.sleep(1.0)
    # Those accepted while it was down are waiting for it (the gateway's outbox kept them).
    waiting = [p.booking(b)["state"] for (p, _), b in zip(people[10:], second, strict=True)]
    assert set(waiting) == {"REQUESTED"}, waiting

    port = system.ports["orchestrator"]
    assert not infra.port_open(port)
    replacement = infra.spawn(
        "booking-orchestrator-restarted",
        [sys.executable, "-m", "orchestrator"],
        port,
        system.state_dir / "logs",
        env={
            **system.env(),
            "PORT": str(port),
            "INTERNAL_API_TOKEN": system.env()["ORCHESTRATOR_API_TOKEN"],
        },
        timeout=60,
    )
    system.extra.append(replacement)

    outcomes = {}
    for (p, _), booking_id in zip(people, first + second, strict=True):
        b = p.wait_final(booking_id, timeout=90)
        assert b["state"] in FINAL - {"COMPENSATION_FAILED"}, b
        check_invariants(system, b)
        outcomes[booking_id] = b["state"]
    assert len(outcomes) == 20
    assert "CONFIRMED" in outcomes.values()
