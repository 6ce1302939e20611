"""Fault injection for the sandbox: the knobs and the ASGI middleware that applies them."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from .state import Sandbox

FAULTY_PREFIXES = ("/v3/", "/partner/")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LatencyDist(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dist: Literal["fixed", "uniform"] = Field("uniform", description="Latency distribution.")
    ms: float | None = Field(None, ge=0, description="Fixed latency, for dist=fixed.")
    min_ms: float = Field(0, ge=0, description="Lower bound, for dist=uniform.")
    max_ms: float = Field(0, ge=0, description="Upper bound, for dist=uniform.")

    @model_validator(mode="after")
    def _bounds(self) -> LatencyDist:
        if self.dist == "uniform" and self.max_ms < self.min_ms:
            raise ValueError("max_ms must be >= min_ms")
        return self


class FaultConfig(BaseModel):
    """What goes wrong, on /v3 and /partner routes only (never /_admin)."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(0, ge=0, description="Fixed extra latency per request.")
    latency: LatencyDist | None = Field(
        None, description="A latency distribution (wins over latency_ms)."
    )
    error_rate: float = Field(
        0, ge=0, le=1, description="Share of requests answered 5xx, with no effect."
    )
    error_status: int = Field(503, ge=500, le=599, description="The status those errors carry.")
    fail_next: int = Field(
        0, ge=0, description="The next N requests fail with error_status, no effect."
    )
    ghost_rate: float = Field(
        0, ge=0, le=1, description="Share of writes that commit but lose the answer."
    )
    ghost_mode: Literal["5xx", "timeout"] = Field(
        "5xx", description="5xx: answer 503 after committing; timeout: sleep, then answer late."
    )
    ghost_timeout_seconds: float = Field(
        30, ge=0, description="How long timeout-mode ghosts sleep."
    )
    hold_ttl_seconds: float | None = Field(None, gt=0, description="Hold lifetime (default 900 s).")
    steal_next_confirm: bool = Field(
        False, description="The next order finds its tickets bought by someone else: 409 SOLD_OUT."
    )
    confirm_reject_rate: float = Field(
        0,
        ge=0,
        le=1,
        description="Share of orders refused 409 SOLD_OUT (the hold is lost, its tickets return "
        "to sale): a steady partner rejection rate for load runs.",
    )
    seed: int | None = Field(
        None, description="Seed of the fault dice (default: the sandbox seed)."
    )

    def delay_seconds(self, rng: Any) -> float:
        if self.latency is not None:
            if self.latency.dist == "fixed":
                return (self.latency.ms or 0) / 1000
            return rng.uniform(self.latency.min_ms, self.latency.max_ms) / 1000
        return self.latency_ms / 1000


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


class FaultMiddleware:
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
