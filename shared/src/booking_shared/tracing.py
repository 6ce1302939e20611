"""Tracing with OpenTelemetry: one trace per booking, from the gateway's request through every
Kafka hop, partner call and Stripe call.

Off unless the standard OTEL_* variables ask for an exporter, so dev and the benchmark pay
nothing for it. When on, a service process has:
- a server span per HTTP request (FastAPI instrumentation; probes excluded), and a client span
  per outgoing httpx call (partners, the other services, Stripe's SDK, which uses httpx), with
  the W3C `traceparent` header injected;
- a `send <topic>` producer span per message written to the outbox: its context is the
  envelope's `traceparent`, stored with the row, so that the relay (which publishes later, in
  another task) sends it in the Kafka headers;
- a `<topic> process` consumer span per message consumed (FastStream's Kafka telemetry
  middleware, which extracts that `traceparent`), under which the handler runs.

When off, envelopes still carry a `traceparent` that keeps the cause's trace id (log correlation
needs no exporter).

The OTEL_* variables are read here, as the OpenTelemetry specification defines them:
OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER (otlp, console, none; a comma-separated list),
OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (with no OTEL_TRACES_EXPORTER,
an endpoint alone means otlp), OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf only), OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG) and OTEL_BSP_* (read by the SDK itself).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger(__name__)

__all__ = [
    "annotate",
    "broker_middlewares",
    "configure",
    "current_traceparent",
    "enabled",
    "event",
    "exporters_from_env",
    "instrument_app",
    "producing",
    "reset",
    "span",
]

_SCOPE = "booking_shared"
_PROBES = "healthz,readyz,metrics"
_propagator = TraceContextTextMapPropagator()


class _State:
    provider: Any = None  # opentelemetry.sdk.trace.TracerProvider when on
    tracer: Tracer | None = None
    service: str = ""
    httpx_instrumented: bool = False


_state = _State()


def enabled() -> bool:
    return _state.tracer is not None


def exporters_from_env(env: Mapping[str, str] | None = None) -> list[Any]:
    """The span exporters the OTEL_* variables ask for ([] for none). Raises ValueError on a
    value this service cannot honour, so that a misconfigured deployment fails at start."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not names:
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        names = "otlp" if endpoint else "none"
    out: list[Any] = []
    for name in (n.strip() for n in names.split(",")):
        if name in ("", "none"):
            continue
        if name == "otlp":
            protocol = (
                env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                or "http/protobuf"
            )
            if protocol != "http/protobuf":
                raise ValueError(
                    f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: only http/protobuf is supported (port 4318 of a collector)"
                )
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            out.append(OTLPSpanExporter())  # endpoint, headers, timeout: from OTEL_EXPORTER_OTLP_*
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            out.append(ConsoleSpanExporter(service_name=env.get("OTEL_SERVICE_NAME")))
        else:
            raise ValueError(f"OTEL_TRACES_EXPORTER={name}: expected otlp, console or none")
    return out


def configure(
    service_name: str,
    *,
    exporters: list[Any] | None = None,
    set_global: bool = True,
) -> bool:
    """Turn tracing on for this process if OTEL_* asks for an exporter (or `exporters` are given,
    as tests do with an in-memory one). Idempotent: the first call that turns it on wins.
    Returns whether tracing is on."""
    if _state.tracer is not None:
        return True
    chosen = exporters_from_env() if exporters is None else exporters
    if not chosen:
        return False
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service_name}
    provider = TracerProvider(resource=Resource.create(attributes))
    for exporter in chosen:
        # An exporter a test hands in is read right after the spans end: no batching delay.
        provider.add_span_processor(
            BatchSpanProcessor(exporter) if exporters is None else SimpleSpanProcessor(exporter)
        )
    _state.provider = provider
    _state.tracer = provider.get_tracer(_SCOPE)
    _state.service = service_name
    if set_global:
        trace.set_tracer_provider(provider)
        _instrument_httpx(provider)
    log.info("tracing on", extra={"exporters": [type(e).__name__ for e in chosen]})
    return True


def reset() -> None:
    """Tracing off again (tests): flushes and drops the provider of `configure(set_global=False)`."""
    if _state.provider is not None:
        with contextlib.suppress(Exception):
            _state.provider.shutdown()
    _state.provider = None
    _state.tracer = None


def _instrument_httpx(provider: Any) -> None:
    """Every httpx client of the process, present or future: partner adapters, the gateway's
    calls to the services, and the Stripe SDK's HTTPXClient."""
    if _state.httpx_instrumented:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    _state.httpx_instrumented = True


def instrument_app(app: Any) -> None:
    """A server span per request (the caller's traceparent as parent); probes excluded."""
    if _state.provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, tracer_provider=_state.provider, excluded_urls=_PROBES)


def broker_middlewares() -> tuple[Any, ...]:
    """FastStream's own Kafka telemetry: a consumer span per message, child of its traceparent."""
    if _state.provider is None:
        return ()
    from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
    from opentelemetry.metrics import NoOpMeterProvider

    return (
        KafkaTelemetryMiddleware(
            tracer_provider=_state.provider, meter_provider=NoOpMeterProvider()
        ),
    )


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, if there is a valid one."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


@contextlib.contextmanager
def span(
    name: str,
    attributes: Mapping[str, Any] | None = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: str | None = None,
) -> Iterator[Span | None]:
    """A span as the current one (None when tracing is off). `parent`: a W3C traceparent to
    continue (e.g. one stored with a row) instead of the current span."""
    if _state.tracer is None:
        yield None
        return
    ctx = _propagator.extract({"traceparent": parent}) if parent else None
    with _state.tracer.start_as_current_span(
        name,
        context=ctx,
        kind=kind,
        attributes={k: v for k, v in (attributes or {}).items() if v is not None},
    ) as s:
        yield s


@contextlib.contextmanager
def producing(
    topic: str, message_type: str, booking_id: str | None, *, parent: str | None = None
) -> Iterator[Span | None]:
    """The producer span of one message written to the outbox: its context becomes the
    envelope's traceparent. `parent`: the traceparent to continue when there is no current
    span (a resend continues the first message's trace)."""
    if parent and trace.get_current_span().get_span_context().is_valid:
        parent = None
    with span(
        f"send {topic}",
        {
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
            "messaging.message.type": message_type,
            "booking.id": booking_id,
        },
        kind=SpanKind.PRODUCER,
        parent=parent,
    ) as s:
        yield s


def annotate(attributes: Mapping[str, Any]) -> None:
    """Attributes on the current span (booking id, message type...); nothing when off."""
    if _state.tracer is None:
        return
    current = trace.get_current_span()
    if current.is_recording():
        current.set_attributes({k: v for k, v in attributes.items() if v is not None})


def event(name: str, attributes: Mapping[str, Any] | None = None) -> None:
    """An event on the current span (a saga transition); nothing when off."""
    if _state.tracer is None:
        return
    current = trace.get_current_span()
    if current.is_recording():
        current.add_event(name, {k: v for k, v in (attributes or {}).items() if v is not None})
