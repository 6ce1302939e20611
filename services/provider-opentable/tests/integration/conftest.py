"""One running provider service per test module (a consumer group join costs ~5 s on Tansu):
real Postgres, the real broker, the sandbox over real HTTP. Module scope, not session: a
provider left running would also answer other suites' commands on the shared topic.

Tests keep apart by their own booking ids and their own restaurants, and put back any sandbox
fault or clock they change."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from booking_shared.contracts import (
    BookingItem,
    CancelItem,
    ConfirmItem,
    Envelope,
    HoldItem,
    Message,
    model_for,
)
from booking_shared.contracts.topics import PROVIDER_REGISTRY, provider_commands, provider_replies
from booking_shared.devstack.infra import free_port
from booking_shared.sealed import GuestContact, seal
from booking_shared.testing.plugin import wait_for
from booking_shared.testing.servers import serve_app
from fastapi import FastAPI
from provider_opentable.config import Settings
from provider_opentable.entrypoints.app import create_app
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
class Seen:
    topic: str
    key: str | None
    envelope: Envelope
    message: Message


@dataclass
class TopicLog:
    """Everything on the replies and registry topics (from the earliest offset)."""

    records: list[Seen] = field(default_factory=list)

    def of(
        self, booking_id: str, type_name: str | None = None, topic: str = REPLIES
    ) -> list[Message]:
        return [
            s.message
            for s in self.records
            if s.topic == topic
            and s.message.booking_id == booking_id
            and (type_name is None or s.envelope.type == type_name)
        ]

    async def wait(self, booking_id: str, type_name: str, count: int = 1) -> list[Message]:
        await wait_for(
            lambda: len(self.of(booking_id, type_name)) >= count,
            what=f"{count} {type_name} for {booking_id}",
        )
        return self.of(booking_id, type_name)


@dataclass
class Provider:
    settings: Settings
    app: FastAPI
    url: str
    sandbox: SandboxServer
    http: httpx.AsyncClient  # the service's internal API
    admin: httpx.AsyncClient  # the sandbox, raw
    producer: AIOKafkaProducer
    log: TopicLog

    def guest(self) -> str:
        return seal(GUEST, self.settings.guest_data_key)

    def envelope(self, message: Message, message_id: uuid.UUID | None = None) -> Envelope:
        return Envelope.new(
            message.type_name(),
            correlation_id=message.booking_id,
            producer="test-saga",
            message_id=message_id,
        )

    async def publish(self, message: Message, envelope: Envelope | None = None) -> Envelope:
        """Onto the commands topic, as the saga would."""
        env = envelope or self.envelope(message)
        await self.producer.send_and_wait(
            COMMANDS,
            message.model_dump_json().encode(),
            key=message.booking_id.encode(),
            headers=env.to_headers(),
        )
        return env

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


async def _follow(bootstrap: str, log: TopicLog, started: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(
        REPLIES,
        PROVIDER_REGISTRY,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=5,
    )
    await consumer.start()
    started.set()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for r in records:
                    env = Envelope.from_headers(r.headers)
                    model = model_for(env.type)
                    if model is None:
                        continue
                    log.records.append(
                        Seen(
                            r.topic,
                            r.key.decode() if r.key else None,
                            env,
                            model.model_validate_json(r.value),
                        )
                    )
    finally:
        await consumer.stop()


@pytest.fixture(scope="module")
async def provider(
    partner_sandbox: SandboxServer, database_url: str, role_prefix: str, kafka_bootstrap: str
) -> AsyncIterator[Provider]:
    name = secrets.token_hex(4)
    settings = Settings(
        environment="test",
        database_url=database_url,
        db_role_prefix=role_prefix,
        db_schema=f"opentable_{name}",
        service_name=f"provider-opentable-{name}",
        kafka_bootstrap_servers=kafka_bootstrap,
        port=free_port(),
        log_json=False,
        outbox_poll_interval_s=0.2,
        consumer_retry_backoff_ms=10,
        opentable_base_url=partner_sandbox.base_url,
        opentable_timeout_s=2.0,
        opentable_backoff_base_s=0.01,
        opentable_rate_per_second=0,
        hold_sweep_interval_s=0.2,
    )
    app = create_app(settings)
    log = TopicLog()
    async with serve_app(app, port=settings.port) as url:
        started = asyncio.Event()
        follower = asyncio.create_task(_follow(kafka_bootstrap, log, started))
        await asyncio.wait_for(started.wait(), 20)
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, enable_idempotence=False, linger_ms=0
        )
        await producer.start()
        async with (
            httpx.AsyncClient(base_url=url, timeout=10) as http,
            httpx.AsyncClient(base_url=partner_sandbox.base_url, timeout=10) as admin,
        ):
            yield Provider(settings, app, url, partner_sandbox, http, admin, producer, log)
        await producer.stop()
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
