"""Finishing touches on the OpenAPI document: the Problem schema, problem+json for FastAPI's own
validation answers, examples for the built-in health routes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from gateway.entrypoints.api.examples import PROBLEMS, problems

TAGS = [
    {
        "name": "users",
        "description": "Sign-up (a bearer token, shown once), profile and booking preferences.",
    },
    {
        "name": "payment methods",
        "description": "Saved cards as Stripe tokens, through the payment service. Never a card number.",
    },
    {"name": "search", "description": "Restaurants and events from every provider at once."},
    {
        "name": "quotes",
        "description": "Price a day's items; see whether your preferences allow booking them in one click.",
    },
    {
        "name": "bookings",
        "description": "One-click booking, status (also as Server-Sent Events), calendar, cancellation.",
    },
    {
        "name": "ops",
        "description": "Operators (ops role): sagas by state and age, history, retry / compensate / pause / resume.",
    },
]

DESCRIPTION = """
The public API of one-click booking: a person's planned day, booked and paid in one go, or nothing.

**Auth**: `Authorization: Bearer <token>` (from `POST /v1/users`, shown once, stored hashed). You see and
change only your own bookings, quotes and cards: anything else is 404. `/v1/ops/*` needs the ops role.

**Errors** are `application/problem+json` (RFC 9457) with `errors: [{field, message}]` naming each field at
fault; a refused request changes nothing. Card numbers are refused anywhere (422), never stored or logged;
so is a NUL character or a lone surrogate in any string (422). A body over the size limit is 413 before
anything else. Rules that the schemas cannot state: the items of one quote have unique `id`s and all costs
in one currency (else 422 naming the item).

**Tokens** expire (`expires_at`); `POST /v1/tokens` rolls over, `POST /v1/tokens/revoke` signs out.

**Idempotency**: `POST /v1/bookings` requires `Idempotency-Key` (IETF draft): missing -> 400, same key and
body -> the same answer, same key and another body -> 422, same key while in flight -> 409.

**Rate limits** per user on quotes and bookings: 429 with `Retry-After`.
"""


class ProblemField(BaseModel):
    field: str = Field(examples=["items[0].cost"])
    message: str = Field(examples=["cannot read an amount from 'lots'"])


class Problem(BaseModel):
    """RFC 9457 problem details; extra members (reasons, retry_after, service, ...) may follow."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["https://booking.local/problems/invalid-input"])
    title: str = Field(examples=["Invalid input"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["invalid input: items[0].cost"])
    instance: str | None = Field(None, examples=["/v1/quotes"])
    errors: list[ProblemField] = Field(default_factory=list)


BUILTIN_EXAMPLES: dict[str, tuple[str, Any]] = {
    "/healthz": ("application/json", {"status": "ok", "service": "gateway"}),
    "/readyz": (
        "application/json",
        {
            "status": "ready",
            "checks": {"started": True, "database": True, "broker": True, "outbox_pending": 0},
        },
    ),
    "/metrics": (
        "text/plain",
        '# HELP booking_outbox_pending Outbox rows not yet published\nbooking_outbox_pending{service="gateway"} 0.0\n',
    ),
}


def _add_guard_problems(path: str, op: dict[str, Any], responses: dict[str, Any]) -> None:
    """What the guards in front of every route can answer, documented on every route they guard:
    a card number anywhere (422); for a body, not JSON (400), too large (413), not
    application/json (415)."""
    names = ["pan"] if path.startswith("/v1/") else []
    if "requestBody" in op:
        names += ["malformed", "too_large", "unsupported"]
    for status, entry in problems(*names).items():
        key = str(status)
        have = responses.get(key)
        if have is None:
            responses[key] = entry
            continue
        media = have.setdefault("content", {}).setdefault(
            "application/problem+json", {"schema": {"$ref": "#/components/schemas/Problem"}}
        )
        if "example" in media:  # one or the other, never both
            media["examples"] = {"default": {"value": media.pop("example")}}
        examples = media.setdefault("examples", {})
        for name, example in entry["content"]["application/problem+json"]["examples"].items():
            examples.setdefault(name, example)
        if entry["description"] not in have.get("description", ""):
            have["description"] = f"{have.get('description', '')}; {entry['description']}".lstrip(
                "; "
            )


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = FastAPI.openapi(app)
        comps = schema.setdefault("components", {}).setdefault("schemas", {})
        defs = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in defs.pop("$defs", {}).items():
            comps[name] = sub
        comps["Problem"] = defs
        invalid = PROBLEMS["invalid"][2]
        for path, ops in schema.get("paths", {}).items():
            for op in ops.values():
                responses = op.get("responses", {})
                _add_guard_problems(path, op, responses)
                r422 = responses.get("422")
                if r422 and "application/json" in r422.get("content", {}):
                    responses["422"] = {
                        "description": "Invalid input; `errors` names each field",
                        "content": {
                            "application/problem+json": {
                                "schema": {"$ref": "#/components/schemas/Problem"},
                                "example": invalid,
                            }
                        },
                    }
                if path in BUILTIN_EXAMPLES:
                    media, example = BUILTIN_EXAMPLES[path]
                    ok = responses.setdefault("200", {"description": "OK"})
                    ok.setdefault("content", {}).setdefault(media, {})["example"] = example
        for unused in ("HTTPValidationError", "ValidationError"):
            comps.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it
