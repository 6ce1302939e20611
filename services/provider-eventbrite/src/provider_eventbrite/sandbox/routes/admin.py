"""Admin routes for tests and invariant checkers: faults, clock, reset, records. Never faulty."""

from __future__ import annotations

import random
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from ..faults import Faults
from ..state import PartnerError, Sandbox, iso
from . import shapes

router = APIRouter(prefix="/_admin")


class ClockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offset_seconds: float = Field(description="Seconds added to the real clock (may be negative).")


class InventoryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    capacity: int | None = Field(None, ge=0)
    quantity_sold: int | None = Field(None, ge=0)


def _sb(request: Request) -> Sandbox:
    return request.app.state.sandbox


def _set_faults(sb: Sandbox, cfg: Faults) -> dict[str, Any]:
    sb.faults = cfg
    sb.fault_rng = random.Random(cfg.seed if cfg.seed is not None else sb.seed)
    return cfg.model_dump()


@router.get("/health")
async def health() -> Any:
    return {"ok": True}


@router.get("/faults")
async def get_faults(request: Request) -> Any:
    return _sb(request).faults.model_dump()


@router.put("/faults")
async def put_faults(cfg: Faults, request: Request) -> Any:
    """Replace the whole fault configuration (fields left out take their defaults)."""
    return _set_faults(_sb(request), cfg)


@router.patch("/faults")
async def patch_faults(changes: dict[str, Any], request: Request) -> Any:
    """Change only the fields given."""
    sb = _sb(request)
    merged = Faults.model_validate({**sb.faults.model_dump(), **changes})
    return _set_faults(sb, merged)


@router.post("/reset")
async def reset(request: Request) -> Any:
    sb = _sb(request)
    sb.reset()
    return {"ok": True, "events": len(sb.catalogue.events), "now": iso(sb.now(), ms=True)}


@router.get("/clock")
async def get_clock(request: Request) -> Any:
    sb = _sb(request)
    return {"now": iso(sb.now(), ms=True), "offset_seconds": sb.clock_offset}


@router.put("/clock")
async def put_clock(body: ClockRequest, request: Request) -> Any:
    sb = _sb(request)
    sb.clock_offset = body.offset_seconds
    sb.expire_holds()
    return {"now": iso(sb.now(), ms=True), "offset_seconds": sb.clock_offset}


@router.get("/orders")
async def all_orders(request: Request) -> Any:
    sb = _sb(request)
    return {"orders": [shapes.order(o) for o in sb.orders.values()]}


@router.get("/holds")
async def all_holds(request: Request) -> Any:
    sb = _sb(request)
    sb.expire_holds()
    return {"holds": [shapes.hold(h) for h in sb.holds.values()], "stolen": list(sb.stolen)}


@router.get("/stats")
async def stats(request: Request) -> Any:
    st = _sb(request).stats
    return {
        "requests": st.requests,
        "in_flight": st.in_flight,
        "max_in_flight": st.max_in_flight,
        "by_route": dict(st.by_route),
    }


@router.put("/ticket_classes/{ticket_class_id}")
async def set_inventory(ticket_class_id: str, body: InventoryRequest, request: Request) -> Any:
    """Set a class's capacity or sold count (to stage 'ten left' or 'sold out' in a test)."""
    sb = _sb(request)
    tc = sb.catalogue.ticket_classes.get(ticket_class_id)
    if tc is None:
        raise PartnerError(404, "TICKET_CLASS_NOT_FOUND", f"no ticket class {ticket_class_id}")
    if body.capacity is not None:
        tc.capacity = body.capacity
    if body.quantity_sold is not None:
        tc.quantity_sold = body.quantity_sold
    return shapes.ticket_class(str(request.base_url).rstrip("/"), sb, tc)
