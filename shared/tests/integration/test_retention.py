"""The retention sweeper against the real Postgres: old rows go, young and still-needed rows
stay, big backlogs go in batches, and a row someone holds is left for the next sweep."""

from __future__ import annotations

import asyncio
import secrets
import uuid

import pytest

from booking_shared import retention
from booking_shared.config import ServiceSettings
from booking_shared.db import prepare_database
from booking_shared.service import Runtime

HOUR = 3600.0


@pytest.fixture(scope="module")
async def pool(database_url: str, role_prefix: str):
    name = secrets.token_hex(3)
    settings = ServiceSettings(
        service_name=f"ret-{name}",
        database_url=database_url,
        db_schema=f"ret_{name}",
        db_role_prefix=role_prefix,
    )
    pool = await prepare_database(settings, None)
    yield pool
    await pool.close()


def settings(**kw) -> ServiceSettings:
    return ServiceSettings(
        retention_outbox_sent_s=HOUR, retention_inbox_s=HOUR, retention_dead_letters_s=HOUR, **kw
    )


async def outbox_row(
    pool, key: str, *, created_ago_s: float, sent_ago_s: float | None, parked: bool = False
) -> None:
    await pool.execute(
        "INSERT INTO outbox (topic, msg_key, headers, payload, created_at, sent_at, parked_at)"
        " VALUES ('t.v1', $1, '{}'::jsonb, '{}', now() - make_interval(secs => $2),"
        " CASE WHEN $3::float8 IS NULL THEN NULL ELSE now() - make_interval(secs => $3::float8) END,"
        " CASE WHEN $4 THEN now() END)",
        key,
        created_ago_s,
        sent_ago_s,
        parked,
    )


async def inbox_row(pool, consumer: str, *, ago_s: float) -> uuid.UUID:
    mid = uuid.uuid4()
    await pool.execute(
        "INSERT INTO inbox (consumer, message_id, topic, message_type, handled_at)"
        " VALUES ($1, $2, 't.v1', 'X', now() - make_interval(secs => $3))",
        consumer,
        mid,
        ago_s,
    )
    return mid


def test_a_statement_status_counts_its_rows():
    assert retention._count("DELETE 12") == 12
    assert retention._count("UPDATE 0") == 0
    assert retention._count("") == 0


async def test_only_outbox_rows_sent_long_ago_are_deleted(pool):
    key = secrets.token_hex(4)
    await outbox_row(pool, f"{key}-old-sent", created_ago_s=3 * HOUR, sent_ago_s=2 * HOUR)
    await outbox_row(pool, f"{key}-young-sent", created_ago_s=3 * HOUR, sent_ago_s=60)
    await outbox_row(pool, f"{key}-old-unsent", created_ago_s=3 * HOUR, sent_ago_s=None)
    await outbox_row(
        pool, f"{key}-old-parked", created_ago_s=3 * HOUR, sent_ago_s=None, parked=True
    )
    done = await retention.sweep_once(pool, retention.plumbing_rules(settings()), 100, 10)
    assert done["outbox_sent"] >= 1
    left = {
        r["msg_key"]
        for r in await pool.fetch("SELECT msg_key FROM outbox WHERE msg_key LIKE $1", f"{key}-%")
    }
    assert left == {f"{key}-young-sent", f"{key}-old-unsent", f"{key}-old-parked"}


async def test_inbox_rows_go_after_their_keep_time_and_young_ones_still_dedupe(pool):
    consumer = f"c-{secrets.token_hex(3)}"
    old = await inbox_row(pool, consumer, ago_s=2 * HOUR)
    young = await inbox_row(pool, consumer, ago_s=10)
    await retention.sweep_once(pool, retention.plumbing_rules(settings()), 100, 10)
    left = {
        r["message_id"]
        for r in await pool.fetch("SELECT message_id FROM inbox WHERE consumer = $1", consumer)
    }
    assert left == {young}
    assert old not in left


