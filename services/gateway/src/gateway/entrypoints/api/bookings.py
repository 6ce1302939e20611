"""/v1/bookings: one-click booking, status, the SSE stream, the calendar, cancellation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from sse_starlette.sse import EventSourceResponse

from gateway.domain.idempotency import KEY_PATTERN
from gateway.entrypoints.api import examples as ex
from gateway.entrypoints.api.auth import CurrentUser, bearer, client_info, get_deps, principal
from gateway.entrypoints.api.problems import GuardedRoute
from gateway.entrypoints.api.schemas import (
    ID_PATTERN,
    BookingAccepted,
    BookingPage,
    BookingRequest,
    BookingView,
    CancelAccepted,
    CancelQuoteView,
    CancelRequest,
)
from gateway.handlers import bookings as handler
from gateway.handlers import web

router = APIRouter(prefix="/v1/bookings", tags=["bookings"], route_class=GuardedRoute)

BOOKING_ID = Path(pattern=ID_PATTERN, description="A booking of yours.", examples=[ex.BK])


def _answer(a: handler.Answer) -> JSONResponse:
    headers = dict(a.headers)
    if a.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(a.body, status_code=a.status, headers=headers)


@router.post(
    "",
    status_code=202,
    response_model=BookingAccepted,
    summary="Book a quote with one click (Idempotency-Key required)",
    description=(
        "Checks consent (your preferences: allowed booking types, max_auto_spend, require_confirmation_above; "
        "or `confirm: true`), records the evidence (who, when, amount, quote, user agent, IP), and hands the "
        "booking to the saga. Answers 202 with the booking id and a Location; follow it with GET or the SSE "
        "stream.\n\nIdempotency-Key (draft-ietf-httpapi-idempotency-key-header): missing -> 400; same key and "
        "same body -> the first answer again (header Idempotent-Replayed: true); same key and another body -> "
        "422; same key while the first request is still running -> 409. A request refused with a 4xx leaves "
        "the key unused.\n\nThe guest (`guest`, else your profile) must have every detail the items' "
        "providers declare they need (e.g. a restaurant: last name and phone); else 422 "
        "`guest-details-required` naming each field (`guest.last_name`, `guest.phone`), before anything "
        "is held or authorized."
    ),
    responses={
        **ex.ok(ex.ACCEPTED, 202, "Accepted; Location: /v1/bookings/{id}"),
        **ex.problems(
            "idem_missing",
            "malformed",
            "unauthorized",
            "consent",
            "quote_404",
            "pm_404",
            "idem_in_flight",
            "idem_reused",
            "no_card",
            "guest_details",
            "pan",
            "rate",
            "upstream",
        ),
    },
)
async def create_booking(
    request: Request,
    user: CurrentUser,
    body: Annotated[
        BookingRequest,
        Body(
            openapi_examples=ex.body(
                confirmed={"quote_id": ex.QT, "mode": "all_or_nothing", "confirm": True},
                within_preferences={
                    "quote_id": ex.QT,
                    "payment_method_id": "pm_1Pq2w3",
                    "mode": "best_effort",
                    "confirm": False,
                },
                one_word_name_supplying_the_rest={
                    "quote_id": ex.QT,
                    "confirm": True,
                    "guest": {
                        "first_name": "Madonna",
                        "last_name": "Ciccone",
                        "email": "madonna@example.com",
                        "phone": "+1 212 555 0100",
                    },
                },
                for_a_guest={
                    "quote_id": ex.QT,
                    "confirm": True,
                    "guest": {
                        "first_name": "Rui",
                        "last_name": "Costa",
                        "email": "rui@example.com",
                        "phone": "+351 913 000 000",
                    },
                },
            )
        ),
    ],
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            pattern=KEY_PATTERN,
            description="A unique key per booking attempt, e.g. a UUID: printable ASCII without"
            ' spaces or quotes, at most 255 characters, bare or as a "quoted" string.',
            examples=["8e03978e-40d5-43e8-bc93-6894a57f9324"],
        ),
    ],
) -> JSONResponse:
    cmd = handler.BookingCommand(
        quote_id=body.quote_id,
        mode=body.mode,
        confirm=body.confirm,
        payment_method_id=body.payment_method_id,
        guest=body.guest.details() if body.guest else None,
    )
    answer = await handler.request_booking(
        get_deps(request),
        user,
        cmd,
        idempotency_key,
        body.model_dump(mode="json"),
        client_info(request),
    )
    return _answer(answer)


@router.get(
    "",
    response_model=BookingPage,
    summary="Your bookings, newest first (cursor pagination)",
    responses={**ex.ok(ex.PAGE), **ex.problems("unauthorized", "invalid", "cursor_404")},
)
async def list_bookings(
    request: Request,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=100, examples=[20])] = 20,
    cursor: Annotated[
        str | None,
        Query(
            pattern=ID_PATTERN,
            description="next_cursor of the previous page (the id of its last booking).",
        ),
    ] = None,
    state: Annotated[str | None, Query(pattern=r"^[A-Z_]{1,40}$", examples=["CONFIRMED"])] = None,
) -> dict:
    return await handler.list_bookings(get_deps(request), user, limit, cursor, state)


@router.get(
    "/{booking_id}",
    response_model=BookingView,
    summary="A booking: state, per-item status and codes, amounts held/captured/refunded",
    description="The gateway's projection of the saga's events, completed by the orchestrator's live view when it "
    "answers (`saga.source`). `payment.client_secret` is set while the card needs 3-D Secure.",
    responses={**ex.ok(ex.BOOKING), **ex.problems("unauthorized", "booking_404", "invalid")},
)
async def get_booking(
    request: Request, user: CurrentUser, booking_id: Annotated[str, BOOKING_ID]
) -> dict:
    return await handler.get_booking(get_deps(request), user, booking_id)


@router.get(
    "/{booking_id}/events",
    response_class=EventSourceResponse,
    response_model=None,
    summary="Server-Sent Events: every state change until a final state",
    description="Replays the booking's timeline, then streams each change (`event: state`, JSON data) and ends "
    "after a final state (CONFIRMED, FAILED, CANCELLED, PARTIALLY_CANCELLED, COMPENSATION_FAILED). An ACTION_REQUIRED event carries "
    "the `client_secret` for 3-D Secure. Resume with the Last-Event-ID header.\n\nA browser's EventSource "
    "cannot send an Authorization header: it opens the stream with `?ticket=` instead, a single-use ticket "
    "from `POST /v1/bookings/{id}/stream-ticket` (never the bearer token in a URL).",
    responses={
        200: {
            "description": "An event stream",
            "content": {"text/event-stream": {"example": ex.SSE}},
        },
        **ex.problems("unauthorized", "booking_404", "invalid"),
    },
)
async def booking_events(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    booking_id: Annotated[str, BOOKING_ID],
    ticket: Annotated[
        str | None,
        Query(
            max_length=100,
            description="A single-use stream ticket (for EventSource), instead of the bearer token.",
            examples=["st_q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c"],
        ),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", description="Resume after this event id.", examples=["42"]),
    ] = None,
) -> EventSourceResponse:
    deps = get_deps(request)
    if creds is None and ticket is not None:
        user = await web.redeem_stream_ticket(deps, ticket, booking_id)
    else:
        user = (await principal(request, creds)).require_user()
    after = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
    stream = await handler.follow_booking(deps, user, booking_id, after)

    async def events() -> AsyncIterator[dict[str, str | None]]:
        async for ev in stream:
            yield {
                "id": str(ev["id"]) if ev["id"] is not None else None,
                "event": ev["event"],
                "data": json.dumps(ev["data"], default=str),
            }

    return EventSourceResponse(
        events(), ping=deps.settings.sse_ping_s, headers={"Cache-Control": "no-store"}
    )


@router.get(
    "/{booking_id}/calendar.ics",
    response_class=Response,
    summary="iCalendar of a confirmed booking: one VEVENT per item, stable UIDs",
    responses={
        200: {"description": "text/calendar", "content": {"text/calendar": {"example": ex.ICS}}},
        **ex.problems("unauthorized", "booking_404", "not_confirmed"),
    },
)
async def booking_calendar(
    request: Request, user: CurrentUser, booking_id: Annotated[str, BOOKING_ID]
) -> Response:
    text = await handler.booking_calendar(get_deps(request), user, booking_id)
    return Response(
        text,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{booking_id}.ics"'},
    )


@router.get(
    "/{booking_id}/cancel-quote",
    response_model=CancelQuoteView,
    summary="What cancelling would refund, per item (from each provider's policy)",
    responses={
        **ex.ok(ex.CANCEL_QUOTE),
        **ex.problems("unauthorized", "booking_404", "not_confirmed"),
    },
)
async def cancel_quote(
    request: Request, user: CurrentUser, booking_id: Annotated[str, BOOKING_ID]
) -> dict:
    return await handler.cancel_quote(get_deps(request), user, booking_id)


@router.post(
    "/{booking_id}/cancel",
    status_code=202,
    response_model=CancelAccepted,
    summary="Cancel a confirmed booking (refunds follow each item's policy)",
    description="Publishes BookingCancellationRequested; follow the SSE stream to CANCELLED. Asking again while "
    "the cancellation runs answers the same 202; a booking that is not CONFIRMED gets 409.",
    responses={
        **ex.ok(ex.CANCEL_ACCEPTED, 202, "Accepted"),
        **ex.problems("unauthorized", "booking_404", "not_confirmed", "invalid", "malformed"),
    },
)
async def cancel(
    request: Request,
    user: CurrentUser,
    booking_id: Annotated[str, BOOKING_ID],
    body: Annotated[
        CancelRequest | None,
        Body(openapi_examples=ex.body(with_reason={"reason": "plans changed"}, no_reason={})),
    ] = None,
) -> JSONResponse:
    answer = await handler.request_cancellation(
        get_deps(request), user, booking_id, body.reason if body else ""
    )
    return _answer(answer)
