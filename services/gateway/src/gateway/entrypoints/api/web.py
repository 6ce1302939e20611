"""Routes the web pages need: a single-use ticket for the event stream (EventSource sends no
Authorization header), saga counts per state and the dead-letter topics for the ops dashboard."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from gateway.entrypoints.api import examples as ex
from gateway.entrypoints.api.auth import CurrentUser, OpsPrincipal, get_deps
from gateway.entrypoints.api.problems import GuardedRoute
from gateway.entrypoints.api.schemas import ID_PATTERN
from gateway.handlers import web as handler

router = APIRouter(prefix="/v1", route_class=GuardedRoute)

TICKET_EX = {"ticket": "st_q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c", "expires_in_s": 60.0}
COUNTS_EX = {
    "counts": {
        s: (3 if s == "CONFIRMED" else 1 if s == "HOLDING" else 0) for s in handler.SAGA_STATES
    },
    "total": 4,
}
DLQ_EX = {
    "topics": [
        {
            "topic": "payment.replies.v1.dlq",
            "total": 1,
            "records": [
                {
                    "partition": 0,
                    "offset": 0,
                    "timestamp": 1_767_225_600_000,  # ms since the epoch (2026-01-01)
                    "headers": {
                        "dlq_error": "ValidationError: amount_minor must be >= 0",
                        "dlq_attempts": "3",
                        "dlq_source_topic": "payment.replies.v1",
                        "dlq_consumer": "booking-orchestrator",
                    },
                    "value": {"type": "PaymentAuthorized", "payload": {"booking_id": ex.BK}},
                }
            ],
        }
    ]
}


@router.post(
    "/bookings/{booking_id}/stream-ticket",
    status_code=201,
    tags=["bookings"],
    summary="A single-use ticket to open the booking's event stream from a browser",
    description="EventSource cannot send an Authorization header, so a page asks for a ticket with its bearer "
    "token and opens `GET /v1/bookings/{id}/events?ticket=...`. The ticket works once, for this booking, for "
    "STREAM_TICKET_TTL_S (60 s); only its SHA-256 is stored. The bearer token never goes into a URL.",
    responses={
        **ex.ok(TICKET_EX, 201, "Created"),
        **ex.problems("unauthorized", "booking_404", "invalid"),
    },
)
async def stream_ticket(
    request: Request,
    user: CurrentUser,
    booking_id: Annotated[str, Path(pattern=ID_PATTERN, examples=[ex.BK])],
) -> dict[str, Any]:
    return await handler.issue_stream_ticket(get_deps(request), user, booking_id)


@router.get(
    "/ops/saga-counts",
    tags=["ops"],
    summary="How many sagas are in each state (ops role)",
    responses={**ex.ok(COUNTS_EX), **ex.problems("unauthorized", "forbidden", "upstream")},
)
async def saga_counts(request: Request, p: OpsPrincipal) -> dict[str, Any]:
    return await handler.saga_counts(get_deps(request), p)


@router.get(
    "/ops/dead-letters",
    tags=["ops"],
    summary="The newest records of every dead-letter topic (<topic>.dlq), read from the broker (ops role)",
    responses={**ex.ok(DLQ_EX), **ex.problems("unauthorized", "forbidden", "invalid", "upstream")},
)
async def dead_letters(
    request: Request,
    p: OpsPrincipal,
    per_topic: Annotated[int, Query(ge=1, le=200, description="Newest records per topic.")] = 20,
) -> dict[str, Any]:
    return await handler.read_dead_letters(get_deps(request), p, per_topic)