async def test_dead_letters_go_after_their_keep_time(pool):
    consumer = f"c-{secrets.token_hex(3)}"
    for ago in (2 * HOUR, 10):
        await pool.execute(
            "INSERT INTO dead_letters (consumer, topic, attempts, error, created_at)"
            " VALUES ($1, 't', 3, 'boom', now() - make_interval(secs => $2))",
            consumer,
            ago,
        )
    await retention.sweep_once(pool, retention.plumbing_rules(settings()), 100, 10)
    assert (
        await pool.fetchval("SELECT count(*) FROM dead_letters WHERE consumer = $1", consumer) == 1
    )


async def test_a_backlog_goes_in_small_batches_and_at_most_max_batches_per_sweep(pool):
    consumer = f"c-{secrets.token_hex(3)}"
    await pool.execute(
        "INSERT INTO inbox (consumer, message_id, topic, message_type, handled_at)"
        " SELECT $1, gen_random_uuid(), 't', 'X', now() - interval '2 hours' FROM generate_series(1, 25)",
        consumer,
    )
    rule = next(r for r in retention.plumbing_rules(settings()) if r.name == "inbox")
    # 3 batches of 4: 12 rows this sweep, the rest next time.
    assert await retention.sweep_rule(pool, rule, batch=4, max_batches=3) == 12
    assert await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", consumer) == 13
    assert await retention.sweep_rule(pool, rule, batch=4, max_batches=100) >= 13
    assert await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", consumer) == 0


async def test_a_row_held_by_a_transaction_is_skipped_not_waited_for(pool):
    consumer = f"c-{secrets.token_hex(3)}"
    held = await inbox_row(pool, consumer, ago_s=2 * HOUR)
    free = await inbox_row(pool, consumer, ago_s=2 * HOUR)
    rule = next(r for r in retention.plumbing_rules(settings()) if r.name == "inbox")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT 1 FROM inbox WHERE consumer = $1 AND message_id = $2 FOR UPDATE", consumer, held
        )
        await asyncio.wait_for(retention.sweep_rule(pool, rule, batch=100, max_batches=10), 5)
        left = {
            r["message_id"]
            for r in await pool.fetch("SELECT message_id FROM inbox WHERE consumer = $1", consumer)
        }
        assert left == {held}
    assert free not in left
    await retention.sweep_rule(pool, rule, batch=100, max_batches=10)
    assert await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", consumer) == 0


async def test_a_failing_rule_is_logged_and_the_others_still_run(pool, caplog):
    consumer = f"c-{secrets.token_hex(3)}"
    await inbox_row(pool, consumer, ago_s=2 * HOUR)
    broken = retention.Rule(
        "broken", 1.0, "DELETE FROM no_such_table WHERE $1::float8 > 0 AND $2::int > 0"
    )
    done = await retention.sweep_once(
        pool, [broken, *retention.plumbing_rules(settings())], 100, 10
    )
    assert "broken" not in done and done["inbox"] >= 1
    assert any(
        "retention sweep failed" in r.getMessage() and getattr(r, "rule", "") == "broken"
        for r in caplog.records
    )


async def test_the_sweeper_runs_in_the_service_and_stops_with_it(pool):
    consumer = f"c-{secrets.token_hex(3)}"
    await inbox_row(pool, consumer, ago_s=2 * HOUR)

    rt: Runtime[None] = Runtime(
        settings=settings(retention_sweep_interval_s=0.1),
        pool=pool,
        broker=None,  # type: ignore[arg-type]  # the sweeper needs only the pool and settings
        router=None,  # type: ignore[arg-type]
        relay=None,  # type: ignore[arg-type]
        pacer=None,  # type: ignore[arg-type]
    )
    sweeper = retention.start(rt)
    assert rt.worker(retention.Sweeper) is sweeper  # stop_runtime stops every worker

    async def gone() -> bool:
        return await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", consumer) == 0

    for _ in range(100):
        if await gone():
            break
        await asyncio.sleep(0.1)
    assert await gone()
    for worker in rt.workers:
        await worker.stop()
    assert sweeper._task is not None and sweeper._task.done()
