"""Outbox, inbox and dead letters against the real Postgres and the real broker."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from booking_shared import outbox
from booking_shared.contracts import Envelope, SagaStateChanged
from booking_shared.contracts.topics import dlq
from booking_shared.db import prepare_database, provision
from booking_shared.devstack import infra
from booking_shared.messaging import ensure_topics
from booking_shared.outbox import OutboxRelay
from booking_shared.testing.plugin import TEST_STATE, wait_for

from .conftest import plumbing_settings


def state(booking_id: str, to: str) -> SagaStateChanged:
    return SagaStateChanged(booking_id=booking_id, from_state=None, to_state=to)


async def put(p, booking_id: str, to: str, conn=None) -> Envelope:
    async def write(c):
        return await outbox.enqueue(
            c, p.topic, state(booking_id, to), producer=p.settings.service_name, schema=p.settings.db_schema
        )

    if conn is not None:
        return await write(conn)
    async with p.pool.acquire() as c, c.transaction():
        return await write(c)


async def test_a_message_written_in_a_rolled_back_transaction_is_never_published(plumbing, relay_for):
    bid = f"bk_{secrets.token_hex(4)}"
    with pytest.raises(RuntimeError):
        async with plumbing.pool.acquire() as c, c.transaction():
            await put(plumbing, bid, "ROLLED_BACK", conn=c)
            raise RuntimeError("the state change failed")
    await put(plumbing, bid, "COMMITTED")
    relay_for().start()
    await wait_for(lambda: plumbing.effects(bid), what="the committed message")
    await asyncio.sleep(0.5)  # give a wrongly published row time to show up
    assert await plumbing.effects(bid) == ["COMMITTED"]
    rows = await plumbing.pool.fetchval("SELECT count(*) FROM outbox WHERE msg_key = $1", bid)
    assert rows == 1


class CrashAfterPublish(OutboxRelay):
    """A relay that dies after the broker took the batch but before marking it sent."""

    crashed = 0

    async def _mark_sent(self, conn, ids):
        if CrashAfterPublish.crashed == 0:
            CrashAfterPublish.crashed += 1
            raise ConnectionError("killed between publish and mark-sent")
        await super()._mark_sent(conn, ids)


async def test_a_relay_killed_before_mark_sent_republishes_and_the_inbox_drops_the_duplicate(plumbing, relay_for):
    bid = f"bk_{secrets.token_hex(4)}"
    env = await put(plumbing, bid, "ONCE")
    relay_for(CrashAfterPublish).start()
    # The row is published, the relay "dies", restarts, publishes it again, then marks it.
    await wait_for(
        lambda: plumbing.pool.fetchval("SELECT sent_at IS NOT NULL FROM outbox WHERE msg_key = $1", bid),
        what="the row marked sent after the restart",
    )
    await wait_for(
        lambda: [o for b, o in plumbing.outcomes if b == bid and o == "duplicate"], what="the duplicate delivery"
    )
    assert CrashAfterPublish.crashed == 1
    assert await plumbing.effects(bid) == ["ONCE"]
    handled = await plumbing.pool.fetchval("SELECT count(*) FROM inbox WHERE message_id = $1", env.message_id)
    assert handled == 1


async def test_messages_with_the_same_key_arrive_in_order(plumbing, relay_for):
    bid = f"bk_{secrets.token_hex(4)}"
    expected = [f"S{i:02d}" for i in range(60)]
    for s in expected[:30]:
        await put(plumbing, bid, s)
    relay_for().start()
    for s in expected[30:]:  # some written while the relay runs
        await put(plumbing, bid, s)
    await wait_for(lambda: _len_is(plumbing, bid, 60), what="all 60 messages")
    assert await plumbing.effects(bid) == expected


async def _len_is(p, bid, n):
    return len(await p.effects(bid)) == n


async def test_a_poison_message_goes_to_the_dlq_after_n_tries_and_the_partition_keeps_flowing(
    plumbing, relay_for, kafka_bootstrap
):
    bid = f"bk_{secrets.token_hex(4)}"
    await put(plumbing, bid, "BEFORE")
    poison = await put(plumbing, bid, "POISON")
    await put(plumbing, bid, "AFTER")
    relay_for().start()
    await wait_for(lambda: _len_is(plumbing, bid, 2), what="the messages around the poison one")
    assert await plumbing.effects(bid) == ["BEFORE", "AFTER"]
    dead = await plumbing.pool.fetchrow("SELECT * FROM dead_letters WHERE message_id = $1", str(poison.message_id))
    assert dead["attempts"] == plumbing.settings.consumer_max_attempts
    assert "always fails" in dead["error"]

    records = await _read_all(kafka_bootstrap, dlq(plumbing.topic), lambda r: r.key == bid.encode())
    assert len(records) == 1
    headers = dict(records[0].headers)
    assert headers["message_id"].decode() == str(poison.message_id)
    assert b"always fails" in headers["dlq_error"]
    assert headers["dlq_attempts"] == b"3"


async def test_a_body_that_is_not_json_goes_to_the_dlq_without_blocking(plumbing, relay_for, kafka_bootstrap):
    bid = f"bk_{secrets.token_hex(4)}"
    env = Envelope.new("SagaStateChanged", correlation_id=bid, producer="test")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(plumbing.topic, b"{not json", key=bid.encode(), headers=env.to_headers())
    finally:
        await producer.stop()
    await put(plumbing, bid, "NEXT")
    relay_for().start()
    await wait_for(lambda: plumbing.effects(bid), what="the message after the garbage")
    dead = await wait_for(
        lambda: plumbing.pool.fetchrow("SELECT * FROM dead_letters WHERE message_id = $1", str(env.message_id)),
        what="the dead letter row",
    )
    assert "invalid SagaStateChanged" in dead["error"]


async def _read_all(bootstrap: str, topic: str, keep, timeout: float = 10.0) -> list:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    out = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for recs in batch.values():
                out += [r for r in recs if keep(r)]
            if out and not batch:
                break
    finally:
        await consumer.stop()
    return out


async def test_the_relay_catches_up_after_the_broker_was_down(database_url, role_prefix):
    # A broker of its own, so that stopping it does not disturb the other tests.
    port = infra.free_port()
    broker = infra.start_tansu(port, TEST_STATE)
    bootstrap = f"127.0.0.1:{port}"
    name = secrets.token_hex(3)
    settings = plumbing_settings(database_url, bootstrap, role_prefix, name)
    topic = f"plumb.{name}.v1"
    pool = await prepare_database(settings, None)
    relay = OutboxRelay(pool, settings)
    try:
        await ensure_topics(settings, [topic])
        relay.start()
        broker.stop()  # the broker goes away (and, in memory, forgets everything)
        for i in range(20):
            async with pool.acquire() as c, c.transaction():
                await outbox.enqueue(c, topic, state("bk_x", f"S{i:02d}"), producer="t", schema=settings.db_schema)
        await asyncio.sleep(1.5)
        assert await relay.pending() == 20
        broker = infra.start_tansu(port, TEST_STATE)
        await ensure_topics(settings, [topic])
        await wait_for(lambda: _pending_is(relay, 0), timeout=30, what="the relay to drain the outbox")
        records = await _read_all(bootstrap, topic, lambda r: True)
        got = [SagaStateChanged.model_validate_json(r.value).to_state for r in records]
        assert got == [f"S{i:02d}" for i in range(20)]
    finally:
        await relay.stop()
        await pool.close()
        broker.stop()


async def _pending_is(relay, n):
    return await relay.pending() == n


async def test_a_service_role_cannot_read_another_services_schema(database_url, role_prefix, kafka_bootstrap):
    a = plumbing_settings(database_url, kafka_bootstrap, role_prefix, "iso_a" + secrets.token_hex(2))
    b = plumbing_settings(database_url, kafka_bootstrap, role_prefix, "iso_b" + secrets.token_hex(2))
    pool_a = await prepare_database(a, None)
    pool_b = await prepare_database(b, None)
    try:
        await pool_b.execute("SELECT count(*) FROM outbox")  # its own: fine
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pool_a.fetch(f"SELECT * FROM {b.db_schema}.outbox")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pool_a.execute(f"CREATE TABLE {b.db_schema}.intruder (x int)")
        # provisioning twice is harmless
        await provision(a.database_url, a.db_schema, a.db_role, a.db_password)
    finally:
        await pool_a.close()
        await pool_b.close()
