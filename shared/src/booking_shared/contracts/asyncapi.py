"""AsyncAPI 3.0 documents, generated from the contracts: one per service and one merged document
of every topic, message and golden example, with the compatibility rules.

    python -m booking_shared.contracts.asyncapi [--check] [--out DIR]   (make asyncapi)

Generated from the pydantic models, the golden examples and the topic catalogue rather than
from FastStream's schema of the services' apps: each service consumes through one catch-all
FastStream subscriber that hands raw bytes to the shared MessageRouter (routing by the envelope's
`type`), and publishes through the outbox relay, so FastStream's document would show one channel
with an untyped payload and no messages.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from booking_shared.contracts.base import REGISTRY, Message
from booking_shared.contracts.catalogue import SERVICES, TOPICS, Service
from booking_shared.contracts.envelope import HEADER_FIELDS, Envelope

REPO = Path(__file__).resolve().parents[4]
OUT = REPO / "docs" / "asyncapi"
EXAMPLES = Path(__file__).parent / "examples"
VERSION = "1.0.0"
REF = "#/components/schemas/{model}"
DLQ_CHANNEL = "dead_letters"

RULES = """\
## Compatibility rules

What a consumer may rely on:
- **Topic names are versioned** (`booking.events.v1`). Within a version, a message type's meaning
  and its fields never change in a breaking way: no field is removed, renamed, retyped or made
  required, no meaning changes.
- **The envelope is in the Kafka headers** (CloudEvents' binary mode); the value is the message's
  JSON. Headers: `message_id`, `type`, `schema_version`, `correlation_id` (the booking id),
  `causation_id`, `occurred_at`, `producer`, `traceparent` (W3C trace context), all UTF-8 text.
- **The Kafka key is the booking id**: one booking's messages on one topic arrive in the order
  they were produced. There is no order across topics.
- **Delivery is at least once**: a message may come twice (same `message_id`); deduplicate by
  `message_id`. Redeliveries and resends after a deadline keep the ids the consumer needs.
- **Money** is integer minor units plus an ISO 4217 currency, never a float. Times are UTC.
- **No personal data or card data** on the public topics: ids are opaque, guest contact is sealed.

What a consumer must tolerate (these are not breaking changes, and come without a new topic):
- a new optional field in a message (ignore fields you do not know; `schema_version` of the type
  goes up by one);
- a new message type on a topic (skip types you do not know, by the `type` header);
- a new value of a reason code or a state name (treat an unknown one as its generic case).

How versions change:
- An additive change raises the type's `schema_version` (the header and `x-schema-version` here)
  and is listed in docs/EVENTS.md.
- A breaking change is a new model on a new topic version (`booking.events.v2`). The producer
  publishes both versions for at least one release (and at least 30 days) before the old topic
  is retired; the retirement is announced in docs/EVENTS.md.
- Messages that cannot be handled go to `<topic>.dlq` with the error in `dlq_*` headers; they
  are never dropped silently.
"""


def channel_id(address: str) -> str:
    return address.replace(".", "_")


def _summary(model: type[Message]) -> str:
    return (inspect.getdoc(model) or model.__name__).splitlines()[0]


def _senders(type_name: str) -> list[str]:
    return [
        s.name
        for s in SERVICES.values()
        for models in s.sends.values()
        if type_name in {m.__name__ for m in models}
    ]


def _example(model: type[Message]) -> dict[str, Any]:
    payload = json.loads((EXAMPLES / f"{model.__name__}.json").read_text())
    env = json.loads((EXAMPLES / "Envelope.json").read_text())
    senders = _senders(model.__name__)
    env.update(
        type=model.__name__,
        schema_version=model.SCHEMA_VERSION,
        producer=senders[0] if senders else "",
    )
    env["correlation_id"] = payload.get("booking_id", env["correlation_id"])
    headers = {k: str(env[k]) for k in HEADER_FIELDS if env.get(k) is not None}
    return {
        "name": "golden",
        "summary": f"The golden example of {model.__name__}",
        "headers": headers,
        "payload": payload,
    }


def _headers_schema() -> dict[str, Any]:
    fields = Envelope.model_fields
    required = [n for n in HEADER_FIELDS if fields[n].is_required()]
    return {
        "type": "object",
        "description": "The envelope, as Kafka headers (UTF-8 text).",
        "required": required,
        "properties": {
            n: {"type": "string", "description": fields[n].description or n} for n in HEADER_FIELDS
        },
    }


def _message(model: type[Message]) -> dict[str, Any]:
    return {
        "name": model.__name__,
        "title": model.__name__,
        "summary": _summary(model),
        "contentType": "application/json",
        "headers": {"$ref": "#/components/schemas/EnvelopeHeaders"},
        "payload": {"$ref": REF.format(model=model.__name__)},
        "correlationId": {
            "location": "$message.header#/correlation_id",
            "description": "The booking id.",
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The booking id."},
                "bindingVersion": "0.5.0",
            }
        },
        "examples": [_example(model)],
        "x-schema-version": model.SCHEMA_VERSION,
    }


def _types_on(address: str) -> list[type[Message]]:
    """Every message type sent on a topic, in catalogue order."""
    seen: dict[str, type[Message]] = {}
    for s in SERVICES.values():
        for m in s.sends.get(address, ()):
            seen.setdefault(m.__name__, m)
    return list(seen.values())


def _channel(address: str) -> dict[str, Any]:
    topic = TOPICS[address]
    return {
        "address": address,
        "title": address,
        "description": topic.description,
        "messages": {
            m.__name__: {"$ref": f"#/components/messages/{m.__name__}"} for m in _types_on(address)
        },
        "tags": [{"name": "public" if topic.public else "internal"}],
    }


def _dead_letters() -> dict[str, Any]:
    return {
        "address": "{topic}.dlq",
        "title": "<topic>.dlq",
        "description": "A message that could not be handled after retries: the original value and headers, "
        "plus dlq_error, dlq_attempts, dlq_source_topic, dlq_consumer, dlq_partition, dlq_offset.",
        "parameters": {"topic": {"description": "The topic the message came from."}},
        "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
        "tags": [{"name": "internal"}],
    }


def _dead_letter_message() -> dict[str, Any]:
    extra = (
        "dlq_error",
        "dlq_attempts",
        "dlq_source_topic",
        "dlq_consumer",
        "dlq_partition",
        "dlq_offset",
    )
    return {
        "name": "DeadLetter",
        "title": "DeadLetter",
        "summary": "The original message, unchanged, with why it was parked.",
        "headers": {
            "type": "object",
            "properties": {k: {"type": "string"} for k in (*HEADER_FIELDS, *extra)},
            "required": list(extra),
        },
        "payload": {
            "description": "The original Kafka value, as it came (it may not be valid JSON)."
        },
    }


def _operations(service: Service) -> dict[str, Any]:
    ops: dict[str, Any] = {}
    for action, routes in (("send", service.sends), ("receive", service.receives)):
        for address, models in routes.items():
            cid = channel_id(address)
            ops[f"{channel_id(service.name)}_{action}_{cid}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{cid}"},
                "summary": f"{service.name} {action}s {', '.join(m.__name__ for m in models)}",
                "messages": [{"$ref": f"#/channels/{cid}/messages/{m.__name__}"} for m in models],
                "x-service": service.name,
            }
    if service.receives:
        ops[f"{channel_id(service.name)}_send_{DLQ_CHANNEL}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{DLQ_CHANNEL}"},
            "summary": f"{service.name} dead-letters what it cannot handle on "
            + ", ".join(sorted(service.receives)),
            "messages": [{"$ref": f"#/channels/{DLQ_CHANNEL}/messages/DeadLetter"}],
            "x-service": service.name,
        }
    return ops


def document(services: list[Service], *, title: str, description: str) -> dict[str, Any]:
    """An AsyncAPI 3.0 document of these services' operations (all of them: the merged one)."""
    addresses = sorted(
        {a for s in services for a in (*s.sends, *s.receives)}, key=list(TOPICS).index
    )
    types = {m.__name__: m for a in addresses for m in _types_on(a)}
    for s in services:
        for models in (*s.sends.values(), *s.receives.values()):
            types.update({m.__name__: m for m in models})
    ordered = [REGISTRY[n] for n in sorted(types)]
    _, defs = models_json_schema([(m, "validation") for m in ordered], ref_template=REF)
    schemas: dict[str, Any] = {
        "EnvelopeHeaders": _headers_schema(),
        **dict(sorted(defs.get("$defs", {}).items())),
    }
    for m in ordered:
        schemas[m.__name__]["x-schema-version"] = m.SCHEMA_VERSION
    channels = {channel_id(a): _channel(a) for a in addresses}
    channels[DLQ_CHANNEL] = _dead_letters()
    operations: dict[str, Any] = {}
    for s in services:
        operations.update(_operations(s))
    return {
        "asyncapi": "3.0.0",
        "info": {"title": title, "version": VERSION, "description": description},
        "defaultContentType": "application/json",
        "servers": {
            "production": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": "Apache Kafka (docker-compose.yml).",
            },
            "dev": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The Kafka-protocol broker of `make up`.",
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {
                **{m.__name__: _message(m) for m in ordered},
                "DeadLetter": _dead_letter_message(),
            },
            "schemas": schemas,
        },
    }


