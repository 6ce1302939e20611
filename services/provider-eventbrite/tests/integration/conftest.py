"""Fixtures: the sandbox served by uvicorn on a free 127.0.0.1 port, an admin helper, clients."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import uvicorn
from provider_eventbrite.adapters.partner_client import EventbriteClient
from provider_eventbrite.sandbox import create_app


class ServerThread:
    """uvicorn in a thread with its own event loop, on a socket we bound (no port race)."""

    def __init__(self, app: Any) -> None:
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets that say they are TCP,
        # and without it every small answer waits ~40 ms for a delayed ACK.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            loop="asyncio",
            http="h11",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("sandbox did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


class SandboxAdmin:
    """Test-side view of the sandbox's /_admin routes."""

    def __init__(self, base_url: str, http: httpx.AsyncClient) -> None:
        self.base_url, self.http = base_url, http

    async def _ok(self, method: str, path: str, **kw: Any) -> Any:
        resp = await self.http.request(method, path, **kw)
        assert resp.status_code == 200, resp.text
        return resp.json()

    async def reset(self) -> None:
        await self._ok("POST", "/_admin/reset")

    async def faults(self, **fields: Any) -> dict[str, Any]:
        return await self._ok("PUT", "/_admin/faults", json=fields)

    async def current_faults(self) -> dict[str, Any]:
        return await self._ok("GET", "/_admin/faults")

    async def clock(self, offset_seconds: float) -> dict[str, Any]:
        return await self._ok("PUT", "/_admin/clock", json={"offset_seconds": offset_seconds})

    async def now(self) -> datetime:
        return datetime.fromisoformat((await self._ok("GET", "/_admin/clock"))["now"])

    async def orders(self, partner_reference: str | None = None) -> list[dict[str, Any]]:
        orders = (await self._ok("GET", "/_admin/orders"))["orders"]
        if partner_reference is not None:
            orders = [o for o in orders if o["partner_reference"] == partner_reference]
        return orders

    async def holds(self) -> list[dict[str, Any]]:
        return (await self._ok("GET", "/_admin/holds"))["holds"]

    async def stats(self) -> dict[str, Any]:
        return await self._ok("GET", "/_admin/stats")

    async def set_inventory(self, ticket_class_id: str, **fields: int) -> dict[str, Any]:
        return await self._ok("PUT", f"/_admin/ticket_classes/{ticket_class_id}", json=fields)

    async def events(self) -> list[dict[str, Any]]:
        data = await self._ok(
            "GET", "/v3/events/search/", params={"page_size": 200, "expand": "ticket_classes"}
        )
        return data["events"]

    async def bookable(
        self, policy: str | None = None, min_days_ahead: float = 0, min_left: int = 1
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """An event (with the policy) and one of its classes on sale with at least min_left left."""
        now = await self.now()
        for e in await self.events():
            days = (datetime.fromisoformat(e["start"]["utc"]) - now).total_seconds() / 86400
            if policy and e["refund_policy"]["policy_type"] != policy or days < min_days_ahead:
                continue
            for tc in e["ticket_classes"]:
                left = tc["quantity_total"] - tc["quantity_sold"] - tc["quantity_pending"]
                if tc["on_sale_status"] == "AVAILABLE" and left >= min_left:
                    return e, tc
        raise LookupError(f"no bookable event with policy={policy} {min_days_ahead} days ahead")


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[ServerThread]:
    server = ServerThread(create_app(seed=42, sweep_seconds=0.2))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def sandbox(sandbox_server: ServerThread) -> AsyncIterator[SandboxAdmin]:
    async with httpx.AsyncClient(base_url=sandbox_server.base_url, timeout=5) as http:
        admin = SandboxAdmin(sandbox_server.base_url, http)
        await admin.reset()
        yield admin


@pytest.fixture
async def make_client(sandbox: SandboxAdmin) -> AsyncIterator[Callable[..., EventbriteClient]]:
    made: list[EventbriteClient] = []

    def make(**kw: Any) -> EventbriteClient:
        opts: dict[str, Any] = {
            "timeout": 2.0,
            "max_retries": 3,
            "max_concurrency": 20,
            "rate_per_second": None,
            "backoff_base": 0.01,
            "backoff_max": 0.05,
        }
        opts.update(kw)
        client = EventbriteClient(sandbox.base_url, **opts)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
def ref() -> Callable[[str], str]:
    """Unique references and idempotency keys per test (no cleanup needed)."""
    run = uuid.uuid4().hex[:8]
    return lambda name: f"{name}-{run}"
