"""Assembles a provider service around its PartnerPort: handlers, announcement, sweeper."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

from booking_shared import retention
from booking_shared.config import ServiceSettings
from booking_shared.contracts import CancelItem, ConfirmItem, HoldItem, ProviderAnnounced
from booking_shared.contracts.topics import PROVIDER_REGISTRY, provider_commands, provider_replies
from booking_shared.outbox import enqueue
from booking_shared.provider_kit import handlers
from booking_shared.provider_kit.api import router as internal_router
from booking_shared.provider_kit.port import PartnerPort
from booking_shared.service import Runtime, create_app

log = logging.getLogger(__name__)
KIT_MIGRATIONS = Path(__file__).parent / "migrations"


async def wire_provider(rt: Runtime, port: PartnerPort, *, sweep_interval_s: float = 5.0) -> None:
    s = rt.settings
    commands, replies = provider_commands(port.name), provider_replies(port.name)
    rt.extras["port"] = port
    rt.router.on(commands, HoldItem, lambda h: handlers.hold_item(h, port, replies))
    rt.router.on(
        commands, ConfirmItem, lambda h: handlers.confirm_item(h, port, replies, s.guest_data_key)
    )
    rt.router.on(commands, CancelItem, lambda h: handlers.cancel_item(h, port, replies))

    async with rt.pool.acquire() as conn, conn.transaction():
        await enqueue(
            conn,
            PROVIDER_REGISTRY,
            ProviderAnnounced(
                booking_id=port.name,
                provider=port.name,
                booking_types=port.booking_types,
                capabilities=port.capabilities,
                commands_topic=commands,
                replies_topic=replies,
            ),
            producer=s.service_name,
            schema=s.db_schema,
            key=port.name,
        )

    async def sweep() -> None:
        while True:
            try:
                n = await handlers.sweep_lapsed_holds(
                    rt.pool, replies_topic=replies, producer=s.service_name, schema=s.db_schema
                )
                if n:
                    rt.relay.wake()
            except Exception as exc:
                log.warning("hold sweep failed", extra={"error": repr(exc)})
            await asyncio.sleep(sweep_interval_s)

    task = asyncio.create_task(sweep(), name=f"{port.name}-hold-sweeper")

    async def close() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await port.close()

    rt.extras.setdefault("closers", []).append(close)
    # Items and command replies are the partner bookings' record and their exactly-once answers:
    # kept. Only the plumbing tables are swept.
    retention.start(rt)


def create_provider_app(
    settings: ServiceSettings,
    port_factory: Callable[[], PartnerPort],
    *,
    migrations_dir: Path | None = None,
    title: str,
    description: str = "",
    sweep_interval_s: float = 5.0,
) -> FastAPI:
    async def wire(rt: Runtime) -> None:
        await wire_provider(rt, port_factory(), sweep_interval_s=sweep_interval_s)

    dirs = [KIT_MIGRATIONS] + ([migrations_dir] if migrations_dir else [])
    return create_app(
        settings,
        migrations_dir=dirs,
        wire=wire,
        routers=[internal_router],
        title=title,
        description=description,
    )
