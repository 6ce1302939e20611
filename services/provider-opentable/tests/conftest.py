"""Fixtures: a real sandbox on a free loopback port per test, an admin client and the partner client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from provider_opentable.adapters.partner_client import Guest, OpenTableClient
from provider_opentable.sandbox import SandboxServer

LISBON = ZoneInfo("Europe/Lisbon")


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(seed=42) as server:
        yield server


@pytest.fixture
async def admin(sandbox: SandboxServer) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP to the sandbox, for /_admin and for checking the partner API itself."""
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10) as client:
        yield client


@pytest.fixture
async def make_client(sandbox: SandboxServer) -> AsyncIterator[Callable[..., OpenTableClient]]:
    made: list[OpenTableClient] = []

    def make(**options: object) -> OpenTableClient:
        settings: dict = dict(
            timeout=2.0, max_retries=3, max_concurrency=20, rate_per_second=None, backoff_base=0.01
        )
        settings.update(options)
        client = OpenTableClient(settings.pop("base_url", sandbox.base_url), **settings)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
async def client(make_client: Callable[..., OpenTableClient]) -> OpenTableClient:
    return make_client()


@pytest.fixture
def dinner() -> datetime:
    """19:30 in Lisbon three days from now: always bookable, always in the future."""
    day = datetime.now(LISBON).date() + timedelta(days=3)
    return datetime.combine(day, time(19, 30), tzinfo=LISBON)


@pytest.fixture
def guest() -> Guest:
    return Guest(
        first_name="Ana", last_name="Silva", email="ana@example.com", phone="+351 912 345 678"
    )


@pytest.fixture
def ref(request: pytest.FixtureRequest) -> str:
    """A partner_reference unique to the test."""
    return f"item-{request.node.name}"
