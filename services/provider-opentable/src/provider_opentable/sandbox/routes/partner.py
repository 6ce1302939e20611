"""The partner API (/v1): search, availability, slot lock -> reservation -> cancel. Faults and
the X-Request-Id rule apply to it (edge.py)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, Field

from ..state import MAX_PARTY_SIZE, SandboxError
from . import SandboxDep

v1 = APIRouter(prefix="/v1", tags=["partner"])


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


@v1.get("/restaurants")
async def search_restaurants(
    sb: SandboxDep,
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
async def get_restaurant(sb: SandboxDep, rid: str) -> dict:
    return sb.store.restaurant(rid).as_json()


@v1.get("/restaurants/{rid}/availability")
async def availability(
    sb: SandboxDep,
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
        "slots": sb.store.availability(r, day, party_size, at, backward_minutes, forward_minutes),
    }


@v1.post("/restaurants/{rid}/slot_locks", status_code=201)
async def lock_slot(sb: SandboxDep, rid: str, body: SlotLockRequest) -> dict:
    lock = await sb.store.lock_slot(rid, body.date_time, body.party_size)
    return lock.as_json()


@v1.get("/restaurants/{rid}/slot_locks/{lock_id}")
async def get_lock(sb: SandboxDep, rid: str, lock_id: str) -> dict:
    lock = sb.store.locks.get(lock_id)
    if lock is None or lock.restaurant_id != rid:
        raise SandboxError(404, "lock_not_found", f"No slot lock {lock_id!r} here.")
    sb.store.holds_table(lock, sb.store.now())
    return lock.as_json()


@v1.delete("/restaurants/{rid}/slot_locks/{lock_id}")
async def release_lock(sb: SandboxDep, rid: str, lock_id: str) -> dict:
    return sb.store.release_lock(rid, lock_id).as_json()


@v1.post("/restaurants/{rid}/reservations", status_code=201)
async def make_reservation(sb: SandboxDep, rid: str, body: ReservationRequest) -> dict:
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
    sb: SandboxDep,
    partner_reference: Annotated[str, Query(min_length=1, max_length=128)],
) -> dict:
    found = sb.store.find_by_reference(partner_reference)
    return {"reservations": [r.as_json() for r in found]}


@v1.get("/reservations/{reservation_id}")
async def get_reservation(sb: SandboxDep, reservation_id: str) -> dict:
    return sb.store.reservation(reservation_id).as_json()


@v1.post("/reservations/{reservation_id}/cancel")
async def cancel_reservation(
    sb: SandboxDep, reservation_id: str, body: Annotated[CancelRequest | None, Body()] = None
) -> dict:
    return sb.store.cancel_reservation(reservation_id).as_json()
