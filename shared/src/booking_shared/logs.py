"""Structured logging: one JSON object a line, with the booking id and message id in context."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

booking_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("booking_id", default=None)
message_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("message_id", default=None)

_STD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if (b := booking_id_var.get()) is not None:
            out["booking_id"] = b
        if (m := message_id_var.get()) is not None:
            out["message_id"] = m
        for k, v in record.__dict__.items():
            if k not in _STD and not k.startswith("_"):
                out[k] = v
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class RepeatLimit(logging.Filter):
    """Lets one warning or error of a broker client through per `window_s` for each message
    template (the same error for every partition, on every poll, is one template), and adds
    to the next one let through how many were held back. A broker away or empty makes the
    Kafka client repeat itself many times a second; the log keeps the news, not the noise."""

    PREFIXES = ("aiokafka", "faststream", "kafka")

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


def configure(service: str, level: str = "INFO", as_json: bool = True, repeat_window_s: float = 30.0) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if repeat_window_s > 0:
        handler.addFilter(RepeatLimit(repeat_window_s))
    if as_json:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "faststream", "kafka", "yoyo"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # The Stripe SDK logs request and response bodies at DEBUG: never let them through.
    logging.getLogger("stripe").setLevel(logging.WARNING)
