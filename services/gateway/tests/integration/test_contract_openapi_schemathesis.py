"""CONTRACT TEST (other services stubbed, stubs.py): schemathesis with every check against the
running gateway and its own /openapi.json. Any request the document allows but the code refuses
(or the reverse), an undocumented status, header or body shape, or a 5xx fails the test."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from .conftest import bearer, sign_up

pytestmark = pytest.mark.integration

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


async def test_schemathesis_finds_no_disagreement_between_the_code_and_its_openapi_document(
    gateway, client, tmp_path
):
    token, _ = await sign_up(client)
    args = [
        str(SCHEMATHESIS),
        "--no-color",
        "run",
        f"{gateway.url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "15"),
        "--seed",
        os.environ.get("SCHEMATHESIS_SEED", "20261202"),
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--generation-database",
        "none",
        "--report",
        "ndjson",
        "--report-dir",
        str(tmp_path),
        "--header",
        "Authorization:" + bearer(token)["Authorization"],
        # The SSE stream of a booking stays open until a final state; schemathesis reads whole bodies.
        "--exclude-path-regex",
        r"/events$",
    ]
    # The run must not block this event loop: the gateway under test is served by it.
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=110)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-20000:]
