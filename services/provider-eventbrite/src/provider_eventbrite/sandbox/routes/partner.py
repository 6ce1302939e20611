"""Write routes: the partner-order contract (hold -> order -> cancel), modelled on Viator's partner API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ..state import PartnerError, Sandbox, fingerprint
from . import shapes

router = APIRouter(prefix="/partner/v1")

Id = Annotated[
    str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=64)
]
Reference = Annotated[
    str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=128)
]


class HoldRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: Id = Field(description="The Eventbrite event id.", examples=["712345678901"])
    ticket_class_id: Id = Field(
        description="A ticket class of that event.", examples=["1234567890"]
    )
    quantity: int = Field(ge=1, le=100, strict=True, description="Tickets to hold.", examples=[2])
    partner_reference: Reference = Field(
        description="The caller's reference.", examples=["bk-1:item-2"]
    )


class Attendee(BaseModel):
    name: Annotated[
        str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=200)
    ]
    email: Annotated[
        str,
        StringConstraints(
            strict=True,
            strip_whitespace=True,
            max_length=254,
            pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        ),
    ]


class OrderRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    hold_id: Id = Field(description="The hold to turn into an order.")
    partner_reference: Reference = Field(
        description="Unique per order: a second order with the same reference returns the first."
    )
    attendee: Attendee


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    cancel_quote_id: Id | None = Field(None, description="Honour this quote's refund amount.")
    reason: str | None = Field(None, max_length=200)


def request_id(
    x_request_id: Annotated[str | None, Header()] = None,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> str:
    key = (x_request_id or idempotency_key or "").strip()
    if not key:
        raise PartnerError(
            400,
            "MISSING_REQUEST_ID",
            "every write needs an X-Request-Id (or Idempotency-Key) header",
            field="X-Request-Id",
        )
    if len(key) > 200:
        raise PartnerError(
            422, "VALIDATION_ERROR", "request id longer than 200 characters", field="X-Request-Id"
        )
    return key


RequestId = Annotated[str, Depends(request_id)]


def _sb(request: Request) -> Sandbox:
    return request.app.state.sandbox


async def _idempotent(
    request: Request, key: str, body: BaseModel | None, fn: Callable[[], Awaitable[tuple[int, Any]]]
) -> JSONResponse:
    sb = _sb(request)
    fp = fingerprint(request.method, request.url.path, body.model_dump_json() if body else "")
    status, payload, replayed = await sb.idempotency.run(key, fp, fn)
    headers = {"X-Request-Id": key}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(payload, status_code=status, headers=headers)


def _committed(request: Request) -> None:
    """Tell the fault middleware this request changed state (a ghost may now lose the answer)."""
    request.state.sandbox_fresh_effect = True


@router.post("/holds", status_code=201)
async def create_hold(body: HoldRequest, key: RequestId, request: Request) -> Any:
    sb = _sb(request)

    async def run() -> tuple[int, Any]:
        h = await sb.create_hold(
            body.event_id, body.ticket_class_id, body.quantity, body.partner_reference
        )
        _committed(request)
        return 201, shapes.hold(h)

    return await _idempotent(request, key, body, run)


@router.get("/holds/{hold_id}")
async def get_hold(hold_id: str, request: Request) -> Any:
    return shapes.hold(_sb(request).get_hold(hold_id))


@router.delete("/holds/{hold_id}")
async def release_hold(hold_id: str, key: RequestId, request: Request) -> Any:
    sb = _sb(request)

    async def run() -> tuple[int, Any]:
        h = await sb.release_hold(hold_id)
        _committed(request)
        return 200, shapes.hold(h)

    return await _idempotent(request, key, None, run)


@router.post("/orders", status_code=201)
async def create_order(body: OrderRequest, key: RequestId, request: Request) -> Any:
    sb = _sb(request)

    async def run() -> tuple[int, Any]:
        o, created = await sb.create_order(
            body.hold_id, body.partner_reference, body.attendee.name, body.attendee.email
        )
        if created:
            _committed(request)
        return (201 if created else 200), shapes.order(o)

    return await _idempotent(request, key, body, run)


@router.get("/orders")
async def find_orders(
    request: Request,
    partner_reference: Annotated[str, Query(min_length=1, max_length=128)],
) -> Any:
    o = _sb(request).order_by_reference(partner_reference)
    orders = [shapes.order(o)] if o else []
    chunk, pagination = shapes.paginate(orders, 1, 50)
    return {"pagination": pagination, "orders": chunk}


@router.get("/orders/{order_id}")
async def get_order(order_id: str, request: Request) -> Any:
    return shapes.order(_sb(request).get_order(order_id))


@router.get("/orders/{order_id}/cancel_quote")
async def cancel_quote(order_id: str, request: Request) -> Any:
    sb = _sb(request)
    q = sb.quote(order_id)
    o = sb.orders[order_id]
    return shapes.quote(q, o, sb.catalogue.events[o.event_id])


@router.post("/orders/{order_id}/cancel")
async def cancel_order(
    order_id: str,
    key: RequestId,
    request: Request,
    body: Annotated[CancelRequest | None, Body()] = None,
) -> Any:
    sb = _sb(request)

    async def run() -> tuple[int, Any]:
        o, newly = await sb.cancel(order_id, body.cancel_quote_id if body else None)
        if newly:
            _committed(request)
        out = shapes.order(o)
        assert out["cancellation"] is not None
        return 200, {
            "order_id": o.id,
            "status": o.status,
            "already_cancelled": not newly,
            "refund_amount": out["cancellation"]["refund_amount"],
            "refund_percent": o.refund_percent,
            "order": out,
        }

    return await _idempotent(request, key, body, run)
