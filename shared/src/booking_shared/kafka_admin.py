"""Topic creation: each service creates the topics it produces to (production Kafka does not
create them on first use)."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from booking_shared.config import ServiceSettings


async def ensure_topics(settings: ServiceSettings, topics: list[str]) -> None:
    """Create topics with the configured partition count; existing ones are left alone."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if missing:
            await admin.create_topics([NewTopic(t, settings.kafka_partitions, 1) for t in missing])
    finally:
        await admin.close()
