"""The only place the Booking orchestrator's adapters are built, its handlers registered and its
app assembled."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import cast

from fastapi import FastAPI

from booking_shared import retention
from booking_shared.kafka_admin import ensure_topics
from booking_shared.service import Runtime
from booking_shared.service import create_app as create_service_app
from orchestrator.adapters.retention import rules as retention_rules
from orchestrator.config import Settings
from orchestrator.entrypoints.deadlines import DeadlineWorker
from orchestrator.entrypoints.http import router
from orchestrator.entrypoints.messaging import subscribe
from orchestrator.handlers import Deps, policy_from
from orchestrator.metrics import refresh_sagas

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


@dataclass(frozen=True)
class Overrides:
    """Adapters to use instead of the real ones (tests). The orchestrator talks to Postgres and
    the broker only, which tests run for real: nothing to replace yet."""


async def wire(rt: Runtime[Deps], overrides: Overrides | None = None) -> Deps:
    """Register the message handlers, start the deadline worker; the deps are the handlers'."""
    s = cast(Settings, rt.settings)

    async def create_topics(topics: list[str]) -> None:
        await ensure_topics(s, topics)

    deps = Deps(
        producer=s.service_name,
        schema=s.db_schema,
        policy=policy_from(s),
        create_topics=create_topics,
    )
    subscribe(rt, deps)
    rt.start_worker(DeadlineWorker(rt.pool, deps, s.deadline_poll_interval_s, rt.relay.wake))
    rt.metrics.add(lambda: refresh_sagas(rt.pool))
    retention.start(rt, retention_rules(s))
    return deps


def create_app(settings: Settings | None = None, overrides: Overrides | None = None) -> FastAPI:
    """The process: a FastAPI app whose lifespan runs the consumers, the outbox relay and the
    deadline worker, and serves the internal saga API."""
    settings = settings or Settings()
    return create_service_app(
        settings,
        migrations_dir=MIGRATIONS,
        wire=partial(wire, overrides=overrides),
        routers=[router],
        title="Booking orchestrator",
        description="The booking saga: holds, payment hold, confirm, capture, compensation.",
    )
