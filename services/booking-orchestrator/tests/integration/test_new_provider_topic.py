"""A provider that appears while sagas run: its commands topic does not exist yet (production's
Kafka creates no topic on first use), and neither that nor its first saga stops the others."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient

from booking_shared.contracts.topics import dlq, provider_commands, provider_replies
from booking_shared.testing.plugin import wait_for

from .conftest import Harness


async def _partitions(bootstrap: str) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = await admin.list_topics()
        return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(names)}
    finally:
        await admin.close()


async def _announced_after(h: Harness, name: str, since) -> bool:  # type: ignore[no-untyped-def]
    at = await h.pool.fetchval("SELECT announced_at FROM providers WHERE name = $1", name)
    return at is not None and (since is None or at > since)


async def test_a_new_provider_whose_commands_topic_does_not_exist_yet_does_not_stop_the_other_sagas(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    late, tables = h.late, h.fakes.providers[0]
    commands = provider_commands(late.name)
    bootstrap = h.settings.kafka_bootstrap_servers
    assert commands not in await _partitions(bootstrap)
    tables_at = await h.pool.fetchval(
        "SELECT announced_at FROM providers WHERE name = $1", tables.name
    )
    try:
        # The newest announcement for a booking type wins: restaurants now go to the late provider.
        await h.fakes.announce(only=[late])
        await wait_for(
            lambda: _announced_after(h, late.name, None), what="the late provider recorded"
        )
        # Recording it created the topics the orchestrator will produce to, as Kafka needs.
        topics = await wait_for(
            lambda: _having(bootstrap, [commands, dlq(provider_replies(late.name))]),
            what="the late provider's commands topic",
        )
        assert topics[commands] == h.settings.kafka_partitions
        await h.fakes.add_provider(late)

        dinner, concert = h.items(2)
        new_one = await h.book(items=[dinner])
        others = [
            await h.book(items=[concert.model_copy(update={"id": f"item-{i}"})])
            for i in range(1, 4)
        ]
        states = await asyncio.gather(*(h.settles(b) for b in [*others, new_one]))
        assert states == ["CONFIRMED"] * 4
        held = h.fakes.commands(new_one, "HoldItem")
        assert held and all(
            s.topic == commands
            for s in h.fakes.seen
            if s.message.booking_id == new_one and s.message.type_name() == "HoldItem"
        )
        assert h.fakes.active(new_one) == {"item-1": "BOOKED"}
        parked = await h.pool.fetchval("SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL")
        assert parked == 0
    finally:
        # Give restaurants back to the first fake provider for the other tests of the session.
        await h.fakes.announce(only=[tables])
        await wait_for(
            lambda: _announced_after(h, tables.name, tables_at),
            what="the first provider re-announced",
        )


async def _having(bootstrap: str, names: list[str]) -> dict[str, int] | None:
    found = await _partitions(bootstrap)
    return found if all(n in found for n in names) else None
