"""Errors as application/problem+json (RFC 9457) naming the fields at fault, FastAPI's own 422s
included; and the route class that refuses card numbers before anything runs.
Request bodies are never logged nor echoed back."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from booking_shared import http
from booking_shared.http import field_name
from booking_shared.pan import find_pans, json_leaves, looks_like_pan
from gateway.domain import idempotency
from gateway.domain.errors import FieldError, GatewayError, UpstreamRejected
from gateway.entrypoints.api.schemas import PreferencesPatch

log = logging.getLogger(__name__)

DEFAULT_TYPE_BASE = "https://booking.local/problems/"


def _type_base(request: Request) -> str:
    rt = getattr(request.app.state, "runtime", None)
    return getattr(getattr(rt, "settings", None), "problem_type_base", DEFAULT_TYPE_BASE)


def problem(
    request: Request,
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The shared problem+json answer with the gateway's type URIs and the request's path."""
    return http.problem(
        status,
        title,
        detail,
        [{"field": e.field, "message": e.message} for e in errors],
        headers,
        type_=_type_base(request) + slug,
        instance=request.url.path,
        **extra,
    )


async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errs = list(exc.errors())
    header_errors = {
        field_name(e.get("loc", ())) for e in errs if e.get("loc", ("",))[0] == "header"
    }
    json_invalid = any(e.get("type") == "json_invalid" for e in errs)
    if (
        "Idempotency-Key" in header_errors and not json_invalid
    ):  # the header; a body member of that name is a 422
        raw = request.headers.get("idempotency-key")
        why = idempotency.key_problem(idempotency.normalize(raw)) or "malformed Idempotency-Key"
        fields = [FieldError("Idempotency-Key", why)]
        return problem(
            request,
            400,
            "idempotency-key-missing",
            "Idempotency-Key required",
            fields[0].message,
            fields,
        )
    _hint_misplaced_preferences(errs)
    base = _type_base(request)
    return http.validation_problem(
        exc, type_for=lambda slug: base + slug, instance=request.url.path
    )


async def on_gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
    headers = dict(exc.headers)
    if exc.status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="booking"')
    return problem(
        request, exc.status, exc.slug, exc.title, exc.detail, exc.errors, headers, **exc.extra
    )


async def on_upstream_rejected(request: Request, exc: UpstreamRejected) -> JSONResponse:
    # A 4xx from another service that no handler expected: our bug or theirs, not the caller's.
    log.error(
        "unexpected answer from another service",
        extra={"service": exc.service, "status": exc.status},
    )
    return problem(
        request, 502, "bad-gateway", "Bad gateway", f"the {exc.service} service refused the request"
    )


async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    titles = {404: "Not found", 405: "Method not allowed", 413: "Payload too large"}
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        # Starlette names only the first route whose path matched; the path may have more.
        headers["Allow"] = ", ".join(allowed_methods(request))
    return problem(
        request,
        exc.status_code,
        {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error"),
        titles.get(exc.status_code, "HTTP error"),
        str(exc.detail),
        headers=headers or None,
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method that some route serves at this path (asked of the router itself, so that
    included routers count too)."""
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", extra={"path": request.url.path})
    return problem(
        request, 500, "internal-error", "Internal error", "something went wrong on our side"
    )


def install(app: FastAPI) -> None:
    # The decorator form: Starlette types add_exception_handler() for handlers of any Exception.
    app.exception_handler(RequestValidationError)(on_validation_error)
    app.exception_handler(GatewayError)(on_gateway_error)
    app.exception_handler(UpstreamRejected)(on_upstream_rejected)
    app.exception_handler(StarletteHTTPException)(on_http_error)
    app.exception_handler(Exception)(on_unexpected)


class GuardedRoute(APIRoute):
    """Before validation: 422 for anything that looks like a card number in the body, the query or
    the path (the field named, the value never echoed); 415 for a body that is not JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            refused = await screen(request)
            return refused if refused is not None else await handler(request)

        return guarded


async def screen(request: Request) -> Response | None:
    # The body's size was enforced while it streamed in (body_limit.BodyLimit).
    for name, value in list(request.query_params.multi_items()) + list(request.path_params.items()):
        if looks_like_pan(str(value)):
            return _pan(request, [name])
    body = await request.body()  # cached on the request: the route reads the same bytes
    if not body:
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        if looks_like_pan(body.decode(errors="replace")):
            return _pan(request, ["body"])
        parsed = None  # FastAPI reports malformed JSON itself
    else:
        fields = list(dict.fromkeys(find_pans(parsed)))
        if fields:
            return _pan(request, fields)
        fields = list(dict.fromkeys(find_unstorable(parsed)))
        if fields:
            msg = "contains a NUL character or an unpaired surrogate, which is not text"
            return problem(
                request,
                422,
                "invalid-input",
                "Invalid input",
                f"invalid input: {', '.join(fields)}",
                [FieldError(f, msg) for f in fields],
            )
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        msg = "send the body as application/json"
        return problem(
            request,
            415,
            "unsupported-media-type",
            "Unsupported media type",
            msg,
            [FieldError("Content-Type", msg)],
        )
    return None


def _not_text(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def find_unstorable(value: Any, path: str = "") -> Iterator[str]:
    """Paths of JSON strings (members' names too) that no text column can hold: a NUL, or a
    lone surrogate from a \\ud800-style escape. Refused as input, never a 500 at the database."""
    for where, leaf in json_leaves(value, path):
        if isinstance(leaf, str) and _not_text(leaf):
            yield where


def _pan(request: Request, fields: list[str]) -> JSONResponse:
    msg = "looks like a card number: card numbers are never accepted here; save a card with a SetupIntent instead"
    return problem(
        request,
        422,
        "card-number-refused",
        "Card numbers are not accepted",
        msg,
        [FieldError(f, msg) for f in fields],
    )


def _hint_misplaced_preferences(errs: Sequence[dict[str, Any]]) -> None:
    """A preference sent at the top level of a profile (`{"auto_book_enabled": true}`) is an
    unknown field there: say where it belongs."""
    for e in errs:
        loc = tuple(e.get("loc", ()))
        if e.get("type") == "extra_forbidden" and len(loc) == 2 and loc[0] == "body":
            if loc[1] in PreferencesPatch.model_fields:
                e["hint"] = (
                    f'it belongs under "preferences": {{"preferences": {{"{loc[1]}": ...}}}}'
                )
