"""The reconciler: a background task that sends again the requests the saga never answered
(handlers/reconcile.py). Its state is in Postgres, so any instance, or the next one, goes on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

from gateway.config import Settings
from gateway.handlers import reconcile

log = logging.getLogger(__name__)


class Reconciler:
    def __init__(
        self, pool: asyncpg.Pool, settings: Settings, on_commit: Callable[[], None]
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.on_commit = on_commit
        self.resent = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gateway-reconciler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def tick(self) -> reconcile.Pass:
        s = self.settings
        done = await reconcile.reconcile_once(
            self.pool,
            after_s=s.reconcile_after_s,
            max_resends=s.reconcile_max_resends,
            producer=s.service_name,
            schema=s.db_schema,
        )
        if done.resent:
            self.resent += done.resent
            self.on_commit()  # the relay sends them now, not at its next poll
        return done

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database away: try again at the next tick
                log.warning("reconciler tick failed", extra={"error": repr(exc)})
            await asyncio.sleep(self.settings.reconcile_interval_s)
