"""Admin routes for tests and invariant checkers: faults, clock, reset, records. Never faulted."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..faults import Faults
from ..state import MAX_PARTY_SIZE, RESERVATION_STATES, iso_utc
from . import SandboxDep

admin = APIRouter(prefix="/_admin", tags=["admin"])


class ClockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    offset_seconds: float = Field(description="Added to real time: the sandbox's 'now'.")


class TablesRequest(BaseModel):
    tables: dict[
        Annotated[int, Field(ge=1, le=MAX_PARTY_SIZE)], Annotated[int, Field(ge=0, le=500)]
    ] = Field(description="Table size -> tables per slot.", examples=[{"2": 10, "4": 0}])


class StateRequest(BaseModel):
    state: str = Field(examples=list(RESERVATION_STATES))


@admin.get("/faults")
async def get_faults(sb: SandboxDep) -> dict:
    return sb.dice.faults.model_dump()


@admin.put("/faults")
async def put_faults(sb: SandboxDep, faults: Faults) -> dict:
    sb.dice.faults = faults
    return faults.model_dump()


@admin.patch("/faults")
async def patch_faults(sb: SandboxDep, changes: Annotated[dict[str, Any], Body()]) -> dict:
    try:
        merged = Faults.model_validate({**sb.dice.faults.model_dump(), **changes})
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    sb.dice.faults = merged
    return merged.model_dump()


@admin.post("/reset")
async def reset(sb: SandboxDep) -> dict:
    sb.reset()
    return {"status": "reset", "seed": sb.seed}


@admin.get("/clock")
async def get_clock(sb: SandboxDep) -> dict:
    return {
        "now": iso_utc(sb.store.now()),
        "offset_seconds": sb.store.clock_offset.total_seconds(),
    }


@admin.put("/clock")
async def put_clock(sb: SandboxDep, body: ClockRequest) -> dict:
    sb.store.clock_offset = timedelta(seconds=body.offset_seconds)
    return await get_clock(sb)


@admin.get("/reservations")
async def all_reservations(sb: SandboxDep) -> dict:
    return {"reservations": [r.as_json() for r in sb.store.reservations.values()]}


@admin.put("/reservations/{reservation_id}/state")
async def force_state(sb: SandboxDep, reservation_id: str, body: StateRequest) -> dict:
    return sb.store.force_state(reservation_id, body.state).as_json()


@admin.get("/locks")
async def all_locks(sb: SandboxDep) -> dict:
    now = sb.store.now()
    for lock in sb.store.locks.values():
        sb.store.holds_table(lock, now)
    return {"locks": [lock.as_json() for lock in sb.store.locks.values()]}


@admin.put("/restaurants/{rid}/tables")
async def set_tables(sb: SandboxDep, rid: Annotated[str, Path()], body: TablesRequest) -> dict:
    r = sb.store.restaurant(rid)
    sb.store.set_tables(r, body.tables)
    return r.as_json()


@admin.get("/requests")
async def requests_seen(sb: SandboxDep) -> dict:
    return {"requests": list(sb.edge.requests)}
