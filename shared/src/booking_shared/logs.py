"""Structured logging through structlog: one JSON object a line (or readable lines when
LOG_FORMAT=console), with the booking id, message id and trace id of what is being handled.

Every service logs with the standard library (`logging.getLogger(__name__)`, fields in
`extra=`); structlog's ProcessorFormatter renders each record. The ids come from context
variables: the message router binds them from each message's envelope (`bind_message`), the
gateway from each request (`bind_request`), the deadline worker from the saga it fires.
Fields whose name says secret or personal data are masked whatever the caller passed.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from opentelemetry import trace as otel_trace
from structlog.typing import EventDict, Processor, WrappedLogger

booking_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "booking_id", default=None
)
message_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "message_id", default=None
)
trace_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)

# W3C traceparent: version-trace_id-parent_id-flags.
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
# Field names whose value is never written, whoever passes them.
_MASKED = re.compile(
    r"pass(word)?|secret|token|authorization|api_?key|cookie|card_?number|^pan$|cvc|email|phone|"
    r"^(first_|last_|full_|guest_)?name$",
    re.IGNORECASE,
)
MASK = "[masked]"


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id of a W3C traceparent header, None if there is none or it is malformed."""
    if not traceparent:
        return None
    m = _TRACEPARENT.match(traceparent.strip().lower())
    return m.group(1) if m else None


def current_trace_id() -> str | None:
    """The trace id every log line carries: the one of the message or request being handled
    (its traceparent), or the current OpenTelemetry span's where tracing is on."""
    ctx = otel_trace.get_current_span().get_span_context()
    if ctx.is_valid:
        return format(ctx.trace_id, "032x")
    return trace_id_var.get()


def bind_message(headers: Iterable[tuple[str, Any]]) -> None:
    """Bind the ids of the message about to be handled, read from its envelope headers (even a
    malformed envelope gives what it has), replacing those of the previous message."""
    found: dict[str, str] = {}
    for name, value in headers:
        if name in ("correlation_id", "message_id", "traceparent"):
            found[name] = (
                value.decode(errors="replace")
                if isinstance(value, bytes | bytearray)
                else str(value)
            )
    booking_id_var.set(found.get("correlation_id"))
    message_id_var.set(found.get("message_id"))
    trace_id_var.set(trace_id_of(found.get("traceparent")))


def bind_request(booking_id: str | None, traceparent: str | None) -> str:
    """Bind the ids of an HTTP request: the booking it is about (if any) and its trace id, from
    the caller's traceparent or a new one. Returns the trace id."""
    trace_id = trace_id_of(traceparent) or uuid.uuid4().hex
    booking_id_var.set(booking_id)
    message_id_var.set(None)
    trace_id_var.set(trace_id)
    return trace_id


def _add_context(service: str) -> Callable[[WrappedLogger, str, EventDict], EventDict]:
    def add(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
        record: logging.LogRecord | None = event.get("_record")
        event["service"] = service
        if record is not None:
            event["level"] = record.levelname
            event["logger"] = record.name
        # Every line has the three ids, null where the line is about no booking or message.
        event.setdefault("booking_id", booking_id_var.get())
        event.setdefault("message_id", message_id_var.get())
        event.setdefault("trace_id", current_trace_id())
        return event

    return add


def _mask(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    for key in list(event):
        if isinstance(key, str) and _MASKED.search(key) and event[key] is not None:
            event[key] = MASK
    return event


def _order(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """The fixed fields first, so that a line reads the same in every service."""
    head = {k: event.pop(k) for k in ("ts", "level", "service", "logger", "msg") if k in event}
    return {**head, **event}


def formatter(service: str, fmt: str = "json") -> structlog.stdlib.ProcessorFormatter:
    """The formatter of every log line of a service: `fmt` is json or console."""
    pre_chain: list[Processor] = [
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        structlog.stdlib.ExtraAdder(),
        _add_context(service),
    ]
    if fmt == "console":
        # A plain traceback: rich's, the default when rich is installed, prints each frame's
        # local variables (an API key in a request's headers among them) and takes seconds to
        # render a deep one, with the event loop blocked.
        renderer: Any = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
        final = [structlog.stdlib.ProcessorFormatter.remove_processors_meta, _mask, renderer]
    else:
        final = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _mask,
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("msg"),
            _order,
            structlog.processors.JSONRenderer(default=str),
        ]
    return structlog.stdlib.ProcessorFormatter(processors=final, foreign_pre_chain=pre_chain)


class RepeatLimit(logging.Filter):
    """Lets one warning or error of a broker client through per `window_s` for each message
    template (the same error for every partition, on every poll, is one template), and adds
    to the next one let through how many were held back. A broker away or empty makes the
    Kafka client repeat itself many times a second; the log keeps the news, not the noise."""

    # The broker clients, and the message router's own retries (booking_shared.messaging).
    PREFIXES = ("aiokafka", "faststream", "kafka", "booking_shared.messaging.retries")

    def __init__(self, window_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window_s = window_s
        self.clock = clock
        self._last: dict[tuple[str, str], float] = {}
        self._held: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(self.PREFIXES):
            return True
        key = (record.name, str(record.msg))
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.window_s:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        self._last[key] = now
        if held := self._held.pop(key, 0):
            record.repeated = held  # shown in JSON logs; counted since the last one shown
            record.msg = f"{record.msg} (and {held} more like it since)"
        if len(self._last) > 10_000:  # templates are few; bound the memory anyway
            self._last.clear()
        return True


def configure(
    service: str, level: str = "INFO", fmt: str = "json", repeat_window_s: float = 30.0
) -> None:
    """Route every log record of the process (ours, libraries', uvicorn's, warnings and
    uncaught exceptions) through one handler on stderr with the service's formatter."""
    handler = logging.StreamHandler(sys.stderr)
    if repeat_window_s > 0:
        handler.addFilter(RepeatLimit(repeat_window_s))
    handler.setFormatter(formatter(service, fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "faststream", "kafka", "yoyo"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # The Stripe SDK logs request and response bodies at DEBUG: never let them through.
    logging.getLogger("stripe").setLevel(logging.WARNING)
    # uvicorn installs handlers of its own that write plain text: send its records to ours.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    logging.getLogger("uncaught").critical("uncaught exception", exc_info=(kind, exc, tb))
