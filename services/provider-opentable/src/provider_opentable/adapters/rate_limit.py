"""A token bucket for outgoing partner calls: callers over the rate wait their turn, none fail."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    """`rate` tokens a second, up to `burst` saved. acquire() never fails: it sleeps off the debt.

    Each caller books its token at once (the balance may go negative) and then sleeps until
    that token exists, so callers are served in arrival order without a lock.
    """

    def __init__(
        self,
        rate: float | None,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.rate = rate if rate and rate > 0 else None
        self.capacity = float(burst) if burst else max(1.0, float(rate or 1))
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()

    async def acquire(self) -> None:
        if self.rate is None:
            return
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._tokens -= 1
        if self._tokens < 0:
            await self._sleep(-self._tokens / self.rate)
