"""The 3-D Secure poll: a background task that asks Stripe about payments parked for the
person's authentication, so that a booking resumes even when the webhook never comes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from payment import handlers

log = logging.getLogger(__name__)


class ActionPoll:
    def __init__(
        self, deps: handlers.Deps, interval_s: float, on_commit: Callable[[], None]
    ) -> None:
        self.deps = deps
        self.interval_s = interval_s
        self.on_commit = on_commit
        self.moved = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="payment-action-poll")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def tick(self) -> int:
        n = await handlers.check_waiting_payments(self.deps)
        if n:
            self.moved += n
            self.on_commit()
        return n

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database or Stripe away: try again next time
                log.warning("3-D Secure poll failed", extra={"error": repr(exc)}, exc_info=True)
