"""Errors as problem+json naming the field: FastAPI's own validation answers included."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from gateway.entrypoints.api import problems
from gateway.entrypoints.api.problems import GuardedRoute, field_name


class Thing(BaseModel):
    name: str
    size: int


def app() -> FastAPI:
    a = FastAPI()
    router = APIRouter(route_class=GuardedRoute)

    @router.post("/things")
    async def things(thing: Thing, limit: int = 1) -> dict:
        return {"ok": True}

    a.include_router(router)
    problems.install(a)
    return a


async def call(method: str, url: str, **kw) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app()), base_url="http://t"
    ) as c:
        return await c.request(method, url, **kw)


def test_locations_become_field_names():
    assert field_name(("body", "items", 0, "cost")) == "items[0].cost"
    assert field_name(("header", "idempotency-key")) == "Idempotency-Key"
    assert field_name(("query", "party_size")) == "party_size"
    assert field_name(("body",)) == "body"


async def test_a_validation_error_is_a_problem_naming_each_field_without_echoing_input():
    r = await call("POST", "/things?limit=x", json={"name": "secret-value", "size": "big"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert {e["field"] for e in body["errors"]} == {"size", "limit"}
    assert "secret-value" not in r.text and "big" not in r.text


async def test_malformed_json_is_400_and_a_card_number_422_before_validation():
    r = await call("POST", "/things", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["errors"] == [
        {"field": "body", "message": "not valid JSON"}
    ]
    r = await call("POST", "/things", json={"name": " ".join(["4242"] * 4), "size": 1})
    assert (
        r.status_code == 422 and r.json()["errors"][0]["field"] == "name" and "4111" not in r.text
    )


async def test_unknown_routes_are_problems():
    r = await call("GET", "/nowhere")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
