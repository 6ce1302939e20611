"""The ops API: sagas by state, age, provider and user, the stuck ones with their reasons, one
saga's history, and operator actions, proxied to the orchestrator's internal API (which filters
and pages: it knows every saga's items and their providers) with the operator recorded as the
actor."""

from __future__ import annotations

from typing import Any

from gateway.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    UpstreamRejected,
    upstream_field_errors,
)
from gateway.handlers.deps import Deps
from gateway.handlers.users import Principal


async def list_sagas(deps: Deps, principal: Principal, params: dict[str, Any]) -> dict[str, Any]:
    principal.require_ops()
    try:
        return (await deps.orchestrator.list_sagas(params)).model_dump(mode="json")
    except UpstreamRejected as exc:
        raise _mapped(exc, "state") from None


async def list_stuck_sagas(
    deps: Deps, principal: Principal, params: dict[str, Any]
) -> dict[str, Any]:
    principal.require_ops()
    try:
        return (await deps.orchestrator.list_stuck(params)).model_dump(mode="json")
    except UpstreamRejected as exc:
        raise _mapped(exc, "compensating_longer_than_s") from None


async def get_saga(deps: Deps, principal: Principal, booking_id: str) -> dict[str, Any]:
    principal.require_ops()
    saga = await deps.orchestrator.get_saga(booking_id)
    if saga is None:
        raise NotFound("saga", "booking_id")
    return saga.model_dump(mode="json")


async def act_on_saga(
    deps: Deps, principal: Principal, booking_id: str, action: str, reason: str
) -> dict[str, Any]:
    principal.require_ops()
    try:
        saga = await deps.orchestrator.act(booking_id, action, principal.actor, reason)
    except UpstreamRejected as exc:
        raise _mapped(exc, "booking_id") from None
    if saga is None:
        raise NotFound("saga", "booking_id")
    return saga.model_dump(mode="json")


def _mapped(exc: UpstreamRejected, default_field: str) -> Exception:
    detail = str(exc.body.get("detail") or exc.body.get("title") or "the orchestrator refused")
    if exc.status == 404:
        return NotFound("saga", "booking_id")
    if exc.status == 409:
        return Conflict("saga-conflict", detail, default_field)
    return InvalidInput(detail, upstream_field_errors(exc.body, default_field))
