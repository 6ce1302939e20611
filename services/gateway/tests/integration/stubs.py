"""CONTRACT STUBS: in-test stand-ins of the payment, provider and orchestrator internal APIs,
implementing docs/internal-apis.md and nothing more. Their answers are built through the shared
contract models (booking_shared.contracts.internal), so a stand-in cannot drift from the real
services either; tests may give partial sagas, which are completed with neutral values. The real services are built
concurrently; the all-real end-to-end test lives in the repo's tests/ (added by the lead).

One app, one port: /payment, /opentable, /eventbrite and /orchestrator are the base URLs."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from booking_shared.contracts.internal.orchestrator import SagaList, SagaView, StuckSagaList
from booking_shared.contracts.internal.payment import PaymentView
from booking_shared.contracts.internal.provider import CancelQuote, QuoteResult

PROBLEM = "application/problem+json"


def problem(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {
            "type": "about:blank",
            "title": detail,
            "status": status,
            "detail": detail,
            "errors": [],
            **extra,
        },
        status_code=status,
        media_type=PROBLEM,
    )


# What the real providers declare (provider_*/adapters/partner_port.py: GUEST_REQUIREMENTS).
GUEST_REQUIREMENTS: dict[str, dict[str, Any]] = {
    "opentable": {
        "fields": [
            {"field": "first_name", "max_length": 100},
            {"field": "last_name", "max_length": 100},
            {"field": "email", "max_length": 254, "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$"},
            {
                "field": "phone",
                "pattern": r"^\+?[0-9][0-9 ()\-]{5,19}$",
                "hint": "6 to 20 digits, spaces, dashes or parentheses, starting with a digit or +",
            },
        ]
    },
    "eventbrite": {
        "fields": [
            {"field": "full_name", "max_length": 200, "too_long": "truncated"},
            {"field": "email", "max_length": 254, "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$"},
        ]
    },
}


def money(minor: int, currency: str = "EUR") -> dict[str, Any]:
    return {"amount_minor": minor, "currency": currency}


def full_saga(saga: dict[str, Any]) -> dict[str, Any]:
    """A test's partial saga as the orchestrator's contract (SagaView) has it."""
    payment = {
        "payment_intent_id": None,
        "authorized": None,
        "captured": None,
        "refunded": None,
        "capture_before": None,
        "client_secret": None,
        **(saga.get("payment") or {}),
    }
    history = [
        {"at": None, "topic": None, "message_id": None, **h, "summary": h.get("summary") or ""}
        for h in saga.get("history") or []
    ]
    view = {
        "user_id": "usr_stub",
        "mode": "all_or_nothing",
        "definition_version": 1,
        "paused": False,
        "attention": None,
        "attention_at": None,
        "total": None,
        "items": [],
        "failure_reasons": [],
        "steps": [],
        "created_at": None,
        "updated_at": None,
        **saga,
        "payment": payment,
        "history": history,
    }
    return SagaView.model_validate(view).model_dump(mode="json")


def saga_summary(saga: dict[str, Any]) -> dict[str, Any]:
    full = full_saga(saga)
    keys = (
        "booking_id",
        "user_id",
        "state",
        "mode",
        "paused",
        "definition_version",
        "created_at",
        "updated_at",
        "attention",
        "attention_at",
    )
    return {
        **{k: full[k] for k in keys},
        "total": full["total"] or money(0),
        "state_changed_at": None,
        "providers": saga.get("providers", []),
    }


@dataclass
class Upstreams:
    """State and knobs of the stand-ins; tests read and set them directly."""

    url: str = ""
    customers: dict[str, str] = field(default_factory=dict)  # user_id -> customer id
    cards: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # customer -> cards
    down: set[str] = field(
        default_factory=set
    )  # "payment", "opentable", "eventbrite", "orchestrator"
    delay: dict[str, float] = field(default_factory=dict)  # route key -> seconds
    unavailable_items: set[str] = field(default_factory=set)
    sagas: dict[str, dict[str, Any]] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    # Each stand-in's credential, as the real services check it: /payment wants tokens["payment"].
    tokens: dict[str, str] = field(
        default_factory=lambda: {
            s: secrets.token_urlsafe(32)
            for s in ("payment", "opentable", "eventbrite", "orchestrator")
        }
    )
    refused: list[tuple[str, str]] = field(
        default_factory=list
    )  # (service, path) without its credential
    list_queries: list[dict[str, str]] = field(
        default_factory=list
    )  # what GET /internal/sagas was asked

    async def _gate(self, service: str, key: str) -> Response | None:
        self.calls.append((service, key))
        if (d := self.delay.get(key) or self.delay.get(service)) is not None:
            await asyncio.sleep(d)
        if service in self.down:
            return problem(503, f"{service} is down")
        return None

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def credential(request: Request, call_next: Any) -> Response:
            service = request.url.path.split("/")[1]
            want = self.tokens.get(service)
            if want is not None and request.headers.get("authorization") != f"Bearer {want}":
                self.refused.append((service, request.url.path))
                return problem(403 if request.headers.get("authorization") else 401, "credential")
            return await call_next(request)

        app.include_router(self._payment(), prefix="/payment")
        for name, btype in (("opentable", "restaurant"), ("eventbrite", "event")):
            app.include_router(self._provider(name, btype), prefix=f"/{name}")
        app.include_router(self._orchestrator(), prefix="/orchestrator")
        return app

    # --- payment ------------------------------------------------------------------------------

    def _payment(self) -> APIRouter:
        r = APIRouter()

        @r.post("/internal/customers")
        async def customer(body: dict) -> Any:
            if (gate := await self._gate("payment", "customers")) is not None:
                return gate
            cid = self.customers.setdefault(body["user_id"], f"cus_{secrets.token_hex(6)}")
            self.cards.setdefault(cid, [])
            return {"customer_id": cid}

        @r.post("/internal/customers/{cid}/setup-intents", status_code=201)
        async def setup_intent(cid: str) -> Any:
            if (gate := await self._gate("payment", "setup-intents")) is not None:
                return gate
            sid = f"seti_{secrets.token_hex(6)}"
            return {"setup_intent_id": sid, "client_secret": f"{sid}_secret_{secrets.token_hex(4)}"}

        @r.get("/internal/customers/{cid}/payment-methods")
        async def list_cards(cid: str) -> Any:
            if (gate := await self._gate("payment", "list-cards")) is not None:
                return gate
            return {"payment_methods": self.cards.get(cid, [])}

        @r.post("/internal/customers/{cid}/payment-methods", status_code=201)
        async def attach(cid: str, body: dict) -> Any:
            if (gate := await self._gate("payment", "attach")) is not None:
                return gate
            pm = body["payment_method_id"]
            if "declined" in pm:
                return problem(402, "Your card was declined.", code="card_declined")
            cards = self.cards.setdefault(cid, [])
            if body.get("make_default", True):
                for c in cards:
                    c["is_default"] = False
            card = {
                "id": pm,
                "brand": "visa",
                "last4": "4242",
                "exp_month": 12,
                "exp_year": 2030,
                "is_default": bool(body.get("make_default", True)) or not cards,
            }
            cards.append(card)
            return card

        @r.post("/internal/customers/{cid}/payment-methods/{pm}/default")
        async def default(cid: str, pm: str) -> Any:
            cards = self.cards.get(cid, [])
            if pm not in {c["id"] for c in cards}:
                return problem(404, "no such payment method")
            for c in cards:
                c["is_default"] = c["id"] == pm
            return next(c for c in cards if c["id"] == pm)

        @r.delete(
            "/internal/customers/{cid}/payment-methods/{pm}", status_code=204, response_model=None
        )
        async def detach(cid: str, pm: str) -> Response:
            cards = self.cards.get(cid, [])
            if pm not in {c["id"] for c in cards}:
                return problem(404, "no such payment method")
            self.cards[cid] = [c for c in cards if c["id"] != pm]
            return Response(status_code=204)

        @r.get("/internal/payments/{booking_id}")
        async def payment(booking_id: str) -> Any:
            saga = self.sagas.get(booking_id)
            if not saga:
                return problem(404, "no such payment")
            pay = saga.get("payment") or {}
            view = {
                "booking_id": booking_id,
                "status": "requires_action",
                "payment_intent_id": pay.get("payment_intent_id"),
                "amount_authorized": pay.get("authorized") or money(0),
                "amount_captured": pay.get("captured") or money(0),
                "amount_refunded": pay.get("refunded") or money(0),
                "capture_before": pay.get("capture_before"),
                "client_secret": pay.get("client_secret"),
            }
            return PaymentView.model_validate(view).model_dump(mode="json")

        return r

    # --- providers ----------------------------------------------------------------------------

    def _provider(self, name: str, btype: str) -> APIRouter:
        r = APIRouter()
        policy = {
            "summary": "Free cancellation until 24 h before.",
            "free_until": None,
            "refundable": True,
        }

        def item(i: int, date: str, party_size: int, quantity: int) -> dict[str, Any]:
            base = {
                "id": f"{name}-{i}",
                "title": f"{'Dinner' if btype == 'restaurant' else 'Concert'} {i} at {name}",
                "category": "dinner" if btype == "restaurant" else "concert",
                "start_time": f"{date}T{19 + i}:00:00+00:00",
                "cost": money(2500 if btype == "restaurant" else 3000),
            }
            if btype == "restaurant":
                return {**base, "venue_id": f"rest_00{i}", "party_size": party_size}
            return {
                **base,
                "event_id": f"evt_00{i}",
                "ticket_class_id": f"tc_00{i}_a",
                "quantity": quantity,
            }

        @r.get("/internal/capabilities")
        async def capabilities() -> Any:
            return {
                "provider": name,
                "booking_types": [btype],
                "capabilities": {
                    "hold": True,
                    "api_book": True,
                    "cancel": True,
                    "refund_policy": "per_item_policy",
                    "hold_ttl_seconds": 180,
                    "guest_requirements": GUEST_REQUIREMENTS.get(name),
                },
            }

        @r.get("/internal/search")
        async def search(
            date: str, party_size: int = 2, quantity: int = 1, q: str | None = None
        ) -> Any:
            if (gate := await self._gate(name, "search")) is not None:
                return gate
            items = []
            for i in (1, 2):
                it = item(i, date, party_size, quantity)
                units = party_size if btype == "restaurant" else quantity
                items.append(
                    {
                        "item": it,
                        "price": money(it["cost"]["amount_minor"] * units),
                        "timezone": "Europe/Lisbon",
                        "cancellation_policy": policy,
                        "available": True,
                        "details": {"q": q},
                    }
                )
            return {"provider": name, "timezone": "Europe/Lisbon", "items": items}

        @r.post("/internal/quote")
        async def quote(body: dict) -> Any:
            if (gate := await self._gate(name, "quote")) is not None:
                return gate
            out = []
            for it in body["items"]:
                units = it.get("party_size") or it.get("quantity") or 1
                cost = it["cost"]
                ok = it["id"] not in self.unavailable_items
                out.append(
                    {
                        "item_id": it["id"],
                        "available": ok,
                        "unit_price": cost,
                        "price": money(cost["amount_minor"] * units, cost["currency"]),
                        "cancellation_policy": policy,
                        "reason": None if ok else "slot_unavailable",
                    }
                )
            return QuoteResult.model_validate({"provider": name, "items": out}).model_dump(
                mode="json"
            )

        @r.get("/internal/bookings/{booking_id}/items/{item_id}/cancel-quote")
        async def cancel_quote(booking_id: str, item_id: str) -> Any:
            if (gate := await self._gate(name, "cancel-quote")) is not None:
                return gate
            answer = {
                "item_id": item_id,
                "cancellable": True,
                "refund": money(4000),
                "fee": money(1000),
                "policy": policy,
            }
            return CancelQuote.model_validate(answer).model_dump(mode="json")

        return r

    # --- orchestrator -------------------------------------------------------------------------

    def _orchestrator(self) -> APIRouter:
        r = APIRouter()

        @r.get("/internal/sagas")
        async def list_sagas(request: Request) -> Any:
            if (gate := await self._gate("orchestrator", "list")) is not None:
                return gate
            state = request.query_params.get("state")
            provider = request.query_params.get("provider")
            sagas = [
                s
                for s in self.sagas.values()
                if (not state or s["state"] == state)
                and (not provider or provider in s.get("providers", []))
            ]
            self.list_queries.append(dict(request.query_params))
            answer = {"sagas": [saga_summary(s) for s in sagas], "total": len(sagas)}
            return SagaList.model_validate(answer).model_dump(mode="json")

        @r.get("/internal/sagas/stuck")
        async def list_stuck(request: Request) -> Any:
            self.list_queries.append({"stuck": "1", **request.query_params})
            stuck = [s for s in self.sagas.values() if s.get("reason")]
            answer = {
                "sagas": [
                    {
                        **saga_summary(s),
                        "reason": s["reason"],
                        "detail": s.get("detail", s["reason"]),
                        "since": None,
                        "step": s.get("step"),
                        "deadline_at": None,
                        "attempts": None,
                    }
                    for s in stuck
                ],
                "total": len(stuck),
            }
            return StuckSagaList.model_validate(answer).model_dump(mode="json")

        @r.get("/internal/sagas/{booking_id}")
        async def get_saga(booking_id: str) -> Any:
            if (gate := await self._gate("orchestrator", "get")) is not None:
                return gate
            saga = self.sagas.get(booking_id)
            return full_saga(saga) if saga else problem(404, "no such saga")

        @r.post("/internal/sagas/{booking_id}/{action}")
        async def act(booking_id: str, action: str, body: dict) -> Any:
            saga = self.sagas.get(booking_id)
            if not saga:
                return problem(404, "no such saga")
            if saga["state"] in ("CONFIRMED", "FAILED", "CANCELLED") and action in (
                "retry",
                "compensate",
            ):
                return problem(409, f"saga is {saga['state']}")
            self.actions.append({"booking_id": booking_id, "action": action, **body})
            saga.setdefault("history", []).append(
                {"direction": "action", "type": action, "summary": body.get("reason")}
            )
            return full_saga(saga)

        return r
