"""The reconciler: a background task that sends again the requests the saga never answered
(handlers/reconcile.py), and chooses the card of the bookings accepted while the payment service
could not name it (handlers/card_wait.py). Its state is in Postgres, so any instance, or the
next one, goes on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

from gateway.config import Settings
from gateway.handlers import card_wait, reconcile
from gateway.ports import PaymentPort

log = logging.getLogger(__name__)


class Reconciler:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        on_commit: Callable[[], None],
        payment: PaymentPort | None = None,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.on_commit = on_commit
        self.payment = payment
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

    async def choose_cards(self) -> card_wait.Pass:
        if self.payment is None:
            return card_wait.Pass()
        s = self.settings
        done = await card_wait.resolve_once(
            self.pool,
            self.payment,
            max_wait_s=s.card_wait_max_s,
            producer=s.service_name,
            schema=s.db_schema,
        )
        if done.sent:
            self.on_commit()
        return done

    async def _run(self) -> None:
        while True:
            for step in (self.tick, self.choose_cards):
                try:
                    await step()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # database away: try again at the next tick
                    log.warning(
                        "reconciler step failed", extra={"step": step.__name__, "error": repr(exc)}
                    )
            await asyncio.sleep(self.settings.reconcile_interval_s)
