"""The operators' DLQ tool against the real Postgres and broker: a message that failed until its
cause was fixed is replayed once, and handled once."""

from __future__ import annotations

import secrets

import pytest

from booking_shared import dlq as tool
from booking_shared import outbox
from booking_shared.contracts import SagaStateChanged
from booking_shared.db import prepare_database
from booking_shared.messaging import MessageRouter, ensure_topics, make_broker
from booking_shared.outbox import OutboxRelay
from booking_shared.testing.plugin import wait_for

from .conftest import plumbing_settings


@pytest.fixture
async def service(database_url: str, kafka_bootstrap: str, role_prefix: str):
    """A consumer whose handler fails while `broken` is set, with its relay running."""
    name = secrets.token_hex(3)
    settings = plumbing_settings(database_url, kafka_bootstrap, role_prefix, f"dlq{name}")
    pool = await prepare_database(settings, None)
    await pool.execute(
        "CREATE TABLE effects (id bigserial PRIMARY KEY, booking_id text, to_state text)"
    )
    topic = f"plumb.dlq{name}.v1"
    await ensure_topics(settings, [topic, f"{topic}.dlq"])
    state = {"broken": True}

    async def record(h) -> None:
        if state["broken"]:
            raise RuntimeError("the partner is down")
        await h.conn.execute(
            "INSERT INTO effects (booking_id, to_state) VALUES ($1, $2)",
            h.message.booking_id,
            h.message.to_state,
        )

    router = MessageRouter(settings=settings, pool=pool, consumer=settings.service_name)
    router.on(topic, SagaStateChanged, record)
    relay = OutboxRelay(pool, settings)
    router.on_commit = relay.wake
    broker = make_broker(settings)
    router.attach(broker)
    await broker.start()
    relay.start()
    yield settings, pool, topic, state
    await broker.stop()
    await relay.stop()
    await pool.close()


async def test_a_dead_letter_is_replayed_once_after_the_fix_and_handled_once(service):
    settings, pool, topic, state = service
    bid = f"bk_{secrets.token_hex(4)}"
    async with pool.acquire() as c, c.transaction():
        env = await outbox.enqueue(
            c,
            topic,
            SagaStateChanged(booking_id=bid, from_state=None, to_state="HELD"),
            producer=settings.service_name,
            schema=settings.db_schema,
        )
    mid = str(env.message_id)
    await wait_for(
        lambda: pool.fetchval("SELECT 1 FROM dead_letters WHERE message_id = $1", mid),
        what="dead letter",
    )

    async def listed():
        letters = tool.own_letters(settings, await tool.read_dlq(settings, topic, timeout_s=10))
        return [x for x in letters if x.message_id == mid]

    (letter,) = await wait_for(listed, what="the message on the DLQ topic")
    assert letter.summary()["error"].startswith("RuntimeError: the partner is down")
    assert letter.key == bid

    # Dry run: reported, nothing changes.
    assert [
        r["outcome"] for r in await tool.replay(settings, pool, topic, [letter], dry_run=True)
    ] == ["would replay"]
    assert await pool.fetchval("SELECT count(*) FROM inbox WHERE message_id = $1::uuid", mid) == 1

    state["broken"] = False
    results = await tool.replay(settings, pool, topic, [letter])
    assert [r["outcome"] for r in results] == ["replayed"]
    await wait_for(
        lambda: pool.fetchval("SELECT 1 FROM effects WHERE booking_id = $1", bid),
        what="the replayed effect",
    )

    again = await tool.replay(settings, pool, topic, [letter])
    assert again[0]["outcome"].startswith("skipped: already replayed")
    await pool.execute("SELECT pg_sleep(0.5)")
    assert await pool.fetchval("SELECT count(*) FROM effects WHERE booking_id = $1", bid) == 1


async def test_a_message_without_an_envelope_is_not_replayed(service):
    settings, pool, topic, _ = service
    letter = tool.DeadLetter(
        partition=0,
        offset=0,
        key="bk_x",
        headers=[("dlq_consumer", settings.service_name)],
        body="{",
    )
    (result,) = await tool.replay(settings, pool, topic, [letter])
    assert result["outcome"].startswith("skipped: no envelope")


def test_the_cli_refuses_a_dlq_topic_name(capsys):
    with pytest.raises(SystemExit) as exc:
        tool.main(["list", "--topic", "payment.commands.v1.dlq"])
    assert exc.value.code == 2
    assert "source topic" in capsys.readouterr().err
