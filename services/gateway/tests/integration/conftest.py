"""The gateway under test, started once for the session: real Postgres, real broker, and the
contract stubs (stubs.py) in place of the payment, provider and orchestrator services."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from booking_shared.contracts import Envelope
from booking_shared.contracts.base import Message
from booking_shared.devstack import infra
from booking_shared.testing.plugin import TEST_STATE
from booking_shared.testing.servers import serve_app
from gateway.bootstrap import create_app
from gateway.config import Settings

from .stubs import Upstreams

OPS_TOKEN = "ops-bootstrap-token-for-tests-" + "x" * 8
TABLES = (
    "users",
    "api_tokens",
    "quotes",
    "bookings",
    "consents",
    "booking_timeline",
    "outbox",
    "sent_requests",
    "idempotency_keys",
    "rate_buckets",
    "card_copies",
    "bookings_awaiting_card",
)


@dataclass
class Gateway:
    url: str
    settings: Settings
    pool: asyncpg.Pool
    upstreams: Upstreams
    kafka: str
    producer: AIOKafkaProducer

    async def counts(self) -> dict[str, int]:
        return {t: await self.pool.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}

    async def publish(self, topic: str, message: Message) -> Envelope:
        env = Envelope.new(message.type_name(), correlation_id=message.booking_id, producer="test")
        await self.producer.send_and_wait(
            topic,
            message.model_dump_json().encode(),
            key=message.booking_id.encode(),
            headers=env.to_headers(),
        )
        return env


@pytest.fixture(scope="session")
async def upstreams() -> AsyncIterator[Upstreams]:
    up = Upstreams()
    async with serve_app(up.app()) as url:
        up.url = url
        yield up


@pytest.fixture(scope="session")
def gateway_kafka() -> Iterator[str]:
    """A broker of the gateway suite's own: these tests play the saga by publishing its events,
    so a real orchestrator of another suite in the same session (on the shared broker) must not
    answer our bookings, nor ours reach it."""
    child = infra.start_tansu(infra.free_port(), TEST_STATE)
    try:
        yield f"127.0.0.1:{child.port}"
    finally:
        child.stop()


@pytest.fixture(scope="session")
async def gateway(upstreams, settings_for, gateway_kafka) -> AsyncIterator[Gateway]:
    settings = settings_for(
        Settings,
        kafka_bootstrap_servers=gateway_kafka,  # a broker of its own: see gateway_kafka
        payment_url=f"{upstreams.url}/payment",
        provider_opentable_url=f"{upstreams.url}/opentable",
        provider_eventbrite_url=f"{upstreams.url}/eventbrite",
        orchestrator_url=f"{upstreams.url}/orchestrator",
        payment_api_token=upstreams.tokens["payment"],
        provider_opentable_api_token=upstreams.tokens["opentable"],
        provider_eventbrite_api_token=upstreams.tokens["eventbrite"],
        orchestrator_api_token=upstreams.tokens["orchestrator"],
        ops_bootstrap_token=OPS_TOKEN,
        search_timeout_s=0.5,
        rate_quotes_capacity=8,
        rate_quotes_per_minute=6,
        rate_bookings_capacity=3,
        rate_bookings_per_minute=2,
        sse_poll_interval_s=0.5,
        # No request of another test is ever old enough to be resent; the lost-request tests
        # age their own rows past this (test_contract_lost_requests.py).
        reconcile_after_s=3600,
        reconcile_interval_s=0.2,
        # Cheap password hashes: the tests sign in often; the parameters travel in each hash.
        password_hash_time_cost=1,
        password_hash_memory_kib=8192,
        password_hash_parallelism=1,
        # Every test (and schemathesis) signs in from 127.0.0.1: the per-client bound is tested
        # with a client of its own (test_contract_sign_in.py).
        sign_in_failures_per_client=100_000,
    )
    app = create_app(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=False
    )
    await producer.start()
    try:
        async with serve_app(app, port=settings.port) as url:
            yield Gateway(
                url,
                settings,
                app.state.runtime.pool,
                upstreams,
                settings.kafka_bootstrap_servers,
                producer,
            )
    finally:
        await producer.stop()


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=15) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_up(client: httpx.AsyncClient, **prefs: Any) -> tuple[str, dict[str, Any]]:
    tag = secrets.token_hex(4)
    body: dict[str, Any] = {
        "name": f"Ana Silva {tag}",
        "email": f"ana.{tag}@example.com",
        "phone": "+351 912 345 678",
    }
    if prefs:
        body["preferences"] = prefs
    r = await client.post("/v1/users", json=body)
    assert r.status_code == 201, r.text
    return r.json()["token"], r.json()["user"]


async def add_card(client: httpx.AsyncClient, token: str, pm: str | None = None) -> str:
    pm = pm or f"pm_{secrets.token_hex(6)}"
    r = await client.post(
        "/v1/payment-methods", json={"payment_method_id": pm}, headers=bearer(token)
    )
    assert r.status_code == 201, r.text
    return pm


def restaurant_item(
    item_id: str = "item-1", cost: Any = "45.00 EUR", party_size: int = 2, **kw: Any
) -> dict[str, Any]:
    return {
        "id": item_id,
        "title": "Dinner at Cervejaria Ramiro",
        "category": "dinner",
        "start_time": "2026-12-05T20:00:00+00:00",
        "cost": cost,
        "venue_id": "rest_001",
        "party_size": party_size,
        **kw,
    }


def event_item(
    item_id: str = "item-2", cost: Any = "30.00 EUR", quantity: int = 2, **kw: Any
) -> dict[str, Any]:
    return {
        "id": item_id,
        "title": "Fado night",
        "category": "concert",
        "start_time": "2026-12-05T22:30:00+00:00",
        "cost": cost,
        "event_id": "evt_001",
        "ticket_class_id": "tc_001_a",
        "quantity": quantity,
        **kw,
    }


async def quote(
    client: httpx.AsyncClient, token: str, items: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    r = await client.post(
        "/v1/quotes",
        json={"items": items or [restaurant_item(), event_item()]},
        headers=bearer(token),
    )
    assert r.status_code == 201, r.text
    return r.json()


async def book(
    client: httpx.AsyncClient, token: str, quote_id: str, key: str | None = None, **body: Any
) -> httpx.Response:
    headers = {**bearer(token), "Idempotency-Key": key or str(uuid.uuid4())}
    return await client.post("/v1/bookings", json={"quote_id": quote_id, **body}, headers=headers)


async def read_topic(
    bootstrap: str, topic: str, key: str, want: int = 1, wait_s: float = 15.0
) -> list:
    """Records with this key on the topic, read from the beginning without a consumer group."""
    import asyncio

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    out: list = []
    try:
        deadline = asyncio.get_running_loop().time() + wait_s
        while asyncio.get_running_loop().time() < deadline and len(out) < want:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                out += [r for r in recs if r.key == key.encode()]
    finally:
        await consumer.stop()
    return out
