"""The OpenTable-style partner sandbox: a FastAPI app over an in-memory, seeded restaurant world."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from .edge import SandboxEdge
from .faults import Faults
from .routes.admin import admin
from .routes.partner import v1
from .state import Clock, Sandbox, SandboxError


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _field_of(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def create_app(
    seed: int = 42, clock: Clock | None = None, faults: Faults | dict[str, Any] | None = None
) -> FastAPI:
    """A fresh sandbox. `clock` returns an aware 'now' (defaults to real UTC time)."""
    if isinstance(faults, dict):
        faults = Faults.model_validate(faults)
    sandbox = Sandbox(seed, clock or _utc_now, faults or Faults())

    app = FastAPI(
        title="OpenTable-style partner sandbox",
        version="1.0",
        description="Imitates OpenTable's partner booking flow: slot lock -> make -> cancel.",
    )
    app.state.sandbox = sandbox
    app.add_middleware(SandboxEdge, dice=sandbox.dice, state=sandbox.edge)

    @app.exception_handler(SandboxError)
    async def _sandbox_error(request: Request, exc: SandboxError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = []
        for err in exc.errors():
            name = "body" if err.get("type") == "json_invalid" else _field_of(err.get("loc", ()))
            details.append({"field": name, "message": err.get("msg", "invalid")})
        first = details[0] if details else {"field": "body", "message": "invalid"}
        return JSONResponse(
            {
                "error": {
                    "code": "invalid_request",
                    "message": f"{first['field']}: {first['message']}",
                    "field": first["field"],
                    "details": details,
                }
            },
            status_code=422,
        )

    app.include_router(v1)
    app.include_router(admin)

    @app.get("/health", include_in_schema=False)
    async def health() -> dict:
        return {"status": "ok"}

    return app
