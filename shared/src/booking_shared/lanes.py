"""Handling different bookings at once, one booking's messages in order, and offsets committed
only behind what is done.

A service's consumer reads its partitions in order; handled one record at a time, a slow
partner or a slow Stripe answer holds up every booking behind it. `Lanes` runs each record in
the lane of its key (the booking id every message is keyed by): records of one key run one
after another, in the order read; records of different keys run at once, up to a limit (the
consumer stops reading while the limit is reached).

Because records finish out of order, the consumer's position is no longer what is done.
`OffsetBook` keeps, per partition, the offsets read and not yet finished; what may be committed
is the lowest of them (or, when none is left, the one after the last read). A crash then
re-reads at most what was in flight, and the inbox makes a record read again harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

P = TypeVar("P", bound=Hashable)


@dataclass
class Stretch:
    """The offsets of one partition read since the consumer last started reading it there."""

    last: int
    pending: set[int] = field(default_factory=set)

    @property
    def point(self) -> int:
        """Where a consumer of the group may resume: nothing before it is still unfinished."""
        return min(self.pending) if self.pending else self.last + 1

    def done(self, offset: int) -> None:
        self.pending.discard(offset)


class OffsetBook(Generic[P]):
    """What may be committed, per partition (any hashable: aiokafka's TopicPartition)."""

    def __init__(self) -> None:
        self._stretches: dict[P, Stretch] = {}
        self._committed: dict[P, int] = {}

    def read(self, partition: P, offset: int) -> Stretch:
        """A record read; finish it with `.done(offset)` on what this returns. An offset at or
        before the last one read means the consumer went back (a rebalance gave the partition
        back from its committed offset; the broker lost its log): a new stretch starts, and what
        is still running from the old one no longer holds the commit point back (its records
        are read again)."""
        stretch = self._stretches.get(partition)
        if stretch is None or offset <= stretch.last:
            stretch = self._stretches[partition] = Stretch(last=offset)
        stretch.last = offset
        stretch.pending.add(offset)
        return stretch

    def due(self, assigned: Iterable[P] | None = None) -> dict[P, int]:
        """Commit points that moved since they were last committed, for the partitions given
        (those the consumer holds now; a commit for another is refused by the group)."""
        keep = None if assigned is None else set(assigned)
        return {
            p: s.point
            for p, s in self._stretches.items()
            if (keep is None or p in keep) and self._committed.get(p) != s.point
        }

    def committed(self, points: dict[P, int]) -> None:
        self._committed.update(points)

    def drop(self, partitions: Iterable[P]) -> None:
        """Forget these partitions (the group took them away, or gave them anew: the consumer
        then reads them from the group's committed offset, and what this book knew of them is
        stale; after a broker that lost its log, dangerously so: its offsets are past the new
        log's end, and committing them would skip what the new log holds)."""
        for p in partitions:
            self._stretches.pop(p, None)
            self._committed.pop(p, None)

    def in_flight(self) -> int:
        return sum(len(s.pending) for s in self._stretches.values())


class Lanes:
    """Runs work in per-key order, different keys at once, at most `limit` pieces of work
    admitted at a time (waiting ones included): `submit` waits for room. `on_change`, if given,
    is told how many are admitted each time that changes (e.g. to set a gauge)."""

    def __init__(self, limit: int, on_change: Callable[[int], None] | None = None) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._room = asyncio.Semaphore(limit)
        self._tails: dict[Hashable, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._on_change = on_change
        self._closed = False

    def __len__(self) -> int:
        return len(self._tasks)

    async def submit(self, key: Hashable, work: Callable[[], Awaitable[None]]) -> bool:
        """Admit `work`, to run after every earlier work of the same key has finished. Returns
        once admitted, not when done; False if the lanes were cancelled meanwhile (`work` will
        not run). `work` should not raise; if it does, the next work of the key runs anyway."""
        await self._room.acquire()
        if self._closed:
            self._room.release()
            return False
        before = self._tails.get(key)
        task = asyncio.create_task(self._run(before, work))
        self._tails[key] = task
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._finished(key, t))
        if self._on_change is not None:
            self._on_change(len(self._tasks))
        return True

    async def _run(
        self, before: asyncio.Task[None] | None, work: Callable[[], Awaitable[None]]
    ) -> None:
        try:
            if before is not None:
                await asyncio.wait([before])
            await work()
        finally:
            self._room.release()

    def _finished(self, key: Hashable, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._tails.get(key) is task:
            del self._tails[key]
        if self._on_change is not None:
            self._on_change(len(self._tasks))

    async def drain(self, timeout: float) -> bool:
        """Wait for the admitted work; True if it all finished within `timeout` s."""
        if not self._tasks:
            return True
        _, running = await asyncio.wait(set(self._tasks), timeout=timeout)
        return not running

    async def cancel(self) -> None:
        """Stop whatever is still running (its records were not committed: read again later),
        and admit nothing more."""
        self._closed = True
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
