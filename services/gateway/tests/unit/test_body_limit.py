"""MAX_BODY_BYTES is enforced while the body streams in, before routing and authentication."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request

from gateway.entrypoints.api import problems
from gateway.entrypoints.api.body_limit import DRAIN_BYTES, BodyLimit

LIMIT = 1000


async def auth(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
    request.app.state.calls.append("auth")
    return authorization or ""


async def things(
    request: Request, body: dict[str, Any], who: Annotated[str, Depends(auth)]
) -> dict:
    request.app.state.calls.append("handler")
    return {"size": len(json.dumps(body))}


def guarded_app(calls: list[str]) -> BodyLimit:
    inner = FastAPI()
    inner.state.calls = calls
    inner.post("/v1/things")(things)
    problems.install(inner)
    return BodyLimit(inner, max_bytes=LIMIT)


def scope(app: Any, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/things",
        "raw_path": b"/v1/things",
        "query_string": b"",
        "root_path": "",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "headers": [(b"content-type", b"application/json"), *headers],
        "app": app,
    }


async def drive(app: BodyLimit, headers, chunks) -> tuple[list[dict], int, int]:
    """Run one request whose body arrives in these chunks; returns what was sent, how many
    chunks had been pulled when the answer started, and how many in all."""
    pulled = 0
    answered_after: int | None = None
    sent: list[dict] = []
    it = iter(chunks)

    async def receive() -> dict:
        nonlocal pulled
        chunk = next(it, None)
        if chunk is None:
            return {"type": "http.disconnect"}
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict) -> None:
        nonlocal answered_after
        if answered_after is None:
            answered_after = pulled
        sent.append(message)

    await app(scope(app.app, headers), receive, send)
    assert answered_after is not None
    return sent, answered_after, pulled


def endless(size: int = 100, count: int = 100_000):
    for _ in range(count):
        yield b" " * size


async def test_a_chunked_body_over_the_limit_is_413_before_auth_and_is_never_kept():
    calls: list[str] = []
    sent, answered_after, pulled = await drive(
        guarded_app(calls), [(b"authorization", b"Bearer gw_x")], endless()
    )
    assert sent[0]["status"] == 413
    assert dict(sent[0]["headers"])[b"content-type"] == b"application/problem+json"
    problem = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert problem["errors"] == [{"field": "body", "message": f"larger than {LIMIT} bytes"}]
    assert calls == []  # neither authentication nor the handler ran
    # what follows the limit is dropped, a bounded amount of it (the client sends 10 MB here)
    assert answered_after == pulled and pulled * 100 <= LIMIT + DRAIN_BYTES + 200


async def test_a_declared_content_length_far_over_the_limit_is_413_without_reading_the_body():
    calls: list[str] = []
    sent, answered_after, pulled = await drive(
        guarded_app(calls), [(b"content-length", str(10**9).encode())], endless()
    )
    assert sent[0]["status"] == 413 and answered_after == pulled == 0 and calls == []


async def test_a_chunked_body_within_the_limit_reaches_the_route_whole():
    calls: list[str] = []
    body = json.dumps({"name": "Ñandú", "note": "x" * 500}).encode()
    chunks = [body[i : i + 64] for i in range(0, len(body), 64)]

    sent: list[dict] = []
    it = iter(chunks)

    async def receive() -> dict:
        chunk = next(it, None)
        if chunk is None:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunk, "more_body": chunk is not chunks[-1]}

    async def send(message: dict) -> None:
        sent.append(message)

    app = guarded_app(calls)
    await app(scope(app.app, []), receive, send)
    assert sent[0]["status"] == 200, sent
    assert json.loads(sent[1]["body"]) == {"size": len(json.dumps(json.loads(body)))}
    assert calls == ["auth", "handler"]
