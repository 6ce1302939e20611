"""Retention: a periodic sweeper that deletes (or wipes) rows past their keep time, in small
batches, so that no table grows without bound and no sweep holds a lock for long.

A service lists its rules (`Rule`: a name, how long rows are kept, one batch statement) and
starts one `Sweeper` in its wiring. Each batch is its own short transaction that picks at most
`batch` rows with FOR UPDATE SKIP LOCKED, so a row a handler holds is simply left for the next
round. A rule's statement says which rows are old enough AND no longer needed; the rules of the
plumbing every service has (outbox, inbox, dead letters) are here, the others beside each
service's repository. The policy, table by table, is docs/RETENTION.md."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
from pydantic import Field
from pydantic_settings import BaseSettings

if TYPE_CHECKING:
    from booking_shared.service import Runtime

log = logging.getLogger(__name__)

DAY = 86400.0


class RetentionSettings(BaseSettings):
    """The sweeper and the plumbing tables' keep times (every service); services add their own."""

    retention_sweep_interval_s: float = Field(300.0, gt=0, description="Time between two sweeps.")
    retention_batch: int = Field(
        500, ge=1, le=100_000, description="Rows one batch statement touches at most."
    )
    retention_max_batches: int = Field(
        200, ge=1, description="Batches of one rule per sweep (the rest waits for the next sweep)."
    )
    retention_outbox_sent_s: float = Field(
        DAY,
        ge=0,
        description="A published outbox row is deleted this long after it was sent (unsent and "
        "parked rows are never deleted).",
    )
    retention_inbox_s: float = Field(
        7 * DAY,
        ge=0,
        description="An inbox row (a handled message id) is kept this long: longer than any "
        "redelivery (keep it above the topics' retention).",
    )
    retention_dead_letters_s: float = Field(
        30 * DAY, ge=0, description="A dead-letter record is kept this long."
    )


@dataclass(frozen=True)
class Rule:
    """One table's retention: `sql` touches at most $2 rows older than $1 seconds (that are no
    longer needed) and returns the usual status ("DELETE n" / "UPDATE n")."""

    name: str
    keep_s: float
    sql: str


def plumbing_rules(settings: RetentionSettings) -> list[Rule]:
    """Outbox rows once sent, inbox rows, dead letters: the tables every service has."""
    return [
        Rule(
            "outbox_sent",
            settings.retention_outbox_sent_s,
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NOT NULL"
            " AND sent_at < now() - make_interval(secs => $1) ORDER BY sent_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        ),
        Rule(
            "inbox",
            settings.retention_inbox_s,
            "DELETE FROM inbox WHERE (consumer, message_id) IN (SELECT consumer, message_id FROM inbox"
            " WHERE handled_at < now() - make_interval(secs => $1) ORDER BY handled_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        ),
        Rule(
            "dead_letters",
            settings.retention_dead_letters_s,
            "DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters"
            " WHERE created_at < now() - make_interval(secs => $1) ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        ),
    ]


def _count(status: str) -> int:
    """Rows a statement touched, from its status ("DELETE 3", "UPDATE 0")."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except (ValueError, IndexError):
        return 0


async def sweep_rule(pool: asyncpg.Pool, rule: Rule, batch: int, max_batches: int) -> int:
    """Run one rule batch by batch until a batch comes back short; return the rows touched."""
    total = 0
    for _ in range(max_batches):
        status = await pool.execute(rule.sql, rule.keep_s, batch)
        n = _count(status)
        total += n
        if n < batch:
            break
        await asyncio.sleep(0)  # let the service's own work in between two batches
    return total


async def sweep_once(
    pool: asyncpg.Pool, rules: Sequence[Rule], batch: int, max_batches: int
) -> dict[str, int]:
    """Every rule once; a rule that fails is logged and the others still run."""
    done: dict[str, int] = {}
    for rule in rules:
        started = time.monotonic()
        try:
            done[rule.name] = await sweep_rule(pool, rule, batch, max_batches)
        except Exception as exc:
            log.warning("retention sweep failed", extra={"rule": rule.name, "error": repr(exc)})
            continue
        if done[rule.name]:
            log.info(
                "retention sweep",
                extra={
                    "rule": rule.name,
                    "rows": done[rule.name],
                    "ms": round((time.monotonic() - started) * 1000),
                },
            )
    return done


class Sweeper:
    """Runs `sweep_once` every `retention_sweep_interval_s` (the first sweep soon after start)."""

    def __init__(
        self, pool: asyncpg.Pool, rules: Sequence[Rule], settings: RetentionSettings
    ) -> None:
        self.pool = pool
        self.rules = list(rules)
        self.settings = settings
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="retention-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def sweep(self) -> dict[str, int]:
        s = self.settings
        return await sweep_once(self.pool, self.rules, s.retention_batch, s.retention_max_batches)

    async def _run(self) -> None:
        await asyncio.sleep(min(5.0, self.settings.retention_sweep_interval_s))
        while True:
            await self.sweep()
            await asyncio.sleep(self.settings.retention_sweep_interval_s)


def start(rt: Runtime[Any], rules: Sequence[Rule] = ()) -> Sweeper:
    """Start a sweeper for the plumbing rules plus `rules` in a service's wiring; it stops with it."""
    return rt.start_worker(Sweeper(rt.pool, [*plumbing_rules(rt.settings), *rules], rt.settings))
