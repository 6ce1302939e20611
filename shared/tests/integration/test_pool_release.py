"""Pooled connections skip asyncpg's reset query on release; nothing of ours leaks through that:
an unfinished transaction is rolled back, and the outbox relay hands its leadership over."""

from __future__ import annotations

import secrets

import pytest

from booking_shared.config import ServiceSettings
from booking_shared.db import prepare_database
from booking_shared.outbox import OutboxRelay
from booking_shared.testing.plugin import wait_for


@pytest.fixture
def settings(database_url, role_prefix, kafka_bootstrap):
    name = secrets.token_hex(3)
    return ServiceSettings(
        service_name=f"pool-{name}",
        database_url=database_url,
        db_schema=f"pool_{name}",
        db_role_prefix=role_prefix,
        kafka_bootstrap_servers=kafka_bootstrap,
        db_pool_min=1,
        db_pool_max=1,
        outbox_poll_interval_s=0.1,
    )


@pytest.fixture
async def pool(settings):
    p = await prepare_database(settings, None)
    yield p
    await p.close()


async def test_a_connection_released_inside_a_transaction_comes_back_clean(pool):
    async with pool.acquire() as conn:
        await conn.execute("BEGIN")
        await conn.execute("CREATE TEMP TABLE left_behind (x int)")
    async with pool.acquire() as conn:  # the same one: the pool holds one
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT to_regclass('pg_temp.left_behind')") is None


async def test_a_stopped_relay_leaves_no_lock_on_its_pooled_connection(pool, settings):
    first = OutboxRelay(pool, settings)
    first.start()
    await wait_for(lambda: first.is_leader, what="the first relay to lead")
    await first.stop()
    async with pool.acquire() as conn:  # the relay's own connection, back in the pool
        held = await conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        listening = await conn.fetchval("SELECT count(*) FROM pg_listening_channels()")
    assert (held, listening) == (0, 0)
    second = OutboxRelay(pool, settings)
    second.start()
    try:
        await wait_for(lambda: second.is_leader, what="the second relay to lead")
    finally:
        await second.stop()
