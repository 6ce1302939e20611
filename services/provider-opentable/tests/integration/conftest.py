"""One running provider service per test module (a consumer group join costs ~5 s on Tansu):
real Postgres, the real broker, the sandbox over real HTTP. Module scope, not session: a
provider left running would also answer other suites' commands on the shared topic.

Tests keep apart by their own booking ids and their own restaurants, and put back any sandbox
fault or clock they change."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from booking_shared.contracts import (
    BookingItem,
    CancelItem,
    ConfirmItem,
    Envelope,
    HoldItem,
    Message,
)
from booking_shared.contracts.topics import PROVIDER_REGISTRY, provider_commands, provider_replies
from booking_shared.internal_auth import bearer
from booking_shared.sealed import GuestContact, seal
from booking_shared.testing.bus import Bus, Seen
from booking_shared.testing.plugin import wait_for
from booking_shared.testing.servers import serve_app
from provider_opentable.bootstrap import create_app
from provider_opentable.config import Settings
from provider_opentable.sandbox import SandboxServer

LISBON = ZoneInfo("Europe/Lisbon")
COMMANDS = provider_commands("opentable")
REPLIES = provider_replies("opentable")
GUEST = GuestContact(
    first_name="Ana", last_name="Silva", email="ana@example.com", phone="+351 912 345 678"
)


def slot(days_ahead: int = 3, at: time = time(19, 30)) -> datetime:
    day = datetime.now(LISBON).date() + timedelta(days=days_ahead)
    return datetime.combine(day, at, tzinfo=LISBON)


def restaurant_item(
    rid: str, start: datetime, party_size: int = 2, item_id: str = "item-1"
) -> BookingItem:
    return BookingItem(
        id=item_id,
        title="Dinner",
        category="dinner",
        start_time=start,
        cost="€1.00",
        venue_id=rid,
        party_size=party_size,
    )


def new_booking() -> str:
    return f"bk_{secrets.token_hex(6)}"


@dataclass
class TopicLog:
    """Everything on the replies and registry topics (from the earliest offset), as read by the
    shared test bus."""

    bus: Bus

    @property
    def records(self) -> list[Seen]:
        return self.bus.records

    def of(
        self, booking_id: str, type_name: str | None = None, topic: str = REPLIES
    ) -> list[Message]:
        types = () if type_name is None else (type_name,)
        return self.bus.messages(topic, *types, booking_id=booking_id)

    async def wait(self, booking_id: str, type_name: str, count: int = 1) -> list[Message]:
        return await self.bus.wait(REPLIES, type_name, booking_id=booking_id, count=count)


@dataclass
class Provider:
    settings: Settings
    app: FastAPI
    url: str
    sandbox: SandboxServer
    http: httpx.AsyncClient  # the service's internal API
    admin: httpx.AsyncClient  # the sandbox, raw
    bus: Bus  # publishes as the saga; follows the replies and registry topics
    log: TopicLog

    def guest(self) -> str:
        return seal(GUEST, self.settings.guest_data_key)

    def envelope(self, message: Message, message_id: uuid.UUID | None = None) -> Envelope:
        return self.bus.envelope(message, message_id)

    async def publish(self, message: Message, envelope: Envelope | None = None) -> Envelope:
        """Onto the commands topic, as the saga would."""
        return await self.bus.publish(COMMANDS, message, envelope)

    async def process(self, message: Message, envelope: Envelope | None = None) -> str:
        """Straight into the service's router (inbox, handler, outbox): no consumer hop."""
        env = envelope or self.envelope(message)
        router = self.app.state.runtime.router
        return await router.process(COMMANDS, message.model_dump_json().encode(), env.to_headers())

    # -- the saga's three commands, handled in process, waiting for the reply -------------------

    async def hold(
        self, booking_id: str, item: BookingItem, command_id: uuid.UUID | None = None
    ) -> Message:
        cmd = HoldItem(booking_id=booking_id, command_id=command_id or uuid.uuid4(), item=item)
        return await self._answer(cmd)

    async def confirm(
        self, booking_id: str, item: BookingItem, command_id: uuid.UUID | None = None
    ) -> Message:
        cmd = ConfirmItem(
            booking_id=booking_id,
            command_id=command_id or uuid.uuid4(),
            item=item,
            guest=self.guest(),
        )
        return await self._answer(cmd)

    async def cancel(
        self, booking_id: str, item_id: str, command_id: uuid.UUID | None = None
    ) -> Message:
        cmd = CancelItem(
            booking_id=booking_id, command_id=command_id or uuid.uuid4(), item_id=item_id
        )
        return await self._answer(cmd)

    async def _answer(self, cmd: Any) -> Message:
        assert await self.process(cmd) == "handled"
        await wait_for(lambda: self._reply_to(cmd), what=f"the reply to {cmd.type_name()}")
        return self._reply_to(cmd)  # type: ignore[return-value]

    def _reply_to(self, cmd: Any) -> Message | None:
        found = [
            m
            for m in self.log.of(cmd.booking_id)
            if getattr(m, "command_id", None) == cmd.command_id
        ]
        return found[0] if found else None

    # -- the sandbox's own records -----------------------------------------------------------

    async def reservations(self, partner_reference: str) -> list[dict]:
        found = (await self.admin.get("/_admin/reservations")).json()["reservations"]
        return [r for r in found if r["partner_reference"] == partner_reference]

    async def lock(self, lock_id: str) -> dict:
        locks = (await self.admin.get("/_admin/locks")).json()["locks"]
        return next(lock for lock in locks if lock["lock_id"] == lock_id)

    async def requests(self, method: str, request_id: str) -> list[dict]:
        seen = (await self.admin.get("/_admin/requests")).json()["requests"]
        return [r for r in seen if r["method"] == method and r["request_id"] == request_id]

    @contextlib.asynccontextmanager
    async def faults(self, **knobs: Any) -> AsyncIterator[None]:
        before = (await self.admin.get("/_admin/faults")).json()
        await self.admin.patch("/_admin/faults", json=knobs)
        try:
            yield
        finally:
            await self.admin.put("/_admin/faults", json=before)

    @contextlib.asynccontextmanager
    async def sandbox_clock_at(self, when: datetime) -> AsyncIterator[None]:
        offset = (when - datetime.now(LISBON)).total_seconds()
        await self.admin.put("/_admin/clock", json={"offset_seconds": offset})
        try:
            yield
        finally:
            await self.admin.put("/_admin/clock", json={"offset_seconds": 0})


@pytest.fixture(scope="module")
def partner_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(seed=42) as server:
        yield server


@pytest.fixture(scope="module")
async def provider(partner_sandbox: SandboxServer, settings_for) -> AsyncIterator[Provider]:
    settings = settings_for(
        Settings,
        consumer_retry_backoff_ms=10,
        opentable_base_url=partner_sandbox.base_url,
        opentable_timeout_s=2.0,
        opentable_backoff_base_s=0.01,
        opentable_rate_per_second=0,
        hold_sweep_interval_s=0.2,
    )
    app = create_app(settings)
    async with (
        serve_app(app, port=settings.port) as url,
        Bus(
            settings.kafka_bootstrap_servers, REPLIES, PROVIDER_REGISTRY, producer_name="test-saga"
        ) as bus,
        httpx.AsyncClient(
            base_url=url, timeout=10, headers=bearer(settings.internal_api_token)
        ) as http,
        httpx.AsyncClient(base_url=partner_sandbox.base_url, timeout=10) as admin,
    ):
        yield Provider(settings, app, url, partner_sandbox, http, admin, bus, TopicLog(bus))
