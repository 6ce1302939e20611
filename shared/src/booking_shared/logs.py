"""Structured logging: one JSON object a line, with the booking id and message id in context."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
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


def configure(service: str, level: str = "INFO", as_json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
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
