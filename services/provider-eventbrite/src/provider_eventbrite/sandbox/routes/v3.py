"""Read routes in Eventbrite API v3 shapes: event search, events, venues, ticket classes, inventory."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..catalogue import TZ
from ..state import Sandbox
from . import shapes

router = APIRouter(prefix="/v3")

EXPANSIONS = {"venue", "ticket_classes", "ticket_availability"}


class ArgumentsError(Exception):
    """Eventbrite's 400 ARGUMENTS_ERROR, naming the offending parameter."""

    def __init__(self, name: str, problem: str = "INVALID") -> None:
        super().__init__(f"{name} - {problem}")
        self.name, self.problem = name, problem

    def response(self) -> JSONResponse:
        return JSONResponse(
            shapes.eventbrite_error(
                400,
                "ARGUMENTS_ERROR",
                f"There are errors with your arguments: {self.name} - {self.problem}",
                {self.name: [self.problem]},
            ),
            status_code=400,
        )


def not_found(what: str) -> JSONResponse:
    return JSONResponse(
        shapes.eventbrite_error(404, "NOT_FOUND", f"The {what} you requested does not exist."),
        status_code=404,
    )


def _sb(request: Request) -> Sandbox:
    sb: Sandbox = request.app.state.sandbox
    sb.expire_holds()
    return sb


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _expand(request: Request) -> set[str]:
    raw = request.query_params.get("expand", "")
    wanted = {p.strip() for p in raw.split(",") if p.strip()}
    unknown = wanted - EXPANSIONS
    if unknown:
        raise ArgumentsError("expand", f"UNKNOWN_EXPANSION {','.join(sorted(unknown))}")
    return wanted


def _page(request: Request, default_size: int = 50) -> tuple[int, int]:
    qp = request.query_params
    page = 1
    if "continuation" in qp:
        decoded = shapes.decode_continuation(qp["continuation"])
        if decoded is None:
            raise ArgumentsError("continuation")
        page = decoded
    elif "page" in qp:
        try:
            page = int(qp["page"])
        except ValueError as exc:
            raise ArgumentsError("page") from exc
        if page < 1:
            raise ArgumentsError("page")
    try:
        size = int(qp.get("page_size", default_size))
    except ValueError as exc:
        raise ArgumentsError("page_size") from exc
    if not 1 <= size <= 200:
        raise ArgumentsError("page_size")
    return page, size


def _datetime_arg(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        dt = datetime.fromisoformat(raw.replace(" ", "T"))
    except ValueError as exc:
        raise ArgumentsError(name) from exc
    # Eventbrite reads a time without offset as the events' local time.
    return dt.replace(tzinfo=TZ) if dt.tzinfo is None else dt


@router.get("/events/search/")
async def search_events(request: Request) -> Any:
    sb = _sb(request)
    qp = request.query_params
    expand = _expand(request)
    page, size = _page(request)
    start = _datetime_arg(request, "start_date.range_start") or sb.now()
    end = _datetime_arg(request, "start_date.range_end")
    q = (qp.get("q") or "").strip().lower()
    categories = {c for c in (qp.get("categories") or "").split(",") if c}
    found = []
    for e in sb.catalogue.events.values():
        if e.start_utc < start or (end is not None and e.start_utc > end):
            continue
        if categories and e.category_id not in categories:
            continue
        if q:
            hay = f"{e.name} {e.summary} {sb.catalogue.venues[e.venue_id].name}".lower()
            if not all(word in hay for word in q.split()):
                continue
        found.append(e)
    chunk, pagination = shapes.paginate(found, page, size)
    base = _base(request)
    return {
        "pagination": pagination,
        "events": [shapes.event(base, sb, e, expand) for e in chunk],
        "location": {"augmented_location": {"city": "Lisbon", "country": "PT"}},
    }


@router.get("/events/{event_id}/")
async def get_event(event_id: str, request: Request) -> Any:
    sb = _sb(request)
    e = sb.event(event_id)
    if e is None:
        return not_found("event")
    return shapes.event(_base(request), sb, e, _expand(request))


@router.get("/venues/{venue_id}/")
async def get_venue(venue_id: str, request: Request) -> Any:
    sb = _sb(request)
    v = sb.catalogue.venues.get(venue_id)
    if v is None:
        return not_found("venue")
    return shapes.venue(_base(request), v)


@router.get("/events/{event_id}/ticket_classes/")
async def list_ticket_classes(event_id: str, request: Request) -> Any:
    sb = _sb(request)
    e = sb.event(event_id)
    if e is None:
        return not_found("event")
    page, size = _page(request)
    chunk, pagination = shapes.paginate(e.ticket_classes, page, size)
    base = _base(request)
    return {
        "pagination": pagination,
        "ticket_classes": [shapes.ticket_class(base, sb, tc) for tc in chunk],
    }


@router.get("/events/{event_id}/ticket_classes/{ticket_class_id}/")
async def get_ticket_class(event_id: str, ticket_class_id: str, request: Request) -> Any:
    sb = _sb(request)
    tc = sb.catalogue.ticket_classes.get(ticket_class_id)
    if tc is None or tc.event_id != event_id:
        return not_found("ticket class")
    return shapes.ticket_class(_base(request), sb, tc)


@router.get("/events/{event_id}/inventory_tiers/")
async def list_inventory_tiers(event_id: str, request: Request) -> Any:
    sb = _sb(request)
    e = sb.event(event_id)
    if e is None:
        return not_found("event")
    page, size = _page(request)
    chunk, pagination = shapes.paginate(e.ticket_classes, page, size)
    return {
        "pagination": pagination,
        "inventory_tiers": [shapes.inventory_tier(sb, tc) for tc in chunk],
    }


@router.get("/events/{event_id}/capacity_tier/")
async def capacity_tier(event_id: str, request: Request) -> Any:
    sb = _sb(request)
    e = sb.event(event_id)
    if e is None:
        return not_found("event")
    return {
        "event_id": e.id,
        "capacity_total": sum(tc.capacity for tc in e.ticket_classes),
        "capacity_sold": sum(tc.quantity_sold for tc in e.ticket_classes),
        "capacity_pending": sum(sb.pending[tc.id] for tc in e.ticket_classes),
        "capacity_is_custom": False,
        "holds": [],
    }
