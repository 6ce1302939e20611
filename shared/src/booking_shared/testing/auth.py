"""Checks that a running service's internal API refuses calls without its credential: every
route the app has is enumerated (none listed by hand), so a route added later is covered."""

from __future__ import annotations

import re
from typing import Any

import httpx

from booking_shared.internal_auth import OPEN_PATHS, bearer

_PARAM = re.compile(r"\{[^}]+\}")


def guarded_routes(app: Any) -> list[tuple[str, str]]:
    """(method, concrete path) of every route of the app but the open probes."""
    out = []
    for route in app.routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if not path or not methods or path in OPEN_PATHS:
            continue
        concrete = _PARAM.sub("x1", path)
        out += [(m, concrete) for m in sorted(methods) if m != "HEAD"]
    return out


async def check_internal_routes_refuse_strangers(
    app: Any, base_url: str, token: str
) -> list[tuple[str, str]]:
    """Every guarded route: 401 without a credential, 403 with a wrong one (another service's
    or a forged one), and past the guard with the right one. Returns the routes checked."""
    routes = guarded_routes(app)
    assert routes, "the app has no route to guard"
    refused: list[str] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=20) as http:
        for method, path in routes:
            kw: dict[str, Any] = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            none = await http.request(method, path, **kw)
            schemes = await http.request(
                method, path, headers={"authorization": f"Basic {token}"}, **kw
            )
            wrong = await http.request(method, path, headers=bearer(token[:-1] + "x"), **kw)
            right = await http.request(method, path, headers=bearer(token), **kw)
            if none.status_code != 401 or schemes.status_code != 401 or wrong.status_code != 403:
                refused.append(
                    f"{method} {path}: {none.status_code}/{schemes.status_code}/{wrong.status_code}"
                )
            if right.status_code in (401, 403):
                refused.append(f"{method} {path}: the right credential got {right.status_code}")
    assert not refused, "routes that do not guard the internal API: " + "; ".join(refused)
    return routes
