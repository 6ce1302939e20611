"""The only place the Booking orchestrator's adapters are built and its handlers registered."""

from typing import cast

from booking_shared import retention
from booking_shared.kafka_admin import ensure_topics
from booking_shared.service import Runtime
from orchestrator.adapters.retention import rules as retention_rules
from orchestrator.config import Settings
from orchestrator.entrypoints.deadlines import DeadlineWorker
from orchestrator.entrypoints.messaging import subscribe
from orchestrator.handlers import Deps, policy_from
from orchestrator.metrics import refresh_sagas


async def wire(rt: Runtime) -> None:
    """Register message handlers on rt.router, start the deadline worker, keep deps in rt.extras."""
    s = cast(Settings, rt.settings)  # the app was built with this service's Settings

    async def create_topics(topics: list[str]) -> None:
        await ensure_topics(s, topics)

    deps = Deps(
        producer=s.service_name,
        schema=s.db_schema,
        policy=policy_from(s),
        create_topics=create_topics,
    )
    rt.extras["deps"] = deps
    subscribe(rt, deps)
    worker = DeadlineWorker(
        rt.pool, deps, getattr(s, "deadline_poll_interval_s", 0.5), rt.relay.wake
    )
    worker.start()
    rt.extras["deadline_worker"] = worker
    rt.extras.setdefault("closers", []).append(worker.stop)
    rt.metrics.add(lambda: refresh_sagas(rt.pool))
    retention.start(rt, retention_rules(s))
