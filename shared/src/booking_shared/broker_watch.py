"""Recovery from broker loss. A broker that restarts empty (the dev broker keeps its log in
memory) forgets our topics, consumer groups and committed offsets; the Kafka client does not
notice that on its own (it rejoins an empty group holding positions past the new log's end, on
topics that no longer exist). A watch asks the broker for its topics every few moments; after it
was unreachable, or when it lacks some of our topics, the service creates its topics again and
restarts its consumer, which then starts from the group's committed offsets, or from the
beginning of the new log when there are none. The inbox makes any message read again harmless."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient

from booking_shared.config import ServiceSettings

log = logging.getLogger(__name__)


@dataclass
class BrokerState:
    """The watch's decision, apart from any I/O: whether the consumer needs rebuilding."""

    lost: bool = False

    def observe(self, topics: set[str] | None, ours: set[str]) -> bool:
        """`topics`: what the broker lists now (None: it did not answer). True when the broker
        is back after being away, or answers without some of our topics."""
        if topics is None:
            self.lost = True
            return False
        return self.lost or not ours <= topics

    def recovered(self) -> None:
        self.lost = False


class TopicLister:
    """Asks the broker for its topics over one admin connection, kept between checks (a new
    client each second would cost every service a connect and a metadata bootstrap, even idle);
    a failed check drops the connection and the next one connects again."""

    def __init__(self, settings: ServiceSettings, timeout: float) -> None:
        self.settings = settings
        self.timeout = timeout
        self._admin: AIOKafkaAdminClient | None = None

    async def __call__(self) -> set[str] | None:
        try:
            if self._admin is None:
                self._admin = AIOKafkaAdminClient(
                    bootstrap_servers=self.settings.kafka_bootstrap_servers,
                    request_timeout_ms=int(self.timeout * 1000),
                )
                await asyncio.wait_for(self._admin.start(), self.timeout)
            return set(await asyncio.wait_for(self._admin.list_topics(), self.timeout))
        except Exception:
            await self.close()
            return None

    async def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(admin.close(), self.timeout)


async def watch(
    settings: ServiceSettings,
    topics: list[str],
    recover: Callable[[], Awaitable[None]],
    lister: Callable[[], Awaitable[set[str] | None]] | None = None,
) -> None:
    """Run until cancelled: check the broker every broker_watch_interval_s, call `recover`
    (create topics, restart the consumer) when the decision says so, and again at the next
    check if that failed."""
    state = BrokerState()
    ours = set(topics)
    interval = settings.broker_watch_interval_s
    own = None
    if lister is None:
        lister = own = TopicLister(settings, max(interval * 3, 3.0))
    try:
        await _watch(state, ours, interval, lister, recover)
    finally:
        if own is not None:
            await own.close()


async def _watch(
    state: BrokerState,
    ours: set[str],
    interval: float,
    ask: Callable[[], Awaitable[set[str] | None]],
    recover: Callable[[], Awaitable[None]],
) -> None:
    while True:
        await asyncio.sleep(interval)
        present = await ask()
        was_lost = state.lost
        if not state.observe(present, ours):
            if state.lost and not was_lost:
                log.warning("broker unreachable; will rebuild topics and consumer when it is back")
            continue
        missing = sorted(ours - (present or set()))
        log.warning(
            "broker back or missing topics; creating topics and restarting the consumer",
            extra={"missing": missing[:20]},
        )
        try:
            await recover()
        except Exception as exc:
            log.warning("broker recovery failed; will retry", extra={"error": repr(exc)})
            continue
        state.recovered()
        log.info("broker recovery done")
