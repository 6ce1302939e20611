"""The AsyncAPI documents: the committed files are what the code generates (`make asyncapi`),
they are valid AsyncAPI 3.0, and the topic catalogue they come from agrees with the contracts and
with what the services actually subscribe to and declare they send."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import jsonschema_rs
import pytest
import yaml

from booking_shared.contracts import REGISTRY
from booking_shared.contracts import asyncapi as gen
from booking_shared.contracts.catalogue import SERVICES, TOPICS
from booking_shared.contracts.topics import all_topics
from booking_shared.messaging import MessageRouter

# The official JSON Schema of AsyncAPI 3.0.0 (npm @asyncapi/specs 6.11.1, Apache-2.0).
SPEC = Path(__file__).parent / "asyncapi-3.0.0.schema.json"


NAMES = ["asyncapi.yaml", *(f"{s}.yaml" for s in SERVICES)]
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return gen.documents()


def test_the_committed_documents_are_what_the_code_generates(generated):
    committed = {p.name: p.read_text() for p in gen.OUT.glob("*.yaml")}
    stale = sorted(
        n for n in set(generated) | set(committed) if generated.get(n) != committed.get(n)
    )
    assert stale == [], "run `make asyncapi` and commit docs/asyncapi"


@pytest.mark.parametrize("name", NAMES)
def test_each_document_is_valid_asyncapi_3_and_every_reference_resolves(name, generated):
    doc = yaml.load(generated[name], Loader=_Loader)
    errors = [
        f"{list(e.instance_path)}: {e.message[:200]}"
        for e in jsonschema_rs.validator_for(json.loads(SPEC.read_text())).iter_errors(doc)
    ]
    assert errors == []
    refs: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    for ref in refs:
        target = doc
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]  # KeyError: a dangling reference


def test_the_merged_document_lists_every_topic_message_and_golden_example(generated):
    doc = yaml.load(generated["asyncapi.yaml"], Loader=_Loader)
    addresses = {c["address"] for c in doc["channels"].values()}
    assert {t for t in all_topics() if not t.endswith(".dlq")} <= addresses
    assert "{topic}.dlq" in addresses
    messages = doc["components"]["messages"]
    assert set(REGISTRY) <= set(messages)
    for name, model in REGISTRY.items():
        (example,) = messages[name]["examples"]
        model.model_validate(example["payload"])
        assert example["headers"]["type"] == name
        assert messages[name]["x-schema-version"] == model.SCHEMA_VERSION
    public = {c["address"] for c in doc["channels"].values() if {"name": "public"} in c["tags"]}
    assert public == {"booking.events.v1", "saga.state.v1"}
    assert "Compatibility rules" in doc["info"]["description"]


def test_every_message_type_has_a_sender_and_every_topic_sent_to_has_a_receiver():
    sent = {m.__name__ for s in SERVICES.values() for ms in s.sends.values() for m in ms}
    assert sent == set(REGISTRY)
    for service in SERVICES.values():
        for address in service.sends:
            assert address in TOPICS
            assert any(address in other.receives for other in SERVICES.values()), address


def _routes(router: MessageRouter) -> dict[str, set[str]]:
    """(topic -> message types) the router handles, topics matched by a pattern included."""
    for address in TOPICS:
        router._resolve(address)
    return {t: set(h) for t, h in router.routes.items()}


def _declared(service: str) -> dict[str, set[str]]:
    return {t: {m.__name__ for m in ms} for t, ms in SERVICES[service].receives.items()}


def _sends(router: MessageRouter) -> dict[str, set[str]]:
    return {t: {m.__name__ for m in ms} for t, ms in router.sends.items()}


def _declared_sends(service: str) -> dict[str, set[str]]:
    return {t: {m.__name__ for m in ms} for t, ms in SERVICES[service].sends.items()}


def _router(settings) -> MessageRouter:
    return MessageRouter(settings=settings, pool=None, consumer="catalogue-check")  # type: ignore[arg-type]


def test_the_orchestrators_subscriptions_are_the_catalogues():
    from orchestrator.config import Settings
    from orchestrator.entrypoints.messaging import subscribe

    settings = Settings()
    router = _router(settings)
    subscribe(SimpleNamespace(router=router, settings=settings), deps=None)  # type: ignore[arg-type]
    assert _routes(router) == _declared("booking-orchestrator")
    assert _sends(router) == _declared_sends("booking-orchestrator")


def test_the_payment_services_subscriptions_are_the_catalogues():
    from payment.config import Settings
    from payment.entrypoints.messaging import subscribe

    settings = Settings()
    router = _router(settings)
    subscribe(router, SimpleNamespace(settings=settings))  # type: ignore[arg-type]
    assert _routes(router) == _declared("payment")
    assert _sends(router) == _declared_sends("payment")


def test_the_gateways_subscriptions_are_the_catalogues():
    from gateway.config import Settings
    from gateway.entrypoints.messaging import subscribe

    router = _router(Settings())
    subscribe(router, None)  # type: ignore[arg-type]
    assert _routes(router) == _declared("gateway")
    assert _sends(router) == _declared_sends("gateway")


class _NoDatabase(Exception):
    pass


@pytest.mark.parametrize("provider", ["opentable", "eventbrite"])
async def test_a_provider_services_subscriptions_are_the_catalogues(provider):
    from booking_shared.config import ServiceSettings
    from booking_shared.provider_kit.service import wire_provider

    def acquire():
        raise _NoDatabase  # wiring registers the routes first, then announces the provider

    settings = ServiceSettings()
    router = _router(settings)
    rt = SimpleNamespace(router=router, settings=settings, pool=SimpleNamespace(acquire=acquire))
    with pytest.raises(_NoDatabase):
        await wire_provider(rt, SimpleNamespace(name=provider))  # type: ignore[arg-type]
    assert _routes(router) == _declared(f"provider-{provider}")
    assert _sends(router) == _declared_sends(f"provider-{provider}")
