"""Outbox, inbox and dead letters against the real Postgres and the real broker."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import MessageSizeTooLargeError, UnknownTopicOrPartitionError

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
            c,
            p.topic,
            state(booking_id, to),
            producer=p.settings.service_name,
            schema=p.settings.db_schema,
        )

    if conn is not None:
        return await write(conn)
    async with p.pool.acquire() as c, c.transaction():
        return await write(c)


async def test_a_message_written_in_a_rolled_back_transaction_is_never_published(
    plumbing, relay_for
):
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


async def test_with_three_copies_every_row_is_delivered_three_times_and_handled_once(
    plumbing, relay_for
):
    """The chaos setting OUTBOX_PUBLISH_COPIES (dev/test only): each message reaches the
    consumer three times, and the inbox makes the second and third deliveries no-ops."""
    bid = f"bk_{secrets.token_hex(4)}"
    await put(plumbing, bid, "THRICE")
    relay_for(settings=plumbing.settings.model_copy(update={"outbox_publish_copies": 3})).start()
    await wait_for(
        lambda: len([o for b, o in plumbing.outcomes if b == bid]) >= 3, what="three deliveries"
    )
    await asyncio.sleep(0.3)
    assert sorted(o for b, o in plumbing.outcomes if b == bid) == [
        "duplicate",
        "duplicate",
        "handled",
    ]
    assert await plumbing.effects(bid) == ["THRICE"]
    assert (
        await plumbing.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE msg_key = $1 AND sent_at IS NOT NULL", bid
        )
        == 1
    )


async def test_after_a_broker_loss_recent_rows_are_published_again_and_handled_once(
    plumbing, relay_for
):
    """A message published just before the broker lost its data may never have been read:
    replay_recent publishes what was sent in the window again, and the inbox drops the copy
    of what was handled; rows sent before the window are not resent."""
    old, recent = f"bk_{secrets.token_hex(4)}", f"bk_{secrets.token_hex(4)}"
    await put(plumbing, old, "OLD")
    await put(plumbing, recent, "RECENT")
    relay = relay_for()
    relay.start()
    await wait_for(lambda: plumbing.effects(recent), what="the first delivery")
    await wait_for(lambda: plumbing.effects(old), what="the first delivery")
    await plumbing.pool.execute(
        "UPDATE outbox SET sent_at = now() - interval '10 minutes' WHERE msg_key = $1", old
    )
    assert (
        await relay.replay_recent(60) >= 1
    )  # this test's recent row, and any other test's in the window
    await wait_for(
        lambda: [o for b, o in plumbing.outcomes if b == recent and o == "duplicate"],
        what="the replayed copy",
    )
    await asyncio.sleep(0.5)
    assert await plumbing.effects(recent) == ["RECENT"]
    assert [o for b, o in plumbing.outcomes if b == old] == ["handled"]
    assert (
        await plumbing.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE msg_key = $1 AND sent_at IS NULL", recent
        )
        == 0
    )


class CrashAfterPublish(OutboxRelay):
    """A relay that dies after the broker took the batch but before marking it sent."""

    crashed = 0

    async def _mark_sent(self, conn, ids):
        if CrashAfterPublish.crashed == 0:
            CrashAfterPublish.crashed += 1
            raise ConnectionError("killed between publish and mark-sent")
        await super()._mark_sent(conn, ids)


async def test_a_relay_killed_before_mark_sent_republishes_and_the_inbox_drops_the_duplicate(
    plumbing, relay_for
):
    bid = f"bk_{secrets.token_hex(4)}"
    env = await put(plumbing, bid, "ONCE")
    relay_for(CrashAfterPublish).start()
    # The row is published, the relay "dies", restarts, publishes it again, then marks it.
    await wait_for(
        lambda: plumbing.pool.fetchval(
            "SELECT sent_at IS NOT NULL FROM outbox WHERE msg_key = $1", bid
        ),
        what="the row marked sent after the restart",
    )
    await wait_for(
        lambda: [o for b, o in plumbing.outcomes if b == bid and o == "duplicate"],
        what="the duplicate delivery",
    )
    assert CrashAfterPublish.crashed == 1
    assert await plumbing.effects(bid) == ["ONCE"]
    handled = await plumbing.pool.fetchval(
        "SELECT count(*) FROM inbox WHERE message_id = $1", env.message_id
    )
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
    dead = await plumbing.pool.fetchrow(
        "SELECT * FROM dead_letters WHERE message_id = $1", str(poison.message_id)
    )
    assert dead["attempts"] == plumbing.settings.consumer_max_attempts
    assert "always fails" in dead["error"]

    records = await _read_all(kafka_bootstrap, dlq(plumbing.topic), lambda r: r.key == bid.encode())
    assert len(records) == 1
    headers = dict(records[0].headers)
    assert headers["message_id"].decode() == str(poison.message_id)
    assert b"always fails" in headers["dlq_error"]
    assert headers["dlq_attempts"] == b"3"


async def test_a_body_that_is_not_json_goes_to_the_dlq_without_blocking(
    plumbing, relay_for, kafka_bootstrap
):
    bid = f"bk_{secrets.token_hex(4)}"
    env = Envelope.new("SagaStateChanged", correlation_id=bid, producer="test")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(
            plumbing.topic, b"{not json", key=bid.encode(), headers=env.to_headers()
        )
    finally:
        await producer.stop()
    await put(plumbing, bid, "NEXT")
    relay_for().start()
    await wait_for(lambda: plumbing.effects(bid), what="the message after the garbage")
    dead = await wait_for(
        lambda: plumbing.pool.fetchrow(
            "SELECT * FROM dead_letters WHERE message_id = $1", str(env.message_id)
        ),
        what="the dead letter row",
    )
    assert "invalid SagaStateChanged" in dead["error"]


async def test_records_with_nul_bytes_go_to_the_dlq_without_blocking(
    plumbing, relay_for, kafka_bootstrap
):
    """Postgres text and jsonb refuse the NUL character: a record carrying one (in its body, in
    a header, with or without an envelope) is still dead-lettered, and the partition goes on."""
    bid = f"bk_{secrets.token_hex(4)}"
    env = Envelope.new("SagaStateChanged", correlation_id=bid, producer="test")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(plumbing.topic, b"\x00\xffnot json{", key=bid.encode())
        await producer.send_and_wait(
            plumbing.topic,
            b'{"to_state": "\x00"',
            key=bid.encode(),
            headers=[*env.to_headers(), ("note", b"a\x00b")],
        )
        # A well-formed message of a booking id with a NUL in it: its handler fails (the
        # database refuses the id), and so would its dead letter, keyed by that id.
        bad = Envelope.new("SagaStateChanged", correlation_id=f"{bid}\x00", producer="test")
        await producer.send_and_wait(
            plumbing.topic,
            state(f"{bid}\x00", "NUL").model_dump_json().encode(),
            key=bid.encode(),
            headers=bad.to_headers(),
        )
    finally:
        await producer.stop()
    await put(plumbing, bid, "NEXT")
    relay_for().start()
    await wait_for(
        lambda: plumbing.effects(bid), timeout=20, what="the message after the two NUL records"
    )
    assert await plumbing.effects(bid) == ["NEXT"]
    dead = await plumbing.pool.fetch(
        "SELECT * FROM dead_letters WHERE topic = $1 AND (message_id = $2 OR message_id IS NULL)",
        plumbing.topic,
        str(env.message_id),
    )
    assert len(dead) >= 2 and {d["message_id"] for d in dead} >= {None, str(env.message_id)}
    assert (
        await wait_for(
            lambda: plumbing.pool.fetchval(
                "SELECT count(*) FROM dead_letters WHERE message_id = $1", str(bad.message_id)
            ),
            what="the dead letter of the NUL booking id",
        )
        == 1
    )
    records = await _read_all(kafka_bootstrap, dlq(plumbing.topic), lambda r: True)
    assert any(b"not json" in (r.value or b"") for r in records)


async def _read_all(bootstrap: str, topic: str, keep, timeout: float = 10.0) -> list:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
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
                await outbox.enqueue(
                    c, topic, state("bk_x", f"S{i:02d}"), producer="t", schema=settings.db_schema
                )
        await asyncio.sleep(1.5)
        assert await relay.pending() == 20
        broker = infra.start_tansu(port, TEST_STATE)
        await ensure_topics(settings, [topic])
        await wait_for(
            lambda: _pending_is(relay, 0), timeout=30, what="the relay to drain the outbox"
        )
        records = await _read_all(bootstrap, topic, lambda r: True)
        got = [SagaStateChanged.model_validate_json(r.value).to_state for r in records]
        assert got == [f"S{i:02d}" for i in range(20)]
        # A broker away is no fault of the rows: none was counted against or parked.
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL") == 0
    finally:
        await relay.stop()
        await pool.close()
        broker.stop()


async def _pending_is(relay, n):
    return await relay.pending() == n


async def test_a_service_role_cannot_read_another_services_schema(
    database_url, role_prefix, kafka_bootstrap
):
    a = plumbing_settings(
        database_url, kafka_bootstrap, role_prefix, "iso_a" + secrets.token_hex(2)
    )
    b = plumbing_settings(
        database_url, kafka_bootstrap, role_prefix, "iso_b" + secrets.token_hex(2)
    )
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


async def _count(records: list, to_state: str) -> int:
    return sum(
        1 for r in records if SagaStateChanged.model_validate_json(r.value).to_state == to_state
    )


async def test_a_row_the_broker_refuses_is_parked_and_neither_repeats_nor_blocks_the_others(
    plumbing, relay_for, kafka_bootstrap
):
    """A record too large makes producer.send() itself raise: the rows before it are published
    once, later rows of other keys flow at once, later rows of its own key wait until it is
    parked, with its error, for operators."""
    u = secrets.token_hex(4)
    ka, kb, kc = f"bk_a{u}", f"bk_b{u}", f"bk_c{u}"
    await put(plumbing, ka, "A1")
    await put(plumbing, ka, "A2")
    async with plumbing.pool.acquire() as c, c.transaction():
        env = Envelope.new("SagaStateChanged", correlation_id=kb, producer="test")
        big = state(kb, "B1").model_dump_json().replace('"B1"', '"' + "B" * 2_000_000 + '"')
        await outbox.enqueue_raw(
            c,
            plumbing.topic,
            kb,
            [(k, v.decode()) for k, v in env.to_headers()],
            big,
            schema=plumbing.settings.db_schema,
        )
    await put(plumbing, kb, "B2")
    await put(plumbing, kc, "C1")
    settings = plumbing.settings.model_copy(
        update={"outbox_max_attempts": 3, "outbox_retry_backoff_s": 0.1}
    )
    relay = relay_for(settings=settings)
    relay.start()

    await wait_for(lambda: plumbing.effects(kc), what="a row of another key, not held back")
    await wait_for(lambda: plumbing.effects(kb), timeout=20, what="the row after the parked one")
    big_row = await plumbing.pool.fetchrow(
        "SELECT * FROM outbox WHERE msg_key = $1 AND length(payload) > 1000000", kb
    )
    assert big_row["parked_at"] is not None and big_row["sent_at"] is None
    assert big_row["attempts"] == 3
    assert "MessageSizeTooLarge" in big_row["last_error"]
    b2_sent = await plumbing.pool.fetchval(
        "SELECT sent_at FROM outbox WHERE msg_key = $1 AND length(payload) < 1000000", kb
    )
    assert b2_sent >= big_row["parked_at"], "B2 overtook B1 before B1 was given up"
    assert await plumbing.effects(ka) == ["A1", "A2"]
    assert await plumbing.effects(kb) == ["B2"]

    # Published once each: the rows before the refused one were marked sent, not sent again.
    records = await _read_all(
        kafka_bootstrap, plumbing.topic, lambda r: r.key in (ka.encode(), kb.encode())
    )
    assert [await _count(records, s) for s in ("A1", "A2", "B2")] == [1, 1, 1]

    total, parked = await relay.parked()
    assert [p["id"] for p in parked if p["msg_key"] == kb] == [big_row["id"]]
    assert total >= 1
    assert (
        await plumbing.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE msg_key = ANY($1::text[]) AND sent_at IS NULL AND parked_at IS NULL",
            [ka, kb, kc],
        )
        == 0
    )


class KafkaWithoutAutoCreate(AIOKafkaProducer):
    """The producer as production's Kafka treats it (auto.create.topics.enable=false): a topic
    that does not exist makes send() raise instead of springing into being."""

    async def send(self, topic, *args, **kw):  # type: ignore[no-untyped-def]
        if topic not in await _topics(self._bootstrap):
            raise UnknownTopicOrPartitionError()
        return await super().send(topic, *args, **kw)

    _bootstrap = ""


async def _topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_a_missing_topic_is_created_by_the_relay_and_its_rows_then_published(
    plumbing, relay_for, kafka_bootstrap
):
    bid = f"bk_{secrets.token_hex(4)}"
    topic = f"plumb.new{secrets.token_hex(3)}.v1"
    async with plumbing.pool.acquire() as c, c.transaction():
        await outbox.enqueue(
            c, topic, state(bid, "FIRST"), producer="t", schema=plumbing.settings.db_schema
        )
    await put(plumbing, bid, "ON_THE_KNOWN_TOPIC")

    def factory():  # type: ignore[no-untyped-def]
        p = KafkaWithoutAutoCreate(
            bootstrap_servers=kafka_bootstrap, enable_idempotence=False, linger_ms=0
        )
        p._bootstrap = kafka_bootstrap
        return p

    settings = plumbing.settings.model_copy(update={"outbox_retry_backoff_s": 0.1})
    relay_for(settings=settings, producer_factory=factory).start()
    await wait_for(lambda: plumbing.effects(bid), what="the row on a topic that exists")
    await wait_for(
        lambda: plumbing.pool.fetchval(
            "SELECT sent_at IS NOT NULL FROM outbox WHERE topic = $1", topic
        ),
        timeout=20,
        what="the row on the new topic, once the relay created it",
    )
    row = await plumbing.pool.fetchrow(
        "SELECT attempts, last_error, parked_at FROM outbox WHERE topic = $1", topic
    )
    assert row["attempts"] == 1 and row["parked_at"] is None
    assert f"topic {topic} did not exist; created it" in row["last_error"]
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert len(described[0]["partitions"]) == plumbing.settings.kafka_partitions
    records = await _read_all(kafka_bootstrap, topic, lambda r: r.key == bid.encode())
    assert [SagaStateChanged.model_validate_json(r.value).to_state for r in records] == ["FIRST"]


class RefusingAtDelivery:
    """A producer that takes every record but whose broker refuses one (its delivery fails),
    as Kafka does for a record over the topic's max.message.bytes."""

    def __init__(self, refuse: str) -> None:
        self.refuse = refuse
        self.delivered: list[str] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, topic, value, key=None, headers=None):  # type: ignore[no-untyped-def]
        fut = asyncio.get_running_loop().create_future()
        to = SagaStateChanged.model_validate_json(value).to_state
        if to == self.refuse:
            fut.set_exception(MessageSizeTooLargeError("the broker refused the record"))
        else:
            self.delivered.append(to)
            fut.set_result(None)
        return fut


