"""The OpenTable-style partner sandbox: a FastAPI app over an in-memory, seeded restaurant world."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .catalogue import build_catalogue
from .edge import EdgeState, SandboxEdge
from .faults import FaultDice, Faults
from .store import RESERVATION_STATES, SandboxError, Store, iso_utc

Clock = Callable[[], datetime]
MAX_PARTY_SIZE = 20


def _utc_now() -> datetime:
    return datetime.now(UTC)


# -- request bodies ----------------------------------------------------------------------


class SlotLockRequest(BaseModel):
    date_time: datetime = Field(
        description="The slot start: local time, with or without its UTC offset.",
        examples=["2026-06-12T19:30:00+01:00"],
    )
    party_size: int = Field(ge=1, le=MAX_PARTY_SIZE, examples=[2])


class Guest(BaseModel):
    first_name: str = Field(min_length=1, max_length=100, examples=["Ana"])
    last_name: str = Field(min_length=1, max_length=100, examples=["Silva"])
    email: str = Field(
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254, examples=["ana@example.com"]
    )
    phone: str = Field(pattern=r"^\+?[0-9][0-9 ()\-]{5,19}$", examples=["+351 912 345 678"])


class ReservationRequest(BaseModel):
    lock_id: str = Field(min_length=1, max_length=64)
    partner_reference: str = Field(
        min_length=1, max_length=128, description="The partner's own id for this booking item."
    )
    guest: Guest
    special_requests: str | None = Field(None, max_length=500)
    reservation_token: str | None = Field(None, description="Optional; must match the lock's.")


class CancelRequest(BaseModel):
    reason: str | None = Field(None, max_length=200)


class ClockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    offset_seconds: float = Field(description="Added to real time: the sandbox's 'now'.")


class TablesRequest(BaseModel):
    tables: dict[
        Annotated[int, Field(ge=1, le=MAX_PARTY_SIZE)], Annotated[int, Field(ge=0, le=500)]
    ] = Field(description="Table size -> tables per slot.", examples=[{"2": 10, "4": 0}])


class StateRequest(BaseModel):
    state: str = Field(examples=list(RESERVATION_STATES))


# -- the sandbox -------------------------------------------------------------------------


class Sandbox:
    """Everything one sandbox instance holds; reset() puts it back as it started."""

    def __init__(self, seed: int, clock: Clock, faults: Faults) -> None:
        self.seed = seed
        self.clock = clock
        self.initial_faults = faults
        self.dice = FaultDice(faults.model_copy(deep=True), seed)
        self.edge = EdgeState()
        self.store = self._new_store()

    def _new_store(self) -> Store:
        return Store(build_catalogue(self.seed), self.dice, self.seed, self.clock)

    def reset(self) -> None:
        self.dice.reset(self.initial_faults.model_copy(deep=True), self.seed)
        self.edge.clear()
        self.store = self._new_store()


def _field_of(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def create_app(
    seed: int = 42, clock: Clock | None = None, faults: Faults | dict[str, Any] | None = None
) -> FastAPI:
    """A fresh sandbox. `clock` returns an aware 'now' (defaults to real UTC time)."""
    if isinstance(faults, dict):
        faults = Faults.model_validate(faults)
    sandbox = Sandbox(seed, clock or _utc_now, faults or Faults())

    app = FastAPI(
        title="OpenTable-style partner sandbox",
        version="1.0",
        description="Imitates OpenTable's partner booking flow: slot lock -> make -> cancel.",
    )
    app.state.sandbox = sandbox
    app.add_middleware(SandboxEdge, dice=sandbox.dice, state=sandbox.edge)

    @app.exception_handler(SandboxError)
    async def _sandbox_error(request: Request, exc: SandboxError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = []
        for err in exc.errors():
            name = "body" if err.get("type") == "json_invalid" else _field_of(err.get("loc", ()))
            details.append({"field": name, "message": err.get("msg", "invalid")})
        first = details[0] if details else {"field": "body", "message": "invalid"}
        return JSONResponse(
            {
                "error": {
                    "code": "invalid_request",
                    "message": f"{first['field']}: {first['message']}",
                    "field": first["field"],
                    "details": details,
                }
            },
            status_code=422,
        )

    app.include_router(_partner_routes(sandbox))
    app.include_router(_admin_routes(sandbox))

    @app.get("/health", include_in_schema=False)
    async def health() -> dict:
        return {"status": "ok"}

    return app


# -- the partner API (/v1) ---------------------------------------------------------------


def _partner_routes(sb: Sandbox) -> APIRouter:
    v1 = APIRouter(prefix="/v1", tags=["partner"])

    @v1.get("/restaurants")
    async def search_restaurants(
        city: str | None = None,
        cuisine: str | None = None,
        q: str | None = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict:
        found = sb.store.search(city, cuisine, q)
        return {
            "total": len(found),
            "limit": limit,
            "offset": offset,
            "restaurants": [r.as_json() for r in found[offset : offset + limit]],
        }

    @v1.get("/restaurants/{rid}")
    async def get_restaurant(rid: str) -> dict:
        return sb.store.restaurant(rid).as_json()

    @v1.get("/restaurants/{rid}/availability")
    async def availability(
        rid: str,
        day: Annotated[date, Query(alias="date", description="Local date, YYYY-MM-DD.")],
        party_size: Annotated[int, Query(ge=1, le=MAX_PARTY_SIZE)],
        at: Annotated[
            time | None, Query(alias="time", description="HH:MM: only slots near it.")
        ] = None,
        backward_minutes: Annotated[int, Query(ge=0, le=720)] = 90,
        forward_minutes: Annotated[int, Query(ge=0, le=720)] = 90,
    ) -> dict:
        r = sb.store.restaurant(rid)
        return {
            "restaurant_id": r.id,
            "date": day.isoformat(),
            "party_size": party_size,
            "time_zone": r.time_zone,
            "slots": sb.store.availability(
                r, day, party_size, at, backward_minutes, forward_minutes
            ),
        }

    @v1.post("/restaurants/{rid}/slot_locks", status_code=201)
    async def lock_slot(rid: str, body: SlotLockRequest) -> dict:
        lock = await sb.store.lock_slot(rid, body.date_time, body.party_size)
        return lock.as_json()

    @v1.get("/restaurants/{rid}/slot_locks/{lock_id}")
    async def get_lock(rid: str, lock_id: str) -> dict:
        lock = sb.store.locks.get(lock_id)
        if lock is None or lock.restaurant_id != rid:
            raise SandboxError(404, "lock_not_found", f"No slot lock {lock_id!r} here.")
        sb.store.holds_table(lock, sb.store.now())
        return lock.as_json()

    @v1.delete("/restaurants/{rid}/slot_locks/{lock_id}")
    async def release_lock(rid: str, lock_id: str) -> dict:
        return sb.store.release_lock(rid, lock_id).as_json()

    @v1.post("/restaurants/{rid}/reservations", status_code=201)
    async def make_reservation(rid: str, body: ReservationRequest) -> dict:
        res = sb.store.make_reservation(
            rid,
            body.lock_id,
            body.partner_reference,
            body.guest.model_dump(),
            body.special_requests,
            body.reservation_token,
        )
        return res.as_json()

    @v1.get("/reservations")
    async def find_reservations(
        partner_reference: Annotated[str, Query(min_length=1, max_length=128)],
    ) -> dict:
        found = sb.store.find_by_reference(partner_reference)
        return {"reservations": [r.as_json() for r in found]}

    @v1.get("/reservations/{reservation_id}")
    async def get_reservation(reservation_id: str) -> dict:
        return sb.store.reservation(reservation_id).as_json()

    @v1.post("/reservations/{reservation_id}/cancel")
    async def cancel_reservation(
        reservation_id: str, body: Annotated[CancelRequest | None, Body()] = None
    ) -> dict:
        return sb.store.cancel_reservation(reservation_id).as_json()

    return v1


# -- admin (never faulted) ---------------------------------------------------------------


def _admin_routes(sb: Sandbox) -> APIRouter:
    admin = APIRouter(prefix="/_admin", tags=["admin"])

    @admin.get("/faults")
    async def get_faults() -> dict:
        return sb.dice.faults.model_dump()

    @admin.put("/faults")
    async def put_faults(faults: Faults) -> dict:
        sb.dice.faults = faults
        return faults.model_dump()

    @admin.patch("/faults")
    async def patch_faults(changes: Annotated[dict[str, Any], Body()]) -> dict:
        try:
            merged = Faults.model_validate({**sb.dice.faults.model_dump(), **changes})
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None
        sb.dice.faults = merged
        return merged.model_dump()

    @admin.post("/reset")
    async def reset() -> dict:
        sb.reset()
        return {"status": "reset", "seed": sb.seed}

    @admin.get("/clock")
    async def get_clock() -> dict:
        return {
            "now": iso_utc(sb.store.now()),
            "offset_seconds": sb.store.clock_offset.total_seconds(),
        }

    @admin.put("/clock")
    async def put_clock(body: ClockRequest) -> dict:
        sb.store.clock_offset = timedelta(seconds=body.offset_seconds)
        return await get_clock()

    @admin.get("/reservations")
    async def all_reservations() -> dict:
        return {"reservations": [r.as_json() for r in sb.store.reservations.values()]}

    @admin.put("/reservations/{reservation_id}/state")
    async def force_state(reservation_id: str, body: StateRequest) -> dict:
        return sb.store.force_state(reservation_id, body.state).as_json()

    @admin.get("/locks")
    async def all_locks() -> dict:
        now = sb.store.now()
        for lock in sb.store.locks.values():
            sb.store.holds_table(lock, now)
        return {"locks": [lock.as_json() for lock in sb.store.locks.values()]}

    @admin.put("/restaurants/{rid}/tables")
    async def set_tables(rid: Annotated[str, Path()], body: TablesRequest) -> dict:
        r = sb.store.restaurant(rid)
        sb.store.set_tables(r, body.tables)
        return r.as_json()

    @admin.get("/requests")
    async def requests_seen() -> dict:
        return {"requests": list(sb.edge.requests)}

    return admin
