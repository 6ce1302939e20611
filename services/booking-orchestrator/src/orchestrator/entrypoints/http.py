"""Internal read/ops API for the gateway and operators (see the service README)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from booking_shared.contracts.internal.orchestrator import (
    ActionRequest,
    SagaList,
    SagaView,
    StuckSagaList,
)
from booking_shared.http import problem
from orchestrator import handlers
from orchestrator.adapters.repository import SagaRepository
from orchestrator.adapters.views import saga_view, stuck_view, summary_view
from orchestrator.domain.model import NotAllowed, OperatorKind, SagaState

router = APIRouter(prefix="/internal/sagas", tags=["sagas"])

Provider = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        description="Only sagas with an item at this provider (routed to it, or not routed yet "
        "and of a booking type it declared).",
    ),
]
BookingId = Annotated[str, Path(min_length=1, max_length=64, description="The booking (saga) id.")]


def _runtime(request: Request) -> Any:
    return request.app.state.runtime


def _not_found(booking_id: str) -> JSONResponse:
    return problem(
        404,
        "Saga not found",
        f"No saga for booking {booking_id}",
        errors=[{"field": "booking_id", "message": "no such booking"}],
    )


async def _detail(rt: Any, booking_id: str) -> dict[str, Any] | None:
    async with rt.pool.acquire() as conn:
        repo = SagaRepository(conn)
        saga = await repo.load(booking_id, lock=False)
        if saga is None:
            return None
        return saga_view(saga, await repo.history(booking_id))


@router.get(
    "",
    summary="Sagas filtered by state and age (stuck ones: older_than_s since their last change)",
    response_model=SagaList,
)
async def list_sagas(
    request: Request,
    state: Annotated[SagaState | None, Query(description="Only sagas in this state.")] = None,
    older_than_s: Annotated[
        float | None, Query(ge=0, description="Unchanged for at least this many seconds.")
    ] = None,
    user_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    provider: Provider = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    rt = _runtime(request)
    deps: handlers.Deps = rt.deps
    async with rt.pool.acquire() as conn:
        rows, total = await SagaRepository(conn).search(
            state=state.value if state else None,
            older_than=handlers.older_than(older_than_s, deps.clock()),
            user_id=user_id,
            provider=provider,
            limit=limit,
            offset=offset,
        )
    return {"sagas": [summary_view(r) for r in rows], "total": total}


@router.get(
    "/stuck",
    summary="Stuck sagas, most urgent first, each with its reason: COMPENSATION_FAILED, flagged "
    "for operators, a step past its deadline, compensating too long",
    response_model=StuckSagaList,
)
async def list_stuck_sagas(
    request: Request,
    compensating_longer_than_s: Annotated[
        float | None,
        Query(
            ge=0,
            description="COMPENSATING for longer than this is stuck (default: the "
            "STUCK_COMPENSATING_S setting).",
        ),
    ] = None,
    provider: Provider = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    rt = _runtime(request)
    deps: handlers.Deps = rt.deps
    limit_s = (
        compensating_longer_than_s
        if compensating_longer_than_s is not None
        else rt.settings.stuck_compensating_s
    )
    now = deps.clock()
    async with rt.pool.acquire() as conn:
        rows, total = await SagaRepository(conn).stuck(
            now=now,
            compensating_since=now - timedelta(seconds=limit_s),
            provider=provider,
            limit=limit,
            offset=offset,
        )
    return {"sagas": [stuck_view(r, limit_s) for r in rows], "total": total}


@router.get(
    "/{booking_id}",
    summary="A saga with its items, payment, steps and history",
    response_model=SagaView,
)
async def get_saga(request: Request, booking_id: BookingId) -> Any:
    view = await _detail(_runtime(request), booking_id)
    return view if view is not None else _not_found(booking_id)


async def _act(
    request: Request, booking_id: str, action: OperatorKind, body: ActionRequest
) -> dict[str, Any] | JSONResponse:
    rt = _runtime(request)
    try:
        await handlers.act_on_saga(rt.pool, booking_id, action, body.actor, body.reason, rt.deps)
    except handlers.SagaNotFound:
        return _not_found(booking_id)
    except NotAllowed as exc:
        return problem(
            409, "Action not allowed", str(exc), errors=[{"field": "action", "message": str(exc)}]
        )
    rt.relay.wake()
    view = await _detail(rt, booking_id)
    assert view is not None
    return view


@router.post(
    "/{booking_id}/retry",
    summary="Resend the stuck step(s) now (same command ids)",
    response_model=SagaView,
)
async def retry(request: Request, booking_id: BookingId, body: ActionRequest) -> Any:
    return await _act(request, booking_id, "retry", body)


@router.post(
    "/{booking_id}/compensate",
    summary="Force compensation (before capture)",
    response_model=SagaView,
)
async def compensate(request: Request, booking_id: BookingId, body: ActionRequest) -> Any:
    return await _act(request, booking_id, "compensate", body)


@router.post(
    "/{booking_id}/pause",
    summary="Freeze the saga: deadlines wait, messages are parked",
    response_model=SagaView,
)
async def pause(request: Request, booking_id: BookingId, body: ActionRequest) -> Any:
    return await _act(request, booking_id, "pause", body)


@router.post(
    "/{booking_id}/resume",
    summary="Unfreeze: parked messages are applied in order",
    response_model=SagaView,
)
async def resume(request: Request, booking_id: BookingId, body: ActionRequest) -> Any:
    return await _act(request, booking_id, "resume", body)