async def test_a_row_refused_at_delivery_is_parked_while_the_other_keys_flow(plumbing, relay_for):
    u = secrets.token_hex(3)
    ka, kb = f"bk_a{u}", f"bk_b{u}"
    await put(plumbing, ka, f"A1{u}")
    await put(plumbing, kb, f"B1{u}")
    await put(plumbing, kb, f"B2{u}")
    await put(plumbing, ka, f"A2{u}")
    producer = RefusingAtDelivery(refuse=f"B1{u}")
    settings = plumbing.settings.model_copy(
        update={"outbox_max_attempts": 2, "outbox_retry_backoff_s": 0.05}
    )
    relay_for(settings=settings, producer_factory=lambda: producer).start()

    async def settled() -> bool:
        return (
            await plumbing.pool.fetchval(
                "SELECT count(*) FROM outbox WHERE msg_key = ANY($1::text[]) AND sent_at IS NULL AND parked_at IS NULL",
                [ka, kb],
            )
            == 0
        )

    await wait_for(settled, timeout=20, what="every row sent or parked")
    rows = {
        r["payload"]: r
        for r in await plumbing.pool.fetch(
            "SELECT * FROM outbox WHERE msg_key = ANY($1::text[])", [ka, kb]
        )
    }
    by_state = {SagaStateChanged.model_validate_json(p).to_state: r for p, r in rows.items()}
    b1 = by_state[f"B1{u}"]
    assert (
        b1["parked_at"] is not None
        and b1["attempts"] == 2
        and "MessageSizeTooLarge" in b1["last_error"]
    )
    assert by_state[f"B2{u}"]["sent_at"] >= b1["parked_at"]  # marked sent only once B1 was given up
    mine = [d for d in producer.delivered if d.endswith(u)]
    assert mine.count(f"A1{u}") == 1 and mine.count(f"A2{u}") == 1  # published once: marked at once
    assert f"B1{u}" not in mine
