"""`make up`'s runner brings every part to ready, refuses a second start, names busy ports."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from booking_shared.devstack import infra

PORT_VARS = [
    "POSTGRES_PORT",
    "KAFKA_PORT",
    "LOCALSTRIPE_PORT",
    "OPENTABLE_SANDBOX_PORT",
    "EVENTBRITE_SANDBOX_PORT",
    "PAYMENT_PORT",
    "PROVIDER_OPENTABLE_PORT",
    "PROVIDER_EVENTBRITE_PORT",
    "ORCHESTRATOR_PORT",
    "GATEWAY_PORT",
    "PAYMENT_WEBHOOK_PORT",
]


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "STRIPE_API_KEY")
    }
    env.update({name: str(infra.free_port()) for name in PORT_VARS})
    env["DEVSTACK_DIR"] = str(tmp_path / "stack")
    return env


def run_up(env: dict[str, str], *args: str, timeout: float = 150) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "booking_shared.devstack.up", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_make_up_brings_all_five_services_to_ready_within_90_seconds(stack_env):
    res = run_up(stack_env, "--exit-when-ready", "--timeout", "90")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    m = re.search(r"All services ready in ([\d.]+)s", res.stdout)
    assert m and float(m.group(1)) <= 90, res.stdout
    for name in (
        "payment",
        "provider-opentable",
        "provider-eventbrite",
        "booking-orchestrator",
        "gateway",
    ):
        assert f"{name} is ready" in res.stdout
    # everything it started is stopped again
    time.sleep(0.5)
    for var in PORT_VARS:
        assert not infra.port_open(int(stack_env[var])), f"{var} still open after stop"


def test_a_busy_port_is_reported_by_name(stack_env):
    with socket.socket() as s:
        s.bind(("127.0.0.1", int(stack_env["GATEWAY_PORT"])))
        s.listen()
        res = run_up(stack_env, "--exit-when-ready", timeout=30)
    assert res.returncode == 1
    assert f"Port {stack_env['GATEWAY_PORT']} is in use, needed by the gateway" in res.stdout


def test_a_second_make_up_says_one_is_running(stack_env, tmp_path):
    state = Path(stack_env["DEVSTACK_DIR"])
    state.mkdir(parents=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (state / "up.pid").write_text(str(sleeper.pid))
        res = run_up(stack_env, timeout=30)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert res.returncode == 1
    assert "already running" in res.stdout