def documents() -> dict[str, str]:
    """File name -> YAML text: asyncapi.yaml (merged) and <service>.yaml for each service."""
    merged = document(
        list(SERVICES.values()),
        title="One-click booking: every topic",
        description="Every topic of the booking system, who sends and receives each message, and a golden "
        "example of each. Public topics (tag `public`): booking.events.v1 and saga.state.v1; the others "
        "are internal to the system and may change with it.\n\n" + RULES,
    )
    out = {"asyncapi.yaml": merged}
    for s in SERVICES.values():
        out[f"{s.name}.yaml"] = document(
            [s], title=f"{s.name}", description=s.description + "\n\n" + RULES
        )
    header = "# Generated by `make asyncapi` (booking_shared.contracts.asyncapi); do not edit.\n"
    return {
        name: header
        + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
        for name, doc in out.items()
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line text (the descriptions) as YAML literal blocks, readable in the file."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    )


_Dumper.add_representer(str, _text)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[argv.index("--out") + 1]) if "--out" in argv else OUT
    docs = documents()
    if "--check" in argv:
        stale = [
            n for n, text in docs.items() if not (out / n).exists() or (out / n).read_text() != text
        ]
        extra = [p.name for p in out.glob("*.yaml") if p.name not in docs] if out.exists() else []
        if stale or extra:
            print(
                "AsyncAPI documents differ from the code (run make asyncapi):",
                ", ".join(stale + extra),
            )
            return 1
        return 0
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.yaml"):
        if old.name not in docs:
            old.unlink()
    for name, text in docs.items():
        (out / name).write_text(text)
    print(f"wrote {len(docs)} AsyncAPI documents to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
