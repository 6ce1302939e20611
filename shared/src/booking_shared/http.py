"""HTTP errors as application/problem+json (RFC 9457) that name the offending field."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM = "application/problem+json"
# Header names as a client writes them (FastAPI reports them lower-cased, with underscores).
HEADER_NAMES = {
    "idempotency-key": "Idempotency-Key",
    "authorization": "Authorization",
    "last-event-id": "Last-Event-ID",
}


def problem(
    status: int,
    title: str,
    detail: str = "",
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    type_: str = "about:blank",
    instance: str | None = None,
    **extra: Any,
) -> JSONResponse:
    """The one problem+json answer of every service: type, title, status, detail, then instance
    and errors ([{field, message}]) when given, then extra members (those that are None left out)."""
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    if instance is not None:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = [dict(e) for e in errors]
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM, headers=dict(headers or {}) or None
    )


def field_name(loc: Sequence[Any]) -> str:
    """('body', 'items', 0, 'cost') -> 'items[0].cost'; ('header', 'idempotency-key') -> 'Idempotency-Key'."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        source = parts.pop(0)
        if source == "header" and parts:
            name = str(parts[0]).replace("_", "-").lower()
            return HEADER_NAMES.get(name, "-".join(w.capitalize() for w in name.split("-")))
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif "[" in str(p) or str(p).startswith("function-"):
            continue  # pydantic's internal validator names
        else:
            out += ("." if out else "") + str(p)
    return out or "body"


def error_message(err: Mapping[str, Any]) -> str:
    """A pydantic error's message for people: without pydantic's prefixes, never echoing input."""
    msg = str(err.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if err.get("type") == "missing":
        msg = "this field is required"
    elif err.get("type") == "extra_forbidden":
        msg = "unknown field" + (f"; {err['hint']}" if err.get("hint") else "")
    elif err.get("type") in ("too_short", "too_long") and msg.startswith("Value should have"):
        # A secret (SecretStr: a password) is measured in characters, not pydantic's "items".
        msg = msg.replace(" items after validation", " characters").replace(
            " item after validation", " character"
        )
    return msg


def field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    return [
        {"field": field_name(e.get("loc", ())), "message": error_message(e)} for e in exc.errors()
    ]


def validation_problem(
    exc: RequestValidationError,
    *,
    type_for: Callable[[str], str] = lambda slug: "about:blank",
    instance: str | None = None,
) -> JSONResponse:
    """FastAPI's own validation errors as problem+json: 400 for a body that is not JSON, else 422
    naming every field at fault. `type_for(slug)` gives the type URI (malformed-json, invalid-input)."""
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        return problem(
            400,
            "Malformed JSON",
            "the request body is not valid JSON",
            [{"field": "body", "message": "not valid JSON"}],
            type_=type_for("malformed-json"),
            instance=instance,
        )
    errors = field_errors(exc)
    names = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return problem(
        422,
        "Invalid input",
        f"invalid input: {names}",
        errors,
        type_=type_for("invalid-input"),
        instance=instance,
    )


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_problem(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        raw: object = exc.detail  # typed str by Starlette; FastAPI's HTTPException takes any
        detail = raw if isinstance(raw, str) else ""
        extra: dict[str, Any] = raw if isinstance(raw, dict) else {}
        return problem(
            exc.status_code,
            extra.pop("title", detail or "Error"),
            extra.pop("detail", detail),
            headers=exc.headers,
            **extra,
        )


def path_segment(value: object) -> str:
    """An id made safe to put in a URL path as one segment: every reserved character quoted, so
    that '/', '?', '#' or '%' in an id can never reach another resource; an empty or dot segment,
    which a server may resolve to the parent, is refused."""
    text = str(value)
    if text in ("", ".", ".."):
        raise ValueError(f"not a usable path segment: {text!r}")
    return quote(text, safe="")
