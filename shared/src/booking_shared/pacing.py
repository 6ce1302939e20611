"""The consumer's fetch wait, short while the service is busy and long while it is idle.

The dev broker (Tansu) answers a waiting fetch only when its wait runs out, not when data
arrives, so a hop costs about half the wait, and a short wait is paid for in polling: at 5 ms
every consumer and the broker spin a tenth of a core each, with nothing to do (measured in
docs/PERFORMANCE.md). The pacer keeps the short wait while the service consumes, publishes or
serves requests, and goes back to the long wait after a quiet spell. Apache Kafka answers as
soon as data arrives, so against it the wait is always the long one and nothing changes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from booking_shared.config import ServiceSettings
from booking_shared.metrics import FETCH_WAIT_MS

log = logging.getLogger(__name__)


class FetchPacer:
    def __init__(
        self, settings: ServiceSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.busy_ms = settings.kafka_fetch_max_wait_ms
        self.idle_ms = settings.kafka_fetch_idle_wait_ms
        self.window_s = settings.kafka_busy_window_s
        # Only a broker that holds fetches to their full wait needs pacing.
        self.adaptive = settings.kafka_flavour == "tansu" and self.busy_ms != self.idle_ms
        self._service = settings.service_name
        self._clock = clock
        self._consumers: list[Callable[[], Any]] = []
        self._last = clock()  # a service that just started is about to be used
        self.hot = self.adaptive
        self._warned = False
        FETCH_WAIT_MS.labels(self._service).set(self.wait_ms)

    @property
    def wait_ms(self) -> int:
        return self.busy_ms if self.hot else self.idle_ms

    def watch(self, consumer: Callable[[], Any]) -> None:
        """Pace a consumer (given as a getter: the framework creates it only when it starts)."""
        self._consumers.append(consumer)

    def consumers(self) -> list[Any]:
        """The consumers watched that exist now (for the consumer-lag gauge)."""
        return [c for c in (get() for get in self._consumers) if c is not None]

    def busy(self) -> None:
        """Something happened that replies or more messages will follow."""
        if not self.adaptive:
            return
        self._last = self._clock()
        if not self.hot:
            self._set(True)

    def tick(self) -> None:
        if self.hot and self._clock() - self._last >= self.window_s:
            self._set(False)
        else:
            self._apply()  # a consumer the framework made again starts with its own setting

    async def run(self) -> None:
        if not self.adaptive:
            return
        while True:
            await asyncio.sleep(max(0.2, self.window_s / 5))
            self.tick()

    def _set(self, hot: bool) -> None:
        self.hot = hot
        FETCH_WAIT_MS.labels(self._service).set(self.wait_ms)
        self._apply()

    def _apply(self) -> None:
        for get in self._consumers:
            consumer = get()
            if consumer is None:
                continue
            # aiokafka reads the wait from its fetcher for every fetch request it builds; it has
            # no public setter, so this is the one place that reaches inside.
            fetcher = getattr(consumer, "_fetcher", None)
            if fetcher is None or not hasattr(fetcher, "_fetch_max_wait_ms"):
                if not self._warned:
                    self._warned = True
                    log.warning(
                        "cannot pace the fetch wait: this aiokafka consumer has no fetcher setting"
                    )
                continue
            fetcher._fetch_max_wait_ms = self.wait_ms
