"""ASGI middleware in front of /v1: injected faults, the X-Request-Id rule and idempotent replays."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from .faults import FaultDice
from .state import Answer, EdgeState

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def _send_json(send: Any, status: int, payload: dict, extra: list | None = None) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})


class SandboxEdge:
    def __init__(self, app: Any, dice: FaultDice, state: EdgeState) -> None:
        self.app = app
        self.dice = dice
        self.state = state

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        # Faults and idempotency apply to the partner API only, never to /_admin.
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return

        method = scope["method"]
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1").strip() or None
        entry: dict[str, Any] = {
            "method": method,
            "path": scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1"),
            "request_id": request_id,
        }
        self.state.log(entry)

        body: bytes | None = await _read_body(receive)

        async def replay_receive() -> dict:
            nonlocal body
            if body is not None:
                message = {"type": "http.request", "body": body, "more_body": False}
                body = None
                return message
            return await receive()

        delay = self.dice.latency_seconds()
        if delay > 0:
            await asyncio.sleep(delay)

        is_write = method in WRITE_METHODS
        if is_write and request_id is None:
            entry["status"] = 400
            await _send_json(
                send,
                400,
                {
                    "error": {
                        "code": "missing_request_id",
                        "message": "Every write needs a unique X-Request-Id header.",
                        "field": "X-Request-Id",
                    }
                },
            )
            return

        failure = self.dice.error_status()
        if failure is not None:
            entry.update(status=failure, fault="error")
            await _send_json(
                send,
                failure,
                {"error": {"code": "service_unavailable", "message": "Injected fault."}},
            )
            return

        if not is_write:
            status_box: list[int] = []

            async def logging_send(message: dict) -> None:
                if message["type"] == "http.response.start":
                    status_box.append(message["status"])
                await send(message)

            await self.app(scope, replay_receive, logging_send)
            entry["status"] = status_box[0] if status_box else None
            return

        fingerprint = hashlib.sha256(
            b"\n".join([method.encode(), scope["path"].encode(), body or b""])
        ).hexdigest()
        assert request_id is not None
        while (answer := self.state.answers.get(request_id)) is not None:
            if not answer.done.is_set():
                await answer.done.wait()  # the same request is still running: wait for its answer
                continue
            if answer.fingerprint != fingerprint:
                entry["status"] = 422
                await _send_json(
                    send,
                    422,
                    {
                        "error": {
                            "code": "request_id_reused",
                            "message": "This X-Request-Id was already used for another request.",
                            "field": "X-Request-Id",
                        }
                    },
                )
                return
            entry.update(status=answer.status, replay=True)
            await send(
                {
                    "type": "http.response.start",
                    "status": answer.status,
                    "headers": answer.headers + [(b"x-idempotent-replay", b"true")],
                }
            )
            await send({"type": "http.response.body", "body": answer.body})
            return

        answer = Answer(fingerprint)
        self.state.answers[request_id] = answer
        chunks: list[bytes] = []

        async def capture(message: dict) -> None:
            if message["type"] == "http.response.start":
                answer.status = message["status"]
                answer.headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, replay_receive, capture)
        except BaseException:
            del self.state.answers[request_id]  # no answer was given: a retry may run it again
            answer.done.set()
            raise
        answer.body = b"".join(chunks)
        answer.done.set()
        entry["status"] = answer.status

        ghost = self.dice.ghost() if answer.status < 300 else None
        if ghost == "5xx":
            entry.update(status=503, fault="ghost")
            await _send_json(
                send, 503, {"error": {"code": "service_unavailable", "message": "Injected fault."}}
            )
            return
        if ghost == "timeout":
            entry["fault"] = "ghost_timeout"
            await asyncio.sleep(self.dice.faults.ghost_delay_ms / 1000)
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": answer.headers}
        )
        await send({"type": "http.response.body", "body": answer.body})


async def _read_body(receive: Any) -> bytes:
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)
