"""CONTRACT TEST (other services stubbed, stubs.py): schemathesis with every check against the
running gateway and its own /openapi.json. Any request the document allows but the code refuses
(or the reverse), an undocumented status, header or body shape, or a 5xx fails the test."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from gateway.entrypoints.cli import _create_ops_user

from .conftest import bearer, sign_up

pytestmark = pytest.mark.integration

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
HERE = Path(__file__).resolve().parent


async def test_schemathesis_finds_no_disagreement_between_the_code_and_its_openapi_document(
    gateway, client, tmp_path
):
    # A real user with the ops role (the CLI's work), so that /v1/ops/* is exercised as well.
    _, user = await sign_up(client)
    printed = await _create_ops_user(gateway.settings, user_id=user["id"])
    token = printed.split("token (shown once): ")[1].strip()
    args = [
        str(SCHEMATHESIS),
        "--no-color",
        "run",
        f"{gateway.url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10"),
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
        # A NUL is refused in every string (422, see problems.find_unstorable), which JSON Schema
        # cannot say of each string property; so it is not generated as valid input.
        "--generation-allow-x00",
        "false",
        "--report",
        "ndjson",
        "--report-dir",
        str(tmp_path),
        "--header",
        "Authorization:" + bearer(token)["Authorization"],
        # The SSE stream of a booking stays open until a final state; schemathesis reads whole
        # bodies. Revoking would sign this run out: test_contract_tokens_and_ops_role covers it.
        "--exclude-path-regex",
        r"(/events|/tokens/revoke(-all)?)$",
        # e.g. "--include-path /v1/quotes --output-sanitize false" to look at one operation
        *os.environ.get("SCHEMATHESIS_EXTRA_ARGS", "").split(),
    ]
    # The run must not block this event loop: the gateway under test is served by it.
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,  # schemathesis keeps a .schemathesis/ cache in its working directory
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": "gateway_schemathesis_hooks",
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        },
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=110)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    # Long generated bodies would bury the verdicts: cut each line of the report.
    report = "\n".join(line[:400] for line in out.decode(errors="replace").splitlines())
    assert proc.returncode == 0, report[-30000:]
