"""Contract test of the internal HTTP APIs: for every route the gateway calls, the server's own
OpenAPI (app.openapi() of its real routers) must describe the very request and answer the
gateway's client parses (booking_shared.contracts.internal). A server that changes a route's
shape, drops its response_model or adds a route the gateway does not know fails here."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from booking_shared.contracts.internal import orchestrator as saga_api
from booking_shared.contracts.internal import payment as payment_api
from booking_shared.contracts.internal import provider as provider_api
from booking_shared.provider_kit.api import router as provider_router
from gateway.adapters import orchestrator as orchestrator_client
from gateway.adapters import payment as payment_client
from gateway.adapters import providers as provider_client
from orchestrator.entrypoints.http import router as orchestrator_router
from payment.entrypoints.http import router as payment_router

# (method, path as the server declares it, request model, answer model, success status) of every
# internal route, with the models the gateway's clients use.
PAYMENT = [
    ("post", "/internal/customers", payment_client.CustomerIn, payment_client.CustomerOut, "200"),
    (
        "post",
        "/internal/customers/{customer_id}/setup-intents",
        None,
        payment_client.SetupIntentOut,
        "201",
    ),
    (
        "get",
        "/internal/customers/{customer_id}/payment-methods",
        None,
        payment_client.CardList,
        "200",
    ),
    (
        "post",
        "/internal/customers/{customer_id}/payment-methods",
        payment_client.AttachIn,
        payment_client.Card,
        "201",
    ),
    (
        "post",
        "/internal/customers/{customer_id}/payment-methods/{pm_id}/default",
        None,
        payment_client.Card,
        "200",
    ),
    ("delete", "/internal/customers/{customer_id}/payment-methods/{pm_id}", None, None, "204"),
    ("get", "/internal/payments/{booking_id}", None, payment_client.PaymentView, "200"),
]
ORCHESTRATOR = [
    ("get", "/internal/sagas", None, orchestrator_client.SagaList, "200"),
    ("get", "/internal/sagas/stuck", None, orchestrator_client.StuckSagaList, "200"),
    ("get", "/internal/sagas/{booking_id}", None, orchestrator_client.SagaView, "200"),
    *(
        (
            "post",
            f"/internal/sagas/{{booking_id}}/{action}",
            orchestrator_client.ActionRequest,
            orchestrator_client.SagaView,
            "200",
        )
        for action in orchestrator_client.ACTIONS
    ),
]
PROVIDER = [
    ("get", "/internal/capabilities", None, provider_client.ProviderCapabilities, "200"),
    ("get", "/internal/search", None, provider_client.SearchResult, "200"),
    ("post", "/internal/quote", provider_client.QuoteRequest, provider_client.QuoteResult, "200"),
    ("get", "/internal/bookings/{booking_id}/items", None, provider_client.BookedItems, "200"),
    (
        "get",
        "/internal/bookings/{booking_id}/items/{item_id}/cancel-quote",
        None,
        provider_client.CancelQuote,
        "200",
    ),
]
SERVERS = {
    "payment": (payment_router, PAYMENT),
    "orchestrator": (orchestrator_router, ORCHESTRATOR),
    "provider": (provider_router, PROVIDER),
}


def openapi(router) -> dict[str, Any]:
    app = FastAPI()
    app.include_router(router)
    return app.openapi()


def resolve(schema: Any, components: dict[str, Any]) -> Any:
    """The schema with every $ref inlined and titles dropped (names may differ, shapes may not)."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return resolve(components[name], components)
        return {
            k: resolve(v, components)
            for k, v in schema.items()
            if k not in ("title", "description", "examples")
        }
    if isinstance(schema, list):
        return [resolve(v, components) for v in schema]
    return schema


def model_schema(model: type[BaseModel], mode: str) -> Any:
    app = FastAPI()  # the same generator FastAPI uses for the servers, so both sides compare alike

    if mode == "serialization":

        @app.get("/probe", response_model=model)
        async def probe_out() -> Any: ...

        doc = app.openapi()
        schema = doc["paths"]["/probe"]["get"]["responses"]["200"]["content"]["application/json"][
            "schema"
        ]
    else:

        async def probe_in(body):  # type: ignore[no-untyped-def]
            ...

        probe_in.__annotations__ = {"body": model, "return": None}
        app.post("/probe")(probe_in)
        doc = app.openapi()
        schema = doc["paths"]["/probe"]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ]
    return resolve(schema, doc.get("components", {}).get("schemas", {}))


CASES = [(server, *route) for server, (_, routes) in SERVERS.items() for route in routes]


@pytest.mark.parametrize(
    ("server", "method", "path", "request_model", "answer_model", "status"), CASES
)
def test_the_server_declares_what_the_client_parses(
    server, method, path, request_model, answer_model, status
):
    doc = openapi(SERVERS[server][0])
    components = doc.get("components", {}).get("schemas", {})
    operation = doc["paths"].get(path, {}).get(method)
    assert operation is not None, f"{server} no longer serves {method.upper()} {path}"
    assert status in operation["responses"], (
        f"{server} {method.upper()} {path} answers {sorted(operation['responses'])}"
    )
    if answer_model is not None:
        content = operation["responses"][status].get("content", {}).get("application/json", {})
        assert resolve(content.get("schema"), components) == model_schema(
            answer_model, "serialization"
        )
    if request_model is not None:
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        assert resolve(body.get("schema"), components) == model_schema(request_model, "validation")


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_every_internal_route_of_a_server_is_in_the_contract(server):
    router, routes = SERVERS[server]
    served = {
        (m, p)
        for p, ops in openapi(router)["paths"].items()
        for m in ops
        if p.startswith("/internal")
    }
    assert served == {(m, p) for m, p, *_ in routes}


def test_a_drifted_answer_is_caught():
    """The check can fail: a server answering another shape than the client's model differs."""

    class Drifted(BaseModel):
        payment_methods: list[payment_api.Card]
        next_page: str | None = None

    assert model_schema(Drifted, "serialization") != model_schema(
        payment_api.CardList, "serialization"
    )


def test_the_clients_use_the_shared_models():
    assert payment_client.Card is payment_api.Card
    assert orchestrator_client.SagaView is saga_api.SagaView
    assert orchestrator_client.StuckSagaList is saga_api.StuckSagaList
    assert provider_client.SearchResult is provider_api.SearchResult
