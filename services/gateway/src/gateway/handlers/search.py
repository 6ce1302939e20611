"""Search across providers at once: each asked concurrently with a timeout; one that does not
answer in time is named in missing_providers and the others still answer."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic import ValidationError

from booking_shared.contracts.internal.provider import SearchResult
from booking_shared.contracts.items import BookingItem
from gateway.domain.errors import UpstreamRejected, UpstreamUnavailable
from gateway.handlers import routing
from gateway.handlers.deps import Deps
from gateway.metrics import PROVIDER_MISSING

log = logging.getLogger(__name__)


async def search(deps: Deps, params: dict[str, Any], types: list[str]) -> dict[str, Any]:
    timeout = deps.settings.search_timeout_s
    known = await routing.routes(deps, timeout)
    # Providers never heard may serve any type: asked too, and named missing if still down.
    wanted = {known.by_type[t] for t in types if t in known.by_type} | set(known.unheard)
    names = sorted(n for n in wanted if n in deps.providers)

    async def one(name: str) -> SearchResult:
        return await asyncio.wait_for(deps.providers[name].search(params, timeout), timeout)

    answers = await asyncio.gather(*(one(n) for n in names), return_exceptions=True)
    results: list[dict[str, Any]] = []
    answered: list[str] = []
    missing: list[str] = []
    for name, ans in zip(names, answers, strict=True):
        if isinstance(ans, BaseException):
            if not isinstance(ans, UpstreamUnavailable | UpstreamRejected | TimeoutError):
                log.warning("provider search failed", extra={"provider": name, "error": repr(ans)})
            missing.append(name)
            PROVIDER_MISSING.labels(name).inc()
            continue
        answered.append(name)
        for entry in ans.items:
            merged = _entry(name, entry.model_dump(mode="json"), ans.timezone)
            if merged is not None and merged["booking_type"] in types:
                results.append(merged)
    results.sort(key=lambda r: (r["item"]["start_time"], r["provider"], r["item"]["id"]))
    return {
        "date": params.get("date"),
        "results": results,
        "providers": answered,
        "missing_providers": missing,
    }


def _entry(provider: str, entry: dict[str, Any], timezone: str | None) -> dict[str, Any] | None:
    """One search result, with its item normalised to the BookingItem shape /v1/quotes takes."""
    try:
        item = BookingItem.model_validate(entry["item"])
    except (ValidationError, KeyError, TypeError, ValueError):
        log.warning(
            "provider returned an item that is not a BookingItem; skipped",
            extra={"provider": provider},
        )
        return None
    return {
        "provider": provider,
        "booking_type": item.booking_type,
        "item": item.model_dump(mode="json", exclude_none=True),
        "price": entry.get("price"),
        "timezone": entry.get("timezone") or timezone,
        "cancellation_policy": entry.get("cancellation_policy"),
        "available": bool(entry.get("available", True)),
        "details": entry.get("details") or {},
    }
