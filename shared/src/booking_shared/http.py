"""HTTP errors as application/problem+json (RFC 9457) that name the offending field."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str = "", errors: list[dict[str, Any]] | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path", "header")]
        out.append({"field": ".".join(loc) or "body", "message": e.get("msg", ""), "in": (e.get("loc") or ["body"])[0]})
    return out


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(exc)
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem(422, "Invalid request", f"Check these fields: {fields}", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else ""
        extra = exc.detail if isinstance(exc.detail, dict) else {}
        return problem(exc.status_code, extra.pop("title", detail or "Error"), extra.pop("detail", detail), headers=exc.headers, **extra)


def path_segment(value: object) -> str:
    """An id made safe to put in a URL path as one segment: every reserved character quoted, so
    that '/', '?', '#' or '%' in an id can never reach another resource; an empty or dot segment,
    which a server may resolve to the parent, is refused."""
    text = str(value)
    if text in ("", ".", ".."):
        raise ValueError(f"not a usable path segment: {text!r}")
    return quote(text, safe="")
