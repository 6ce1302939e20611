"""The Eventbrite-style partner sandbox as a FastAPI app: v3 reads, partner-order writes, admin."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from .edge import SandboxEdge
from .faults import Faults
from .routes import admin, partner, shapes, v3
from .state import Clock, PartnerError, Sandbox


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        kind, parts = parts[0], parts[1:]
        if kind == "header" and parts:
            return "-".join(w.capitalize() for w in parts[0].replace("_", "-").split("-"))
    return ".".join(parts) or "body"


def create_app(
    seed: int = 42,
    clock: Clock | None = None,
    *,
    faults: Faults | None = None,
    sweep_seconds: float = 1.0,
) -> FastAPI:
    """Build a sandbox. `clock` returns an aware datetime (default: the real UTC clock)."""
    sandbox = Sandbox(seed=seed, clock=clock, faults=faults)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def sweep() -> None:
            while True:
                await asyncio.sleep(sweep_seconds)
                app.state.sandbox.expire_holds()

        task = asyncio.create_task(sweep()) if sweep_seconds > 0 else None
        try:
            yield
        finally:
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(title="Eventbrite-style partner sandbox", version="1", lifespan=lifespan)
    app.state.sandbox = sandbox
    app.include_router(v3.router)
    app.include_router(partner.router)
    app.include_router(admin.router)
    app.add_middleware(SandboxEdge, sandbox_ref=lambda: app.state.sandbox)

    @app.exception_handler(PartnerError)
    async def _partner_error(request: Request, exc: PartnerError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(v3.ArgumentsError)
    async def _arguments_error(request: Request, exc: v3.ArgumentsError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": "body" if e.get("type") == "json_invalid" else _field(e.get("loc", ())),
                "message": e.get("msg", "invalid"),
                "type": e.get("type"),
            }
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        if request.url.path.startswith("/v3/"):
            return JSONResponse(
                shapes.eventbrite_error(
                    400,
                    "ARGUMENTS_ERROR",
                    f"There are errors with your arguments: {first['field']} - INVALID",
                    {e["field"]: ["INVALID"] for e in errors},
                ),
                status_code=400,
            )
        return JSONResponse(
            {
                "code": "VALIDATION_ERROR",
                "message": f"{first['field']}: {first['message']}",
                "field": first["field"],
                "errors": errors,
            },
            status_code=422,
        )

    return app
