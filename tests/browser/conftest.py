"""The browser journeys: the whole system as `make up` runs it (every part a real process on free
ports, started once for this package), the pages in headless Chromium from Debian's `chromium`
package, driven by Playwright (no browser download). Each test saves a screenshot of its final
page to .dev/artifacts/browser/<test>.png."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from booking_shared.devstack import infra

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".dev" / "artifacts" / "browser"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))

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


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# The e2e suite's API driver (sign up, add a card at the emulator, search, quote, book, wait).
helpers = _load("browser_e2e_helpers", ROOT / "tests" / "e2e" / "helpers.py")


@dataclass
class Stack:
    ports: dict[str, int]
    state_dir: Path

    def url(self, part: str) -> str:
        return f"http://127.0.0.1:{self.ports[part]}"

    def env(self) -> dict[str, str]:
        return json.loads((self.state_dir / "services.env.json").read_text())

    def pid(self, name: str) -> int:
        return json.loads((self.state_dir / "pids.json").read_text())[name]

    def person(self):
        return helpers.Person(self.url("gateway"), self.url("stripe"))


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory):
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs Debian's chromium package (make browser)"
        )
    state = tmp_path_factory.mktemp("browser-stack")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "STRIPE_API_KEY")
    }
    ports = {name: infra.free_port() for name in PORTS.values()}
    env.update({var: str(ports[name]) for var, name in PORTS.items()})
    env["DEVSTACK_DIR"] = str(state)
    # A silent partner's step is past its deadline after 10 s (the stuck saga of the ops journey;
    # resent at 10, 30 and 70 s, so it stays HOLDING while the operator acts), and a person has a
    # minute for 3-D Secure in the page.
    env["STEP_TIMEOUT_S"] = "10"
    env["ACTION_WINDOW_S"] = "60"
    # Searches wait longer for a provider: a busy test machine must not drop one from the results.
    env["SEARCH_TIMEOUT_S"] = "10"
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
        yield Stack(ports, state)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        out.close()


# Per module, not longer: Playwright's sync API runs an event loop in this thread while it is
# open, and the async tests and asyncio.run() of later suites refuse to start beside it.
@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def _new_page(browser, request, width: int, height: int):
    context = browser.new_context(
        viewport={"width": width, "height": height}, accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


@pytest.fixture
def page(browser, request):
    """A desktop-sized page; its final state is saved as a screenshot."""
    yield from _new_page(browser, request, 1200, 900)


@pytest.fixture
def phone(browser, request):
    """A phone-sized page (390 x 844)."""
    yield from _new_page(browser, request, 390, 844)


@dataclass
class Operator:
    email: str
    password: str
    token: str  # the operator key the CLI printed


@pytest.fixture(scope="package")
def operator(stack) -> Operator:
    """An operator account made as an operator would: `gateway-service create-ops-user`, with a
    password given on standard input."""
    # The stack has provisioned and migrated the database already.
    env = {**os.environ, **stack.env(), "DB_PROVISION": "false"}
    email, password = f"olga-{time.time_ns()}@example.com", "the night shift watches sagas"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "create-ops-user",
            "--name",
            "Olga Ops",
            "--email",
            email,
            "--password-stdin",
        ],
        env=env,
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    found = re.search(r"gw_[A-Za-z0-9_\-]+", r.stdout)
    assert found, r.stdout
    return Operator(email, password, found.group(0))


@pytest.fixture(scope="package")
def ops_token(operator: Operator) -> str:
    return operator.token
