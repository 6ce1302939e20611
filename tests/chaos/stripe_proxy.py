"""A loopback fault proxy in front of the Stripe emulator, for the chaos harness: the payment
service talks to Stripe through it, and the harness makes Stripe slow, failing, or losing
answers to requests it did carry out.

    python tests/chaos/stripe_proxy.py --port P --upstream http://127.0.0.1:8420

`PUT /_proxy/faults` sets (and `GET` shows) the faults with the counts so far:
- latency_min_ms, latency_max_ms: a delay drawn uniformly before each request;
- error_rate: share of requests answered 500 (a Stripe `api_error`) without reaching Stripe;
- lost_answer_rate: share of requests carried out by Stripe whose answer is replaced by a 502.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEFAULTS: dict[str, float] = {
    "latency_min_ms": 0,
    "latency_max_ms": 0,
    "error_rate": 0,
    "lost_answer_rate": 0,
}
HOP_BY_HOP = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}


def create_app(upstream: str, seed: int = 1) -> Starlette:
    faults: dict[str, float] = dict(DEFAULTS)
    counts = {"requests": 0, "errors": 0, "lost_answers": 0}
    rng = random.Random(seed)
    client = httpx.AsyncClient(base_url=upstream, timeout=60)

    async def admin(request: Request) -> JSONResponse:
        if request.method == "PUT":
            body: dict[str, Any] = await request.json()
            unknown = set(body) - set(DEFAULTS)
            if unknown:
                return JSONResponse(
                    {"error": f"unknown fault fields: {sorted(unknown)}"}, status_code=422
                )
            faults.clear()
            faults.update({**DEFAULTS, **{k: float(v) for k, v in body.items()}})
        return JSONResponse({"faults": faults, "counts": counts})

    async def forward(request: Request) -> Response:
        counts["requests"] += 1
        delay = rng.uniform(
            faults["latency_min_ms"], max(faults["latency_min_ms"], faults["latency_max_ms"])
        )
        if delay:
            await asyncio.sleep(delay / 1000)
        if rng.random() < faults["error_rate"]:
            counts["errors"] += 1
            return JSONResponse(
                {"error": {"type": "api_error", "message": "injected failure (chaos proxy)"}},
                status_code=500,
            )
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        r = await client.request(
            request.method,
            request.url.path,
            params=request.url.query or None,
            content=await request.body(),
            headers=headers,
        )
        if rng.random() < faults["lost_answer_rate"]:
            counts["lost_answers"] += 1
            return JSONResponse(
                {"error": {"type": "api_error", "message": "answer lost (chaos proxy)"}},
                status_code=502,
            )
        keep = {
            k: v for k, v in r.headers.items() if k.lower() not in HOP_BY_HOP | {"content-encoding"}
        }
        return Response(r.content, status_code=r.status_code, headers=keep)

    methods = ["GET", "POST", "DELETE", "PUT", "PATCH"]
    return Starlette(
        routes=[
            Route("/_proxy/faults", admin, methods=["GET", "PUT"]),
            Route("/{path:path}", forward, methods=methods),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    uvicorn.run(
        create_app(args.upstream, args.seed), host="127.0.0.1", port=args.port, log_level="warning"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
