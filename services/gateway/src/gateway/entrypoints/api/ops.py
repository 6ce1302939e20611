"""/v1/ops: sagas by state, age, provider and user, the stuck ones with their reasons, one saga's
history, operator actions (ops role)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request

from gateway.entrypoints.api import examples as ex
from gateway.entrypoints.api.auth import OpsPrincipal, get_deps
from gateway.entrypoints.api.problems import GuardedRoute
from gateway.entrypoints.api.schemas import ID_PATTERN, SagaAction
from gateway.handlers import ops as handler

router = APIRouter(prefix="/v1/ops", tags=["ops"], route_class=GuardedRoute)

ProviderFilter = Annotated[
    str | None,
    Query(
        pattern=r"^[a-z0-9_-]{1,40}$",
        description="Only sagas with an item at this provider (the orchestrator filters, so "
        "`total` and the pages count only those).",
        examples=["opentable"],
    ),
]


@router.get(
    "/sagas",
    summary="Sagas by state and age (stuck ones)",
    responses={
        **ex.ok(ex.SAGAS),
        **ex.problems("unauthorized", "forbidden", "invalid", "upstream"),
    },
)
async def list_sagas(
    request: Request,
    p: OpsPrincipal,
    state: Annotated[str | None, Query(pattern=r"^[A-Z_]{1,40}$", examples=["HOLDING"])] = None,
    older_than_s: Annotated[
        int | None, Query(ge=0, description="Not updated for this long.", examples=[60])
    ] = None,
    user_id: Annotated[
        str | None, Query(pattern=ID_PATTERN, examples=["usr_0193b2c4d5e6a1b2c3d4e5f6"])
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    provider: ProviderFilter = None,
) -> dict[str, Any]:
    params = {
        "state": state,
        "older_than_s": older_than_s,
        "user_id": user_id,
        "provider": provider,
        "limit": limit,
        "offset": offset,
    }
    return await handler.list_sagas(get_deps(request), p, params)


@router.get(
    "/stuck-sagas",
    summary="Stuck sagas, most urgent first, each with its reason",
    description="COMPENSATION_FAILED first, then sagas flagged for operators, then those with a "
    "step past its deadline (its command unanswered past the deadline the saga persisted, resent "
    "or not), then those COMPENSATING for longer than `compensating_longer_than_s` (default: the "
    "orchestrator's STUCK_COMPENSATING_S, 120 s). Answered by the orchestrator from its own "
    "tables; `total` counts every stuck saga that matches, across pages.",
    responses={
        **ex.ok(ex.STUCK_SAGAS),
        **ex.problems("unauthorized", "forbidden", "invalid", "upstream"),
    },
)
async def list_stuck_sagas(
    request: Request,
    p: OpsPrincipal,
    compensating_longer_than_s: Annotated[
        int | None,
        Query(ge=0, le=86_400 * 30, description="Compensating for longer than this is stuck."),
    ] = None,
    provider: ProviderFilter = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    params = {
        "compensating_longer_than_s": compensating_longer_than_s,
        "provider": provider,
        "limit": limit,
        "offset": offset,
    }
    return await handler.list_stuck_sagas(get_deps(request), p, params)


@router.get(
    "/sagas/{booking_id}",
    summary="One saga: state, items, payment, steps and full history",
    responses={
        **ex.ok(ex.SAGA),
        **ex.problems("unauthorized", "forbidden", "saga_404", "upstream"),
    },
)
async def get_saga(
    request: Request,
    p: OpsPrincipal,
    booking_id: Annotated[str, Path(pattern=ID_PATTERN, examples=[ex.BK])],
) -> dict[str, Any]:
    return await handler.get_saga(get_deps(request), p, booking_id)


@router.post(
    "/sagas/{booking_id}/{action}",
    summary="Operator action: retry the stuck step, force compensation, pause or resume",
    description="Proxied to the orchestrator with you as the actor; recorded in the saga's history.",
    responses={
        **ex.ok(ex.SAGA),
        **ex.problems(
            "unauthorized", "forbidden", "saga_404", "saga_conflict", "invalid", "upstream"
        ),
    },
)
async def act(
    request: Request,
    p: OpsPrincipal,
    booking_id: Annotated[str, Path(pattern=ID_PATTERN, examples=[ex.BK])],
    action: Annotated[Literal["retry", "compensate", "pause", "resume"], Path(examples=["retry"])],
    body: Annotated[
        SagaAction,
        Body(openapi_examples=ex.body(retry={"reason": "partner back up; retrying the hold"})),
    ],
) -> dict[str, Any]:
    return await handler.act_on_saga(get_deps(request), p, booking_id, action, body.reason)
