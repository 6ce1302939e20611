"""The fetch pacer: short wait while busy, long wait after a quiet spell, never against Kafka."""

from __future__ import annotations

from types import SimpleNamespace

from booking_shared.config import ServiceSettings
from booking_shared.pacing import FetchPacer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def consumer(wait_ms: int = 0) -> SimpleNamespace:
    return SimpleNamespace(_fetcher=SimpleNamespace(_fetch_max_wait_ms=wait_ms))


def settings(**kw) -> ServiceSettings:
    values = {
        "kafka_fetch_max_wait_ms": 5,
        "kafka_fetch_idle_wait_ms": 500,
        "kafka_busy_window_s": 10.0,
    }
    return ServiceSettings(**{**values, **kw})


def test_a_service_that_just_started_waits_briefly_then_long_after_a_quiet_window():
    clock, c = Clock(), consumer()
    pacer = FetchPacer(settings(), clock)
    pacer.watch(lambda: c)
    assert pacer.wait_ms == 5
    clock.now += 9.9
    pacer.tick()
    assert c._fetcher._fetch_max_wait_ms == 5
    clock.now += 0.2
    pacer.tick()
    assert pacer.wait_ms == 500 and c._fetcher._fetch_max_wait_ms == 500


def test_traffic_makes_the_wait_short_again_at_once_and_keeps_it_short():
    clock, c = Clock(), consumer()
    pacer = FetchPacer(settings(), clock)
    pacer.watch(lambda: c)
    clock.now += 11
    pacer.tick()
    assert c._fetcher._fetch_max_wait_ms == 500
    pacer.busy()
    assert c._fetcher._fetch_max_wait_ms == 5
    for _ in range(5):  # busy every 5 s: never idle
        clock.now += 5
        pacer.busy()
        pacer.tick()
    assert c._fetcher._fetch_max_wait_ms == 5


def test_a_consumer_made_again_by_the_framework_gets_the_current_wait():
    clock = Clock()
    current = {"c": None}
    pacer = FetchPacer(settings(), clock)
    pacer.watch(lambda: current["c"])
    pacer.tick()  # no consumer yet: nothing to do, nothing fails
    clock.now += 11
    pacer.tick()
    current["c"] = consumer(wait_ms=5)
    pacer.tick()
    assert current["c"]._fetcher._fetch_max_wait_ms == 500


def test_against_apache_kafka_the_wait_is_always_the_long_one():
    clock, c = Clock(), consumer(wait_ms=500)
    pacer = FetchPacer(settings(kafka_flavour="kafka"), clock)
    pacer.watch(lambda: c)
    assert pacer.wait_ms == 500 and not pacer.adaptive
    pacer.busy()
    pacer.tick()
    assert c._fetcher._fetch_max_wait_ms == 500


def test_equal_waits_turn_pacing_off():
    pacer = FetchPacer(settings(kafka_fetch_idle_wait_ms=5), Clock())
    assert not pacer.adaptive and pacer.wait_ms == 5


async def test_an_http_request_makes_the_service_busy_but_a_probe_does_not():
    from booking_shared.service import BusyOnRequests

    clock = Clock()
    pacer = FetchPacer(settings(), clock)
    clock.now += 11
    pacer.tick()
    assert not pacer.hot
    app = SimpleNamespace(state=SimpleNamespace(runtime=SimpleNamespace(pacer=pacer)))
    seen = []

    async def inner(scope, receive, send):
        seen.append(scope["path"])

    mw = BusyOnRequests(inner)
    await mw({"type": "http", "path": "/readyz", "app": app}, None, None)
    assert not pacer.hot
    await mw({"type": "http", "path": "/internal/capabilities", "app": app}, None, None)
    assert pacer.hot and seen == ["/readyz", "/internal/capabilities"]
