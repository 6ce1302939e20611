"""A pure ASGI middleware that enforces MAX_BODY_BYTES while the body streams in: a declared
Content-Length over the limit, or a chunked body that grows past it, is answered 413 as soon as
that is known, before routing, authentication or validation run. Before the answer goes out the
rest of the body is read and dropped (never kept), up to DRAIN_BYTES, so that a client that is
still sending reads the 413 instead of a reset connection."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.domain.errors import FieldError
from gateway.entrypoints.api.problems import problem

DRAIN_BYTES = 1 << 20


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            # Worth draining only if the whole body can be: else answer at once.
            drain = declared <= self.max_bytes + DRAIN_BYTES
            await self._refuse(scope, receive, send, more_body=drain)
            return
        # Buffer at most max_bytes, then hand the app the body in one message: everything after
        # (auth included) sees a body already known to fit.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # nobody left to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send, message.get("more_body", False))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, more_body: bool) -> None:
        dropped = 0
        while more_body and dropped <= DRAIN_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left
            dropped += len(message.get("body", b""))
            more_body = message.get("more_body", False)
        response = problem(
            Request(scope, receive),
            413,
            "payload-too-large",
            "Payload too large",
            f"the body is larger than {self.max_bytes} bytes",
            [FieldError("body", f"larger than {self.max_bytes} bytes")],
            # A body cut short by DRAIN_BYTES leaves the connection unusable.
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # then http.disconnect, which SSE streams wait for

    return replay


def install(app: Any, max_bytes: int) -> None:
    app.add_middleware(BodyLimit, max_bytes=max_bytes)
