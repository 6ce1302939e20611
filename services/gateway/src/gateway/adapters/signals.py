"""One LISTEN connection per process fans booking NOTIFYs out to the SSE streams that wait on
them; streams also poll, so a lost connection only slows them down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterator

import asyncpg

from booking_shared.db import Connection

log = logging.getLogger(__name__)


class BookingSignals:
    def __init__(
        self, dsn: str | None, channel: str, server_settings: dict[str, str] | None = None
    ) -> None:
        self.dsn = dsn
        self.channel = channel
        self.server_settings = server_settings or {}
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._conn: Connection | None = None

    async def start(self) -> None:
        if self.dsn is None:
            return
        try:
            self._conn = await asyncpg.connect(self.dsn, server_settings=self.server_settings)
            await self._conn.add_listener(self.channel, self._on_notify)
        except Exception as exc:  # streams still poll
            log.warning(
                "booking signals unavailable; SSE falls back to polling", extra={"error": repr(exc)}
            )
            self._conn = None

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        self.notify(str(payload))

    def notify(self, booking_id: str) -> None:
        for ev in self._waiters.get(booking_id, ()):
            ev.set()

    @contextlib.contextmanager
    def subscribe(self, booking_id: str) -> Iterator[asyncio.Event]:
        """An Event set whenever the booking's timeline grows (clear it before each read)."""
        ev = asyncio.Event()
        self._waiters[booking_id].add(ev)
        try:
            yield ev
        finally:
            waiters = self._waiters.get(booking_id)
            if waiters is not None:
                waiters.discard(ev)
                if not waiters:
                    self._waiters.pop(booking_id, None)
