"""The whole system as `make up` runs it (every part a real process on free ports), once per
test session, for end-to-end tests through the gateway's public API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from booking_shared.devstack import infra

from .helpers import Person
from .otlp import Receiver

PORTS = {
    "POSTGRES_PORT": "postgres",
    "KAFKA_PORT": "kafka",
    "LOCALSTRIPE_PORT": "stripe",
    "OPENTABLE_SANDBOX_PORT": "opentable_sandbox",
    "EVENTBRITE_SANDBOX_PORT": "eventbrite_sandbox",
    "PAYMENT_PORT": "payment",
    "PROVIDER_OPENTABLE_PORT": "opentable",
    "PROVIDER_EVENTBRITE_PORT": "eventbrite",
    "ORCHESTRATOR_PORT": "orchestrator",
    "GATEWAY_PORT": "gateway",
    "PAYMENT_WEBHOOK_PORT": "payment_webhooks",
}


@dataclass
class System:
    ports: dict[str, int]
    state_dir: Path
    proc: subprocess.Popen
    launch_env: dict[str, str] = field(default_factory=dict)  # what `make up` was started with
    extra: list = field(default_factory=list)  # processes a test started in the stack
    planted: set = field(default_factory=set)  # bookings a test broke on purpose (checker tests)
    traces: Receiver | None = None  # every span the services export (OTLP)

    def env(self) -> dict[str, str]:
        """The whole environment `make up` gave the services (to run one of them again)."""
        import json

        return {**self.launch_env, **json.loads((self.state_dir / "services.env.json").read_text())}

    def credential(self, part: str) -> dict[str, str]:
        """The header that opens one internal service's API (the token `make up` made for it)."""
        var = {
            "payment": "PAYMENT",
            "opentable": "PROVIDER_OPENTABLE",
            "eventbrite": "PROVIDER_EVENTBRITE",
            "orchestrator": "ORCHESTRATOR",
        }[part] + "_API_TOKEN"
        return {"Authorization": f"Bearer {self.env()[var]}"}

    def pid(self, name: str) -> int:
        import json

        return json.loads((self.state_dir / "pids.json").read_text())[name]

    def url(self, part: str) -> str:
        return f"http://127.0.0.1:{self.ports[part]}"

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.ports['postgres']}/postgres"

    @property
    def kafka(self) -> str:
        return f"127.0.0.1:{self.ports['kafka']}"

    def log(self, name: str) -> str:
        p = self.state_dir / "logs" / f"{name}.log"
        return p.read_text(errors="replace") if p.exists() else ""


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("stack")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "STRIPE_API_KEY")
    }
    ports = {name: infra.free_port() for name in PORTS.values()}
    env.update({var: str(ports[name]) for var, name in PORTS.items()})
    env["DEVSTACK_DIR"] = str(state)
    # Short saga deadlines, so that a participant that never answers is resent to and then
    # compensated within seconds (production default: 10 s, doubling, 3 sends: 70 s). Four
    # sends (2 + 4 + 8 + 16 = 30 s) leave a restarted service (test_payment_outage_e2e: killed,
    # started again 5 s later, up to ~10 s to start on a busy machine) time to answer.
    env["STEP_TIMEOUT_S"] = "2"
    env["STEP_MAX_ATTEMPTS"] = "4"
    env["ACTION_WINDOW_S"] = "8"  # the time a person has for 3-D Secure
    # A booking or cancellation request unanswered for 2 s is sent again (production: 30 s).
    env["RECONCILE_AFTER_S"] = "2"
    env["RECONCILE_INTERVAL_S"] = "0.5"
    # Tracing on, as in production: every service exports its spans over OTLP/HTTP to a receiver
    # the session runs (the standard variables only; a short batch delay so tests read them soon).
    traces = Receiver().start()
    env.update(
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": traces.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "1000"}
    )
    out = open(state / "up.out", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "booking_shared.devstack.up", "--timeout", "120"],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 150
    try:
        while "All services ready" not in (state / "up.out").read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "the system did not start:\n" + (state / "up.out").read_text()[-3000:]
                )
            time.sleep(0.25)
        stack = System(ports, state, proc, launch_env=env, traces=traces)
        yield stack
        _every_invariant_holds(stack)
    finally:
        for child in locals().get("stack", System(ports, state, proc)).extra:
            child.stop()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        out.close()
        traces.stop()


def _every_invariant_holds(stack: System) -> None:
    """After the suite, the whole stack through the invariant checker (`make check`): every saga
    any test left, against Stripe's and the partners' records; planted faults aside."""
    from booking_shared.devstack import checker

    deadline = time.monotonic() + 60
    while True:  # a saga a test did not wait for may still be finishing
        snap, violations = checker.run(checker.Stack.from_env(stack.env()))
        violations = [v for v in violations if v.booking_id not in stack.planted]
        if not violations or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not violations, checker.report(snap, violations)


@pytest.fixture
def person(system: System) -> Person:
    """A new person with a saved card, on the session's stack."""
    p = Person(system.url("gateway"), system.url("stripe"))
    p.sign_up()
    p.add_card()
    return p
