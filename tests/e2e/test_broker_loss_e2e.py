"""The broker lost in the middle of sagas and started again empty on the same port (the dev
broker keeps its log in memory): every service recreates its topics and subscriptions by
itself, every saga in flight reaches a final state, a new booking is confirmed within 30 s,
and the broker's errors are logged at a bounded rate, not once per poll."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

from booking_shared.devstack import infra

from .helpers import FINAL, Person, check_invariants

SERVICES = ("gateway", "booking-orchestrator", "payment", "provider-opentable", "provider-eventbrite")
BROKER_ERRORS = ("UnknownTopic", "Kafka error", "KafkaError", "KafkaConnectionError", "NodeNotReady", "broker")


def _error_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if any(e in line for e in BROKER_ERRORS))


def test_every_saga_finishes_and_new_bookings_work_after_the_broker_comes_back_empty(system):
    scout = Person(system.url("gateway"), system.url("stripe"))
    scout.sign_up("Lindqvist")
    plans = [scout.day_plan(days_ahead=40 + i % 4, restaurant=i, events=1) for i in range(7)]

    def prepare(i: int) -> tuple[Person, str]:
        p = Person(system.url("gateway"), system.url("stripe"))
        p.sign_up(["Adé Oyelaran", "Zoë Ångström", "Þórunn Jónsdóttir", "Nguyễn Thị Minh Khai", "Ō Sadaharu", "María-José de la Cruz y Villalobos"][i % 6])
        p.add_card()
        return p, p.quote(plans[i])["id"]

    with ThreadPoolExecutor(7) as pool:
        people = list(pool.map(prepare, range(7)))
    late, quote_late = people.pop()

    def book(pq: tuple[Person, str]) -> str:
        p, quote_id = pq
        r = p.book(quote_id)
        assert r.status_code == 202, r.text
        return r.json()["booking_id"]

    with ThreadPoolExecutor(6) as pool:
        in_flight = list(pool.map(book, people))
    time.sleep(0.3)  # the sagas are between their steps

    port = system.ports["kafka"]
    os.kill(system.pid("kafka-broker"), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while infra.port_open(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(2.0)  # long enough for every service to notice
    logs = system.state_dir / "logs"
    before = {name: len(system.log(name).splitlines()) for name in SERVICES}
    broker = infra.start_tansu(port, logs / "restarted")  # empty: no topics, no groups, no offsets
    system.extra.append(broker)
    back = time.monotonic()

    # A booking made once the broker is back is confirmed within 30 s, with nobody's help.
    booking_id = book((late, quote_late))
    b = late.wait_final(booking_id, timeout=max(1.0, 30 - (time.monotonic() - back)))
    assert b["state"] == "CONFIRMED", b
    check_invariants(system, b)

    # Every saga caught by the loss reaches a final state through its deadlines and resends.
    for (p, _), bid in zip(people, in_flight, strict=True):
        b = p.wait_final(bid, timeout=max(1.0, 60 - (time.monotonic() - back)))
        assert b["state"] in FINAL - {"COMPENSATION_FAILED"}, b
        check_invariants(system, b)

    # One broker error repeating is logged at a bounded rate, not once per poll.
    grown = {name: _error_lines("\n".join(system.log(name).splitlines()[before[name]:])) for name in SERVICES}
    assert all(n < 200 for n in grown.values()), grown
