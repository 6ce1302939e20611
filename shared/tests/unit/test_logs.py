"""Log lines: one JSON object each, with the ids of the message or request in hand, and no
secret or personal field whatever a caller passes."""

from __future__ import annotations

import io
import json
import logging
import sys
import warnings

import pytest

from booking_shared import logs
from booking_shared.contracts import Envelope

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def captured():
    """The process's logging as a service configures it, written to a buffer."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.configure("svc-test", "INFO", "json", repeat_window_s=30)
    buf = io.StringIO()
    root.handlers[0].setStream(buf)  # type: ignore[attr-defined]
    yield lambda: [json.loads(line) for line in buf.getvalue().splitlines()]
    root.handlers[:], _ = saved
    root.setLevel(saved[1])
    logging.captureWarnings(False)
    sys.excepthook = sys.__excepthook__
    for var in (logs.booking_id_var, logs.message_id_var, logs.trace_id_var):
        var.set(None)


def test_a_line_carries_the_ids_of_the_message_being_handled(captured) -> None:
    env = Envelope.new("ItemHeld", correlation_id="bk_1", producer="t", schema_version=1)
    logs.bind_message(env.to_headers())
    logging.getLogger("x.y").info("held %s", "item-1", extra={"attempt": 2})
    (line,) = captured()
    assert line["msg"] == "held item-1"
    assert line["level"] == "INFO" and line["service"] == "svc-test" and line["logger"] == "x.y"
    assert line["booking_id"] == "bk_1"
    assert line["message_id"] == str(env.message_id)
    assert line["trace_id"] == env.traceparent.split("-")[1]
    assert line["attempt"] == 2 and line["ts"].endswith("Z")


def test_the_next_message_replaces_the_ids_even_when_its_envelope_is_broken(captured) -> None:
    logs.bind_message(
        [("correlation_id", b"bk_1"), ("message_id", b"m-1"), ("traceparent", TRACEPARENT.encode())]
    )
    logs.bind_message([("type", b"Garbage")])
    logging.getLogger("x").warning("dead-lettered")
    (line,) = captured()
    assert line["booking_id"] is None and line["message_id"] is None and line["trace_id"] is None


def test_a_request_gets_the_callers_trace_id_or_a_new_one(captured) -> None:
    assert logs.bind_request("bk_2", TRACEPARENT) == "0af7651916cd43dd8448eb211c80319c"
    logging.getLogger("x").info("one")
    new = logs.bind_request(None, "not-a-traceparent")
    logging.getLogger("x").info("two")
    one, two = captured()
    assert one["booking_id"] == "bk_2" and one["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert two["booking_id"] is None and two["trace_id"] == new and len(new) == 32
    assert logs.current_trace_id() == new


def test_secret_and_personal_fields_are_masked(captured) -> None:
    logging.getLogger("x").info(
        "profile",
        extra={
            "email": "ada@example.com",
            "phone": "+1 555",
            "guest_name": "Ada",
            "api_key": "sk_live_x",
            "db_password": "hunter2",
            "authorization": "Bearer abc",
            "user_id": "usr_1",
        },
    )
    (line,) = captured()
    text = json.dumps(line)
    for value in ("ada@example.com", "+1 555", "Ada", "sk_live_x", "hunter2", "Bearer abc"):
        assert value not in text
    assert line["email"] == logs.MASK and line["user_id"] == "usr_1"


def test_exceptions_warnings_and_uvicorn_lines_are_json_too(captured) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("x").exception("gave up")
    logging.getLogger("uvicorn.error").warning("Invalid HTTP request received.")
    warnings.warn("old API", DeprecationWarning, stacklevel=1)
    lines = captured()
    assert "ValueError: boom" in lines[0]["exception"]
    assert lines[1]["logger"] == "uvicorn.error"
    assert lines[2]["logger"] == "py.warnings" and "old API" in lines[2]["msg"]


def test_console_format_is_readable_and_still_masks() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    record.email = "ada@example.com"
    text = logs.formatter("svc", "console").format(record)
    assert "hello" in text and "ada@example.com" not in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_a_console_traceback_shows_the_frames_but_never_their_local_variables() -> None:
    def call_partner() -> None:
        headers = {"Authorization": "Bearer sk_test_local-variable-only"}
        raise ConnectionError(f"refused ({len(headers)} headers)")

    try:
        call_partner()
    except ConnectionError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    text = logs.formatter("svc", "console").format(record)
    assert "in call_partner" in text and "ConnectionError: refused (1 headers)" in text
    assert "sk_test_local-variable-only" not in text


def test_the_trace_id_is_read_from_a_w3c_traceparent_only() -> None:
    assert logs.trace_id_of(TRACEPARENT) == "0af7651916cd43dd8448eb211c80319c"
    assert logs.trace_id_of("00-short-b7ad6b7169203331-01") is None
    assert logs.trace_id_of(None) is None


async def test_a_request_binds_the_booking_in_its_path_and_the_callers_trace(captured) -> None:
    import httpx
    from fastapi import FastAPI

    from booking_shared.service import RequestLogContext

    app = FastAPI()
    app.add_middleware(RequestLogContext)

    @app.get("/v1/bookings/{booking_id}")
    async def read(booking_id: str) -> dict:
        logging.getLogger("route").info("read")
        return {}

    @app.get("/v1/search")
    async def search() -> dict:
        logging.getLogger("route").info("searched")
        return {}

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        await client.get("/v1/bookings/bk_0193ab", headers={"traceparent": TRACEPARENT})
        await client.get("/v1/search")
    read_line, search_line = [line for line in captured() if line["logger"] == "route"]
    assert (
        read_line["booking_id"] == "bk_0193ab"
        and read_line["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    )
    assert search_line["booking_id"] is None and len(search_line["trace_id"]) == 32
    assert search_line["trace_id"] != read_line["trace_id"]


def test_log_format_is_json_unless_console_is_asked_for(monkeypatch) -> None:
    from booking_shared.config import ServiceSettings

    assert ServiceSettings().effective_log_format == "json"
    assert ServiceSettings(log_json=False).effective_log_format == "console"
    monkeypatch.setenv("LOG_FORMAT", "console")
    assert ServiceSettings().effective_log_format == "console"
    monkeypatch.setenv("LOG_FORMAT", "json")
    monkeypatch.setenv("LOG_JSON", "false")
    assert ServiceSettings().effective_log_format == "json"  # the newer setting wins
    # A service started from another's dumped settings (as tests do) keeps working.
    dumped = {
        k.upper(): str(v)
        for k, v in ServiceSettings(log_json=False).model_dump().items()
        if k.startswith("log")
    }
    assert ServiceSettings(**{k.lower(): v for k, v in dumped.items()}).effective_log_format in {
        "json",
        "console",
    }
