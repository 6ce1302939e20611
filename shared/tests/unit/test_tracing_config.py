"""Which span exporters the standard OTEL_* variables ask for, and what tracing off means."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from booking_shared import tracing
from booking_shared.contracts import Envelope


def test_no_otel_variables_means_no_exporter_and_tracing_stays_off():
    assert tracing.exporters_from_env({}) == []
    assert tracing.exporters_from_env({"OTEL_TRACES_EXPORTER": "none"}) == []


def test_an_otlp_endpoint_alone_means_the_otlp_exporter():
    (exporter,) = tracing.exporters_from_env(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    )
    assert isinstance(exporter, OTLPSpanExporter)


def test_the_exporter_list_is_read_as_the_specification_says():
    exporters = tracing.exporters_from_env({"OTEL_TRACES_EXPORTER": "otlp, console"})
    assert [type(e) for e in exporters] == [OTLPSpanExporter, ConsoleSpanExporter]


def test_the_sdk_switch_turns_everything_off():
    assert (
        tracing.exporters_from_env({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"})
        == []
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER=zipkin"),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
        ),
    ],
)
def test_a_setting_the_service_cannot_honour_fails_at_start_naming_it(env, named):
    with pytest.raises(ValueError, match=named):
        tracing.exporters_from_env(env)


def test_with_tracing_off_an_envelope_keeps_its_causes_trace_id():
    assert not tracing.enabled()
    assert tracing.current_traceparent() is None
    first = Envelope.new("BookingRequested", correlation_id="bk_1", producer="gateway")
    second = Envelope.new("HoldItem", correlation_id="bk_1", producer="orchestrator", cause=first)
    assert second.traceparent.split("-")[1] == first.traceparent.split("-")[1]
    with tracing.span("nothing") as s:
        assert s is None
