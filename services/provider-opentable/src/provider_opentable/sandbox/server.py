"""Run a sandbox on a loopback port in a background thread (for tests and local tools)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI

from .app import create_app


class SandboxServer:
    """`with SandboxServer() as sb:` serves a fresh sandbox at sb.base_url and stops it on exit."""

    def __init__(
        self, app: FastAPI | None = None, host: str = "127.0.0.1", port: int = 0, **create: Any
    ) -> None:
        self.app = app if app is not None else create_app(**create)
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> str:
        # Binding here, before the thread starts, gives the real port at once and no race.
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say TCP
        # (with proto 0 every answer waits ~40 ms on delayed ACKs).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name="opentable-sandbox",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the OpenTable sandbox did not start")
            time.sleep(0.005)
        return self.base_url

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = None
        self._thread = None

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
