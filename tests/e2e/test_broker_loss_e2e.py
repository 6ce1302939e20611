"""The broker lost in the middle of sagas and started again empty on the same port (the dev
broker keeps its log in memory): every service recreates its topics and subscriptions by
itself, every saga in flight reaches a final state, a new booking is confirmed within 30 s,
and the broker's errors are logged at a bounded rate, not once per poll. Then the broker away
for a while and back with its data (frozen and thawed: this dev broker build has no durable
storage to restart from), which the services take as the same kind of loss."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

from booking_shared.devstack import infra

from .helpers import FINAL, Person, check_invariants

SERVICES = (
    "gateway",
    "booking-orchestrator",
    "payment",
    "provider-opentable",
    "provider-eventbrite",
)
BROKER_ERRORS = (
    "UnknownTopic",
    "Kafka error",
    "KafkaError",
    "KafkaConnectionError",
    "NodeNotReady",
    "broker",
)


def _error_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if any(e in line for e in BROKER_ERRORS))


def _broker_pid(system) -> int:
    """The broker serving the stack now: one a test started, else the one `make up` started."""
    ours = [c for c in system.extra if c.name == "kafka-broker" and c.proc.poll() is None]
    return ours[-1].proc.pid if ours else system.pid("kafka-broker")


def _prepare(system, n: int, days_ahead: int) -> list[tuple[Person, str]]:
    scout = Person(system.url("gateway"), system.url("stripe"))
    scout.sign_up("Lindqvist")
    plans = [
        scout.day_plan(days_ahead=days_ahead + i % 4, restaurant=i, events=1) for i in range(n)
    ]
    names = [
        "Adé Oyelaran",
        "Zoë Ångström",
        "Þórunn Jónsdóttir",
        "Nguyễn Thị Minh Khai",
        "Ō Sadaharu",
        "María-José de la Cruz y Villalobos",
    ]

    def prepare(i: int) -> tuple[Person, str]:
        p = Person(system.url("gateway"), system.url("stripe"))
        p.sign_up(names[i % len(names)])
        p.add_card()
        return p, p.quote(plans[i])["id"]

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(prepare, range(n)))


def _book(pq: tuple[Person, str]) -> str:
    p, quote_id = pq
    r = p.book(quote_id)
    assert r.status_code == 202, r.text
    return r.json()["booking_id"]


def test_every_saga_finishes_and_new_bookings_work_after_the_broker_comes_back_empty(system):
    people = _prepare(system, 7, days_ahead=40)
    late, quote_late = people.pop()
    with ThreadPoolExecutor(6) as pool:
        in_flight = list(pool.map(_book, people))
    time.sleep(0.3)  # the sagas are between their steps

    port = system.ports["kafka"]
    os.kill(_broker_pid(system), signal.SIGKILL)
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
    booking_id = _book((late, quote_late))
    b = late.wait_final(booking_id, timeout=max(1.0, 30 - (time.monotonic() - back)))
    assert b["state"] == "CONFIRMED", b
    check_invariants(system, b)

    # Every saga caught by the loss reaches a final state through its deadlines and resends.
    for (p, _), bid in zip(people, in_flight, strict=True):
        b = p.wait_final(bid, timeout=max(1.0, 60 - (time.monotonic() - back)))
        assert b["state"] in FINAL - {"COMPENSATION_FAILED"}, b
        check_invariants(system, b)

    # One broker error repeating is logged at a bounded rate, not once per poll.
    grown = {
        name: _error_lines("\n".join(system.log(name).splitlines()[before[name] :]))
        for name in SERVICES
    }
    assert all(n < 200 for n in grown.values()), grown


def test_sagas_and_new_bookings_go_on_after_the_broker_is_away_and_back_with_its_data(system):
    people = _prepare(system, 5, days_ahead=37)
    late, quote_late = people.pop()
    with ThreadPoolExecutor(4) as pool:
        in_flight = list(pool.map(_book, people))
    time.sleep(0.3)

    pid = _broker_pid(system)
    os.kill(pid, signal.SIGSTOP)  # away: no answers, sessions and requests time out
    try:
        time.sleep(6.0)
    finally:
        os.kill(pid, signal.SIGCONT)
    back = time.monotonic()

    booking_id = _book((late, quote_late))
    b = late.wait_final(booking_id, timeout=30)
    assert b["state"] == "CONFIRMED", b
    check_invariants(system, b)
    for (p, _), bid in zip(people, in_flight, strict=True):
        b = p.wait_final(bid, timeout=max(1.0, 60 - (time.monotonic() - back)))
        assert b["state"] in FINAL - {"COMPENSATION_FAILED"}, b
        check_invariants(system, b)  # nothing held, charged or booked twice
