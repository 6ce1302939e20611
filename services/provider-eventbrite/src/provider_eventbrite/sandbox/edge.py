"""ASGI middleware in front of the partner API (/v3, /partner): injected faults (latency, 5xx,
ghost writes) and the request counts of the admin stats. Never in front of /_admin."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from .state import Sandbox

FAULTY_PREFIXES = ("/v3/", "/partner/")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _json_response(status: int, body: dict[str, Any]) -> list[Message]:
    raw = json.dumps(body).encode()
    return [
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
            ],
        },
        {"type": "http.response.body", "body": raw},
    ]


class SandboxEdge:
    """Latency, 5xx, ghost writes; counts requests and concurrency for the admin stats."""

    def __init__(self, app: ASGIApp, sandbox_ref: Any) -> None:
        self.app = app
        self.sandbox_ref = sandbox_ref  # a callable returning the live Sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(FAULTY_PREFIXES):
            await self.app(scope, receive, send)
            return
        sb: Sandbox = self.sandbox_ref()
        st = sb.stats
        st.requests += 1
        key = f"{scope['method']} {path}"
        st.by_route[key] = st.by_route.get(key, 0) + 1
        st.in_flight += 1
        st.max_in_flight = max(st.max_in_flight, st.in_flight)
        try:
            await self._faulty(sb, scope, receive, send)
        finally:
            st.in_flight -= 1

    async def _faulty(self, sb: Sandbox, scope: Scope, receive: Receive, send: Send) -> None:
        f = sb.faults
        delay = f.delay_seconds(sb.fault_rng)
        if delay > 0:
            await asyncio.sleep(delay)
        if f.fail_next > 0 or (f.error_rate > 0 and sb.fault_rng.random() < f.error_rate):
            if f.fail_next > 0:
                f.fail_next -= 1
            for msg in _json_response(
                f.error_status,
                {"code": "SERVICE_UNAVAILABLE", "message": "injected fault: no effect"},
            ):
                await send(msg)
            return
        if scope["method"] not in WRITE_METHODS or not scope["path"].startswith("/partner/"):
            await self.app(scope, receive, send)
            return
        # Writes: buffer the answer so that a ghost can replace or delay it after the commit.
        scope.setdefault("state", {})
        buffered: list[Message] = []

        async def capture(msg: Message) -> None:
            buffered.append(msg)

        await self.app(scope, receive, capture)
        fresh = bool(scope["state"].get("sandbox_fresh_effect"))
        if fresh and f.ghost_rate > 0 and sb.fault_rng.random() < f.ghost_rate:
            if f.ghost_mode == "5xx":
                buffered = _json_response(
                    503, {"code": "SERVICE_UNAVAILABLE", "message": "upstream timeout"}
                )
            else:
                await asyncio.sleep(f.ghost_timeout_seconds)
        for msg in buffered:
            await send(msg)
