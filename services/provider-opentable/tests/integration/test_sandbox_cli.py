"""`python -m provider_opentable.sandbox` starts a real server with faults from flags or env."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx

from provider_opentable.sandbox.__main__ import parse_args


def test_fault_flags_override_the_environment(monkeypatch):
    monkeypatch.setenv("OPENTABLE_SANDBOX_FAULTS", json.dumps({"error_rate": 0.5, "latency_ms": 5}))
    monkeypatch.setenv("OPENTABLE_SANDBOX_SEED", "7")
    settings, faults = parse_args(
        ["--error-rate", "0.1", "--ghost-mode", "timeout", "--port", "9999"]
    )
    assert (settings.seed, settings.port, settings.host) == (7, 9999, "127.0.0.1")
    assert (faults.error_rate, faults.latency_ms, faults.ghost_mode) == (0.1, 5, "timeout")


def test_the_module_serves_the_sandbox_until_stopped():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OPENTABLE_SANDBOX_FAULTS": json.dumps({"lock_ttl_seconds": 30})}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "provider_opentable.sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--latency-ms",
            "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                faults = httpx.get(f"http://127.0.0.1:{port}/_admin/faults", timeout=1).json()
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "sandbox did not start"
                time.sleep(0.05)
        assert (faults["lock_ttl_seconds"], faults["latency_ms"]) == (30, 1)
        assert (
            httpx.get(f"http://127.0.0.1:{port}/v1/restaurants/rest_001").json()["id"] == "rest_001"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
