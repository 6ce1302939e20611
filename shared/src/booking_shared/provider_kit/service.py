"""Wires a provider service around its PartnerPort: handlers, announcement, hold sweeper, and
the app with the kit's migrations and internal API. A provider's own bootstrap.py calls these."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI

from booking_shared import retention
from booking_shared.config import ServiceSettings
from booking_shared.contracts import CancelItem, ConfirmItem, HoldItem, ProviderAnnounced
from booking_shared.contracts.catalogue import PROVIDER_REPLIES
from booking_shared.contracts.topics import PROVIDER_REGISTRY, provider_commands, provider_replies
from booking_shared.messaging import MessageRouter
from booking_shared.outbox import enqueue
from booking_shared.provider_kit import handlers
from booking_shared.provider_kit.api import router as internal_router
from booking_shared.provider_kit.handlers import Deps
from booking_shared.provider_kit.port import PartnerPort
from booking_shared.service import Runtime, Wiring, create_app

log = logging.getLogger(__name__)
KIT_MIGRATIONS = Path(__file__).parent / "migrations"


def subscribe(router: MessageRouter, deps: Deps) -> None:
    """Route the three provider commands to their handlers; declare what the provider sends."""
    port, commands, replies = deps.port, deps.commands_topic, deps.replies_topic
    router.on(commands, HoldItem, lambda h: handlers.hold_item(h, port, replies))
    router.on(
        commands,
        ConfirmItem,
        lambda h: handlers.confirm_item(h, port, replies, deps.guest_data_key),
    )
    router.on(commands, CancelItem, lambda h: handlers.cancel_item(h, port, replies))
    router.emits(replies, *PROVIDER_REPLIES)
    router.emits(PROVIDER_REGISTRY, ProviderAnnounced)


class HoldSweeper:
    """Reports every hold whose expiry passed (ItemHoldLapsed), every `interval_s`."""

    def __init__(self, rt: Runtime[Deps], deps: Deps, interval_s: float) -> None:
        self.pool: asyncpg.Pool = rt.pool
        self.wake = rt.relay.wake
        self.producer, self.schema = rt.settings.service_name, rt.settings.db_schema
        self.deps, self.interval_s = deps, interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.deps.port.name}-hold-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                n = await handlers.sweep_lapsed_holds(
                    self.pool,
                    replies_topic=self.deps.replies_topic,
                    producer=self.producer,
                    schema=self.schema,
                )
                if n:
                    self.wake()
            except Exception as exc:
                log.warning("hold sweep failed", extra={"error": repr(exc)})
            await asyncio.sleep(self.interval_s)


async def wire_provider(
    rt: Runtime[Deps], port: PartnerPort, *, sweep_interval_s: float = 5.0
) -> Deps:
    """The wiring every provider shares; its own `bootstrap.wire` builds the port and calls this."""
    s = rt.settings
    deps = Deps(
        port=port,
        commands_topic=provider_commands(port.name),
        replies_topic=provider_replies(port.name),
        guest_data_key=s.guest_data_key,
    )
    subscribe(rt.router, deps)

    async with rt.pool.acquire() as conn, conn.transaction():
        await enqueue(
            conn,
            PROVIDER_REGISTRY,
            ProviderAnnounced(
                booking_id=port.name,
                provider=port.name,
                booking_types=port.booking_types,
                capabilities=port.capabilities,
                commands_topic=deps.commands_topic,
                replies_topic=deps.replies_topic,
            ),
            producer=s.service_name,
            schema=s.db_schema,
            key=port.name,
        )

    rt.closers.push_async_callback(port.close)
    rt.start_worker(HoldSweeper(rt, deps, sweep_interval_s))
    # Items and command replies are the partner bookings' record and their exactly-once answers:
    # kept. Only the plumbing tables are swept.
    retention.start(rt)
    return deps


def provider_app(
    settings: ServiceSettings,
    wire: Wiring[Any],
    *,
    migrations_dir: Path | None = None,
    title: str,
    description: str = "",
) -> FastAPI:
    """The service app: the kit's migrations (then the provider's own) and internal API."""
    dirs = [KIT_MIGRATIONS] + ([migrations_dir] if migrations_dir else [])
    return create_app(
        settings,
        migrations_dir=dirs,
        wire=wire,
        routers=[internal_router],
        title=title,
        description=description,
    )
