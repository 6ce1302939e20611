"""Prometheus metrics of the plumbing, served at /metrics by every service.

Counters and histograms move where things happen. Gauges of what is in the database (outbox,
dead letters) or on the broker (consumer lag) are read again at each scrape by the refreshers
a service registers (`Refreshers`), so they are right after a restart and cost nothing idle.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
from prometheus_client import Counter, Gauge, Histogram

log = logging.getLogger(__name__)

MESSAGES_HANDLED = Counter(
    "booking_messages_handled_total",
    "Messages consumed, by consumer, type and outcome",
    ["consumer", "type", "outcome"],
)
MESSAGES_DEAD = Counter(
    "booking_messages_dead_lettered_total", "Messages sent to a DLQ", ["consumer", "type"]
)
OUTBOX_PENDING = Gauge("booking_outbox_pending", "Outbox rows not yet published", ["service"])
OUTBOX_PARKED = Gauge(
    "booking_outbox_parked",
    "Outbox rows given up after repeated refusals (need an operator)",
    ["service"],
)
OUTBOX_LAG = Gauge(
    "booking_outbox_lag_seconds",
    "Age of the oldest outbox row not yet published (0 when none waits)",
    ["service"],
)
DLQ_MESSAGES = Gauge(
    "booking_dlq_messages",
    "Messages this service dead-lettered and that are still recorded (dead_letters rows), by source topic",
    ["service", "topic"],
)
CONSUMER_LAG = Gauge(
    "booking_consumer_lag_messages",
    "Messages on a partition past the consumer group's committed offset (high watermark minus committed)",
    ["service", "topic", "partition"],
)
CONSUMER_IN_FLIGHT = Gauge(
    "booking_consumer_in_flight",
    "Records admitted to the consumer's lanes and not yet handled (at most CONSUMER_CONCURRENCY, within DB_POOL_MAX - DB_POOL_RESERVE)",
    ["service"],
)
FETCH_WAIT_MS = Gauge(
    "booking_kafka_fetch_wait_ms",
    "The consumer's current fetch wait (short while busy)",
    ["service"],
)

# External calls: the partner APIs (one request attempt each) and Stripe (one SDK call each).
PARTNER_CALL_SECONDS = Histogram(
    "booking_partner_call_duration_seconds",
    "One request to a partner API or to Stripe, by provider, operation and outcome "
    "(ok, rejected: a 4xx or a card declined, error: a 5xx or a failed Stripe call, timeout, network)",
    ["provider", "operation", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


@contextmanager
def time_call(provider: str, operation: str) -> Iterator[dict[str, str]]:
    """Time one external call: set ["outcome"] in the yielded dict; an exception that escapes
    without one counts as "error"."""
    result: dict[str, str] = {}
    start = time.perf_counter()
    try:
        yield result
    except BaseException:
        result.setdefault("outcome", "error")
        raise
    finally:
        PARTNER_CALL_SECONDS.labels(provider, operation, result.get("outcome", "ok")).observe(
            time.perf_counter() - start
        )


Refresher = Callable[[], Awaitable[None]]


class Refreshers:
    """Async functions that set gauges from the database or the broker, run before each scrape."""

    def __init__(self, timeout_s: float = 3.0) -> None:
        self.timeout_s = timeout_s
        self._fns: list[Refresher] = []

    def add(self, fn: Refresher) -> None:
        self._fns.append(fn)

    async def run(self) -> None:
        """Run every refresher; one that fails or takes too long leaves its gauges as they were."""
        results = await asyncio.gather(
            *(asyncio.wait_for(fn(), self.timeout_s) for fn in self._fns), return_exceptions=True
        )
        for fn, res in zip(self._fns, results, strict=True):
            if isinstance(res, BaseException):
                log.debug(
                    "metrics refresher failed",
                    extra={"refresher": getattr(fn, "__name__", "?"), "error": repr(res)},
                )


async def refresh_outbox_and_dlq(pool: asyncpg.Pool, service: str) -> None:
    """Outbox pending, parked and lag, and the dead letters by source topic, from the database."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT count(*) FILTER (WHERE parked_at IS NULL) AS pending,
                      count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked,
                      coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE parked_at IS NULL)), 0)
                        AS lag
                 FROM outbox WHERE sent_at IS NULL"""
        )
        dead = await conn.fetch("SELECT topic, count(*) AS n FROM dead_letters GROUP BY topic")
    assert row is not None  # an aggregate without GROUP BY always returns one row
    OUTBOX_PENDING.labels(service).set(row["pending"])
    OUTBOX_PARKED.labels(service).set(row["parked"])
    OUTBOX_LAG.labels(service).set(float(row["lag"]))
    seen = set()
    for r in dead:
        DLQ_MESSAGES.labels(service, r["topic"]).set(r["n"])
        seen.add(r["topic"])
    _zero_missing(DLQ_MESSAGES, service, seen)


async def refresh_consumer_lag(consumer: Any, service: str) -> None:
    """Per assigned partition: high watermark minus the group's committed offset. `consumer` is
    the service's aiokafka consumer (None before it started: nothing to report)."""
    if consumer is None:
        return
    seen = set()
    for tp in consumer.assignment():
        high = consumer.highwater(tp)
        if high is None:  # nothing fetched from this partition yet
            continue
        committed = await consumer.committed(tp)
        lag = max(0, high - (committed if committed is not None and committed >= 0 else 0))
        CONSUMER_LAG.labels(service, tp.topic, str(tp.partition)).set(lag)
        seen.add((tp.topic, str(tp.partition)))
    # A partition moved to another instance is that instance's to report.
    for labels in _label_sets(CONSUMER_LAG):
        if labels[0] == service and labels[1:] not in seen:
            CONSUMER_LAG.remove(*labels)


def _label_sets(metric: Any) -> list[tuple[str, ...]]:
    return list(metric._metrics.keys())  # prometheus_client keeps no public list of children


def _zero_missing(metric: Any, service: str, seen: set[str]) -> None:
    for labels in _label_sets(metric):
        if labels[0] == service and labels[1] not in seen:
            metric.labels(*labels).set(0)
