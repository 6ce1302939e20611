"""Run an ASGI app on a real 127.0.0.1 port inside the test's event loop, and stop it after."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import uvicorn
from starlette.types import ASGIApp

from booking_shared.devstack.infra import free_port


class _Server(uvicorn.Server):
    """Leaves the test process's signal handlers alone: Ctrl-C stops the test run, not the
    server inside it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve_app(
    app: ASGIApp, port: int | None = None, startup_timeout: float = 60.0
) -> AsyncIterator[str]:
    """Start uvicorn (lifespan included) as a task; yields the base URL."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", access_log=False
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + startup_timeout
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server exited during startup")
        if loop.time() > deadline:
            server.should_exit = True
            raise TimeoutError("server did not start")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)
