"""The deadline worker: a background task that fires due deadlines through the saga function.
Deadlines live in Postgres, so a restart (or another instance) picks up where this one was."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

from orchestrator import handlers
from orchestrator.handlers import Deps

log = logging.getLogger(__name__)


class DeadlineWorker:
    def __init__(
        self, pool: asyncpg.Pool, deps: Deps, interval_s: float, on_commit: Callable[[], None]
    ) -> None:
        self.pool = pool
        self.deps = deps
        self.interval_s = interval_s
        self.on_commit = on_commit
        self.fired = 0
        self._skip: dict = {}
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="orchestrator-deadlines")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def tick(self) -> int:
        n = await handlers.fire_due_deadlines(self.pool, self.deps, skip=self._skip)
        if n:
            self.fired += n
            self.on_commit()
        return n

    async def _run(self) -> None:
        while True:
            try:
                n = await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database away, or a bug in one saga: keep the others going
                log.warning(
                    "deadline worker tick failed", extra={"error": repr(exc)}, exc_info=True
                )
                n = 0
            if n < 100:
                await asyncio.sleep(self.interval_s)
