"""`make bench`: end-to-end latency, throughput, CPU and memory per booking, measured through
the gateway's public API on the whole stack as `make up` runs it, against a baseline that books
the same items by direct HTTP calls with no durability. Prints a table, writes JSON, and ends
with the invariant checker: a fast run that breaks an invariant is a failed run."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from booking_shared.devstack import checker, infra

REPO = Path(__file__).resolve().parents[2]
FINAL = {"CONFIRMED", "FAILED", "CANCELLED", "COMPENSATION_FAILED"}
STRIPE_KEY = "sk_test_localstripe"
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
OURS = ("payment", "provider-opentable", "provider-eventbrite", "booking-orchestrator", "gateway")
# The bench books as a handful of people, far faster than one person would: lift the gateway's
# per-person limits (they protect partners from one person, not the system from load).
BENCH_ENV = {
    "RATE_BOOKINGS_CAPACITY": "1000000",
    "RATE_BOOKINGS_PER_MINUTE": "1000000",
    "RATE_QUOTES_CAPACITY": "1000000",
    "RATE_QUOTES_PER_MINUTE": "1000000",
    "MAX_ACTIVE_BOOKINGS": "100000",
}


# -- the stack -------------------------------------------------------------------------------


@dataclass
class Stack:
    ports: dict[str, int]
    state_dir: Path
    proc: subprocess.Popen | None

    def url(self, part: str) -> str:
        return f"http://127.0.0.1:{self.ports[part]}"

    def stop(self, keep: bool = False) -> None:
        """Stop a stack the bench started and remove its state (database, logs) unless asked
        to keep it; a running `make up` is left alone."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        if not keep:
            shutil.rmtree(self.state_dir, ignore_errors=True)


def start_stack(extra_env: dict[str, str] | None = None, prefix: str = "bench-") -> Stack:
    """The whole system as `make up` starts it, on free ports, in a state directory of its own
    (`extra_env`: settings for every part, e.g. the chaos harness's)."""
    state = Path(tempfile.mkdtemp(prefix=prefix, dir=REPO / ".dev"))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "STRIPE_API_KEY")
    }
    ports = {name: infra.free_port() for name in PORTS.values()}
    env.update({var: str(ports[name]) for var, name in PORTS.items()})
    env.update(BENCH_ENV, DEVSTACK_DIR=str(state))
    env.update(extra_env or {})
    out = open(state / "up.out", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "booking_shared.devstack.up", "--timeout", "120"],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=infra._die_with_parent,  # a killed bench or chaos run stops its stack too
    )
    deadline = time.monotonic() + 150
    while "All services ready" not in (state / "up.out").read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            Stack(ports, state, proc).stop(keep=True)
            raise SystemExit("the stack did not start:\n" + (state / "up.out").read_text()[-3000:])
        time.sleep(0.25)
    return Stack(ports, state, proc)


def running_stack(state_dir: Path) -> Stack:
    """A stack `make up` already runs (default ports unless its environment said otherwise)."""
    env = json.loads((state_dir / "services.env.json").read_text())
    defaults = {
        "postgres": 5433,
        "kafka": 9092,
        "stripe": 8420,
        "opentable_sandbox": 8103,
        "eventbrite_sandbox": 8104,
        "payment": 8002,
        "opentable": 8003,
        "eventbrite": 8004,
        "orchestrator": 8001,
        "gateway": 8000,
        "payment_webhooks": 8012,
    }
    ports = {name: int(os.environ.get(var, defaults[name])) for var, name in PORTS.items()}
    if "STRIPE_API_BASE" in env:
        ports["stripe"] = int(env["STRIPE_API_BASE"].rsplit(":", 1)[1])
    return Stack(ports, state_dir, None)


# -- processes: CPU and memory ----------------------------------------------------------------


class Processes:
    """The stack's processes in groups: our five services, the broker, Postgres, and apart the
    Stripe emulator and the partner sandboxes. Each group counts its whole process tree."""

    def __init__(self, stack: Stack) -> None:
        pids: dict[str, int] = json.loads((stack.state_dir / "pids.json").read_text())
        self.roots: dict[str, int] = {}
        for name, pid in pids.items():
            key = (
                name if name in OURS else ("broker" if "tansu" in name or "kafka" in name else name)
            )
            self.roots[key] = pid
        pm = stack.state_dir / "pgdata" / "postmaster.pid"
        if pm.exists():
            self.roots["postgres"] = int(pm.read_text().split()[0])

    def _tree(self, pid: int) -> list[psutil.Process]:
        try:
            root = psutil.Process(pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu(self) -> dict[str, float]:
        """CPU seconds (user + system) so far, per process group."""
        out: dict[str, float] = {}
        for name, pid in self.roots.items():
            total = 0.0
            for p in self._tree(pid):
                try:
                    t = p.cpu_times()
                    total += t.user + t.system
                except psutil.NoSuchProcess:
                    pass
            out[name] = total
        return out

    def peak_rss_mb(self) -> dict[str, float]:
        """The kernel's high-water mark of resident memory (VmHWM) of the largest process of
        each tree (Postgres backends share their buffers, so a sum would count them again)."""
        out: dict[str, float] = {}
        for name, pid in self.roots.items():
            kb = 0
            for p in self._tree(pid):
                try:
                    for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            kb = max(kb, int(line.split()[1]))
                except OSError:
                    pass
            out[name] = kb / 1024
        return out


def measured(groups: dict[str, float]) -> float:
    """What the targets count: our services, the broker and Postgres (not emulator or sandboxes)."""
    return sum(v for k, v in groups.items() if k in OURS or k in ("broker", "postgres"))


def delta(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {k: b.get(k, 0.0) - a.get(k, 0.0) for k in b}


# -- people and itineraries ------------------------------------------------------------------


@dataclass
class Person:
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def sign_up(client: httpx.AsyncClient, stack: Stack, n: int) -> Person:
    r = await client.post(
        "/v1/users",
        json={
            "name": f"Bench Person{n}",
            "email": f"bench-{uuid.uuid4().hex[:10]}@example.com",
            "phone": "+351900000000",
        },
    )
    r.raise_for_status()
    person = Person(r.json()["token"])
    (await client.post("/v1/payment-methods/setup-intent", headers=person.auth)).raise_for_status()
    async with httpx.AsyncClient() as stripe:
        pm = (
            await stripe.post(
                f"{stack.url('stripe')}/v1/payment_methods",
                auth=(STRIPE_KEY, ""),
                data={
                    "type": "card",
                    "card[number]": "4242424242424242",
                    "card[exp_month]": "12",
                    "card[exp_year]": "2031",
                    "card[cvc]": "123",
                },
            )
        ).json()["id"]
    (
        await client.post(
            "/v1/payment-methods", headers=person.auth, json={"payment_method_id": pm}
        )
    ).raise_for_status()
    return person


async def catalogue(
    client: httpx.AsyncClient, stack: Stack, person: Person
) -> tuple[list[dict], list[dict]]:
    """Restaurant and event items from search over several days, with their inventory sized so
    that a run never sells out (500 tables per slot, 10^6 tickets per class)."""
    restaurants: list[dict] = []
    events: list[dict] = []
    for days in range(30, 40):
        day = (dt.date.today() + dt.timedelta(days=days)).isoformat()
        r = await client.get(
            "/v1/search",
            headers=person.auth,
            params={"date": day, "party_size": 2, "quantity": 1},
            timeout=30,
        )
        r.raise_for_status()
        for x in r.json()["results"]:
            if x["available"]:
                (restaurants if x["booking_type"] == "restaurant" else events).append(x["item"])
        if len(restaurants) >= 8 and len(events) >= 8:
            break
    if not restaurants or len(events) < 2:
        raise SystemExit(
            f"search found {len(restaurants)} restaurants and {len(events)} events: too few to bench"
        )
    async with httpx.AsyncClient() as admin:
        for venue in {i["venue_id"] for i in restaurants}:
            (
                await admin.put(
                    f"{stack.url('opentable_sandbox')}/_admin/restaurants/{venue}/tables",
                    json={"tables": {"2": 500}},
                )
            ).raise_for_status()
        for tc in {i["ticket_class_id"] for i in events}:
            (
                await admin.put(
                    f"{stack.url('eventbrite_sandbox')}/_admin/ticket_classes/{tc}",
                    json={"capacity": 1_000_000},
                )
            ).raise_for_status()
    return restaurants, events


def itinerary(
    rng: random.Random, restaurants: list[dict], events: list[dict], size: int
) -> list[dict]:
    """A restaurant and one or two events, as a schedule generator lists them."""
    items = [rng.choice(restaurants), *rng.sample(events, size - 1)]
    return [{**it, "id": f"item-{i + 1}"} for i, it in enumerate(items)]


async def set_partners(stack: Stack, latency_ms: float, reject_rate: float) -> None:
    async with httpx.AsyncClient() as admin:
        for sb in ("opentable_sandbox", "eventbrite_sandbox"):
            (
                await admin.patch(
                    f"{stack.url(sb)}/_admin/faults",
                    json={"latency_ms": latency_ms, "confirm_reject_rate": reject_rate},
                )
            ).raise_for_status()


# -- one booking through the public API ------------------------------------------------------


@dataclass
class Outcome:
    booking_id: str
    state: str
    seconds: float


async def quote(client: httpx.AsyncClient, person: Person, items: list[dict]) -> str:
    r = await client.post("/v1/quotes", headers=person.auth, json={"items": items}, timeout=60)
    if r.status_code != 201:
        raise RuntimeError(f"quote refused: {r.status_code} {r.text[:300]}")
    return r.json()["id"]


async def book(
    client: httpx.AsyncClient, person: Person, quote_id: str, timeout: float = 120
) -> Outcome:
    """POST the booking, then follow its event stream to the first final state: the time a
    person waits for the answer. The stream is the notification; nothing is polled."""
    t0 = time.perf_counter()
    r = await client.post(
        "/v1/bookings",
        headers={**person.auth, "Idempotency-Key": str(uuid.uuid4())},
        json={"quote_id": quote_id, "confirm": True},
    )
    if r.status_code != 202:
        raise RuntimeError(f"booking refused: {r.status_code} {r.text[:300]}")
    booking_id = r.json()["booking_id"]
    async with client.stream(
        "GET", f"/v1/bookings/{booking_id}/events", headers=person.auth, timeout=timeout
    ) as s:
        async for line in s.aiter_lines():
            if line.startswith("data:"):
                state = json.loads(line[5:]).get("state")
                if state in FINAL:
                    return Outcome(booking_id, state, time.perf_counter() - t0)
    raise RuntimeError(f"booking {booking_id}: the stream ended before a final state")


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ms = sorted(v * 1000 for v in values)
    q = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else [ms[0]] * 99
    return {
        "n": len(ms),
        "p50": round(q[49], 1),
        "p95": round(q[94], 1),
        "p99": round(q[98], 1),
        "max": round(ms[-1], 1),
    }


# -- phases ----------------------------------------------------------------------------------


@dataclass
class Bench:
    stack: Stack
    procs: Processes
    client: httpx.AsyncClient
    people: list[Person]
    restaurants: list[dict]
    events: list[dict]
    rng: random.Random
    reject_rate: float
    results: dict[str, Any] = field(default_factory=dict)
    booking_ids: list[str] = field(default_factory=list)

    async def sequential(self, name: str, n: int, latency_ms: float) -> None:
        await set_partners(self.stack, latency_ms, self.reject_rate)
        person = self.people[0]
        plans = [itinerary(self.rng, self.restaurants, self.events, 2 + i % 2) for i in range(n)]
        quotes = [await quote(self.client, person, p) for p in plans]  # outside the measured window
        cpu0 = self.procs.cpu()
        t0 = time.perf_counter()
        outcomes = [await book(self.client, person, q) for q in quotes]
        wall = time.perf_counter() - t0
        cpu = delta(cpu0, self.procs.cpu())
        self.booking_ids += [o.booking_id for o in outcomes]
        self.results[name] = self._summary(
            outcomes, wall, cpu, latency_ms, sizes=[len(p) for p in plans]
        )

    async def concurrent(self, name: str, clients: int, seconds: float, latency_ms: float) -> None:
        """`clients` people each quote and book, one booking after another, for `seconds`."""
        await set_partners(self.stack, latency_ms, self.reject_rate)
        outcomes: list[Outcome] = []
        errors: list[str] = []
        stop_at = time.monotonic() + seconds

        async def one_client(i: int) -> None:
            person = self.people[i % len(self.people)]
            rng = random.Random(i)
            while time.monotonic() < stop_at:
                try:
                    q = await quote(
                        self.client,
                        person,
                        itinerary(rng, self.restaurants, self.events, 2 + i % 2),
                    )
                    outcomes.append(await book(self.client, person, q))
                except Exception as exc:  # counted and reported, never hidden
                    errors.append(repr(exc)[:300])

        cpu0 = self.procs.cpu()
        t0 = time.perf_counter()
        await asyncio.gather(*(one_client(i) for i in range(clients)))
        wall = time.perf_counter() - t0
        cpu = delta(cpu0, self.procs.cpu())
        self.booking_ids += [o.booking_id for o in outcomes]
        s = self._summary(outcomes, wall, cpu, latency_ms)
        s.update(
            clients=clients,
            bookings_per_s=round(len(outcomes) / wall, 2),
            errors=len(errors),
            first_errors=errors[:3],
            cpu_note="includes each booking's quote",
        )
        self.results[name] = s

    async def idle(self, seconds: float, settle_s: float) -> None:
        """The stack at rest: measured once every service has been quiet for longer than its
        busy window (KAFKA_BUSY_WINDOW_S, 15 s), as a stack nobody uses is."""
        await asyncio.sleep(settle_s)
        cpu0 = self.procs.cpu()
        await asyncio.sleep(seconds)
        cpu = delta(cpu0, self.procs.cpu())
        self.results["idle"] = {
            "seconds": seconds,
            "after_quiet_s": settle_s,
            "cpu_share_of_a_core": round(measured(cpu) / seconds, 4),
            "by_process": {k: round(v / seconds, 4) for k, v in sorted(cpu.items())},
        }

    async def baseline(self, n: int, latency_ms: float) -> None:
        """The seed's design: the same kind of itinerary booked item after item by direct calls
        to the same sandboxes and the Stripe emulator, with no durability and no compensation."""
        await set_partners(self.stack, latency_ms, 0.0)
        ot, eb, stripe = (
            self.stack.url("opentable_sandbox"),
            self.stack.url("eventbrite_sandbox"),
            self.stack.url("stripe"),
        )
        times: list[float] = []
        async with httpx.AsyncClient(timeout=30) as c:
            pm = (
                await c.post(
                    f"{stripe}/v1/payment_methods",
                    auth=(STRIPE_KEY, ""),
                    data={
                        "type": "card",
                        "card[number]": "4242424242424242",
                        "card[exp_month]": "12",
                        "card[exp_year]": "2031",
                        "card[cvc]": "123",
                    },
                )
            ).json()["id"]
            for i in range(n):
                items = itinerary(self.rng, self.restaurants, self.events, 2 + i % 2)
                ref = f"baseline-{uuid.uuid4().hex[:12]}"  # no ':' in it: no booking of ours
                t0 = time.perf_counter()
                for j, it in enumerate(items):
                    if it.get("venue_id"):
                        lock = (
                            await c.post(
                                f"{ot}/v1/restaurants/{it['venue_id']}/slot_locks",
                                headers={"X-Request-Id": f"{ref}-{j}-l"},
                                json={
                                    "date_time": it["start_time"],
                                    "party_size": it.get("party_size") or 2,
                                },
                            )
                        ).json()
                        (
                            await c.post(
                                f"{ot}/v1/restaurants/{it['venue_id']}/reservations",
                                headers={"X-Request-Id": f"{ref}-{j}-r"},
                                json={
                                    "lock_id": lock["lock_id"],
                                    "partner_reference": f"{ref}-{j}",
                                    "guest": {
                                        "first_name": "Bench",
                                        "last_name": "Person",
                                        "email": "bench@example.com",
                                        "phone": "+351900000000",
                                    },
                                },
                            )
                        ).raise_for_status()
                    else:
                        hold = (
                            await c.post(
                                f"{eb}/partner/v1/holds",
                                headers={"X-Request-Id": f"{ref}-{j}-h"},
                                json={
                                    "event_id": it["event_id"],
                                    "ticket_class_id": it["ticket_class_id"],
                                    "quantity": it.get("quantity") or 1,
                                    "partner_reference": f"{ref}-{j}",
                                },
                            )
                        ).json()
                        (
                            await c.post(
                                f"{eb}/partner/v1/orders",
                                headers={"X-Request-Id": f"{ref}-{j}-o"},
                                json={
                                    "hold_id": hold["hold_id"],
                                    "partner_reference": f"{ref}-{j}",
                                    "attendee": {
                                        "name": "Bench Person",
                                        "email": "bench@example.com",
                                    },
                                },
                            )
                        ).raise_for_status()
                (
                    await c.post(
                        f"{stripe}/v1/payment_intents",
                        auth=(STRIPE_KEY, ""),
                        data={
                            "amount": "5000",
                            "currency": "eur",
                            "payment_method_types[]": "card",
                            "payment_method": pm,
                            "confirm": "true",
                        },
                    )
                ).raise_for_status()
                times.append(time.perf_counter() - t0)
        self.results[f"baseline_{int(latency_ms)}ms"] = {
            "latency_ms": percentiles(times),
            "partner_latency_ms": latency_ms,
            "bookings_per_s_one_client": round(n / sum(times), 1),
        }

    def _summary(
        self,
        outcomes: list[Outcome],
        wall: float,
        cpu: dict[str, float],
        latency_ms: float,
        sizes: list[int] | None = None,
    ) -> dict[str, Any]:
        n = len(outcomes)
        states: dict[str, int] = {}
        for o in outcomes:
            states[o.state] = states.get(o.state, 0) + 1
        out: dict[str, Any] = {
            "partner_latency_ms": latency_ms,
            "latency_ms": percentiles([o.seconds for o in outcomes]),
            "states": states,
            "wall_s": round(wall, 1),
            "cpu_ms_per_booking": round(measured(cpu) * 1000 / n, 1) if n else None,
            "cpu_ms_per_booking_by_process": {
                k: round(v * 1000 / n, 1) for k, v in sorted(cpu.items())
            }
            if n
            else {},
        }
        if sizes:
            out["items_per_booking"] = round(sum(sizes) / len(sizes), 2)
        if latency_ms and n:
            # The saga waits for partners twice in sequence (every hold in parallel, then every
            # confirm in parallel): what a booking costs above that is the system's own.
            out["critical_path_ms"] = 2 * latency_ms
            out["overhead_p50_ms"] = round(out["latency_ms"]["p50"] - 2 * latency_ms, 1)
        return out


async def run(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    procs = Processes(stack)
    async with httpx.AsyncClient(
        base_url=stack.url("gateway"),
        timeout=60,
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=200),
    ) as client:
        people = [await sign_up(client, stack, i) for i in range(max(1, min(args.clients, 10)))]
        restaurants, events = await catalogue(client, stack, people[0])
        b = Bench(
            stack,
            procs,
            client,
            people,
            restaurants,
            events,
            random.Random(args.seed),
            args.reject_rate,
        )
        await b.idle(args.idle_s, args.idle_settle_s)
        await b.sequential("sequential_0ms", args.sequential, 0)
        await b.baseline(args.sequential, 0)
        if args.latency_ms:
            await b.sequential(f"sequential_{args.latency_ms}ms", args.sequential, args.latency_ms)
            await b.baseline(args.sequential, args.latency_ms)
        await b.concurrent(f"concurrent_{args.clients}", args.clients, args.duration_s, 0)
        await set_partners(stack, 0, 0)
        b.results["peak_rss_mb"] = {k: round(v, 1) for k, v in sorted(procs.peak_rss_mb().items())}
        b.results["bookings"] = len(b.booking_ids)
        return b.results


def table(r: dict[str, Any]) -> str:
    lines = [
        "| phase | bookings | p50 ms | p95 ms | p99 ms | bookings/s | CPU ms/booking | final states |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, v in r.items():
        if not isinstance(v, dict) or "latency_ms" not in v:
            continue
        lat = v["latency_ms"]
        rate = v.get("bookings_per_s") or v.get("bookings_per_s_one_client") or ""
        lines.append(
            f"| {name} | {lat.get('n')} | {lat.get('p50')} | {lat.get('p95')} | {lat.get('p99')} | {rate} | "
            f"{v.get('cpu_ms_per_booking', '')} | {v.get('states', '')} |"
        )
    idle = r.get("idle", {})
    lines.append(
        f"\nIdle stack CPU (our services + broker + Postgres): {idle.get('cpu_share_of_a_core')} of a core; "
        f"by process: {idle.get('by_process')}"
    )
    lines.append(f"Peak RSS MB: {r.get('peak_rss_mb')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--sequential",
        type=int,
        default=200,
        help="bookings per sequential phase (>= 200 for the report)",
    )
    p.add_argument(
        "--latency-ms",
        type=int,
        default=50,
        help="partner latency of the second sequential phase (0: skip)",
    )
    p.add_argument(
        "--clients", type=int, default=50, help="concurrent clients in the throughput phase"
    )
    p.add_argument("--duration-s", type=float, default=30, help="length of the throughput phase")
    p.add_argument("--idle-s", type=float, default=10, help="length of the idle measurement")
    p.add_argument(
        "--idle-settle-s",
        type=float,
        default=17,
        help="quiet time before it (> KAFKA_BUSY_WINDOW_S)",
    )
    p.add_argument(
        "--reject-rate",
        type=float,
        default=0.05,
        help="share of partner confirms refused, per sandbox (about 10%% of bookings with 2-3 items)",
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--running", type=Path, help="use the stack `make up` runs from this state dir (e.g. .dev)"
    )
    p.add_argument("--out", type=Path, default=REPO / ".dev" / "bench.json")
    p.add_argument(
        "--keep", action="store_true", help="keep the started stack's state dir (logs, database)"
    )
    args = p.parse_args(argv)

    (REPO / ".dev").mkdir(exist_ok=True)
    stack = running_stack(args.running) if args.running else start_stack()
    try:
        results = asyncio.run(run(args, stack))
        results["machine"] = {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        results["command"] = "make bench " + " ".join(argv or sys.argv[1:])
        violations = check(stack)
        results["invariants"] = {"violations": violations}
    finally:
        stack.stop(keep=args.keep)
    args.out.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"\nJSON: {args.out}")
    if violations:
        print(f"\nFAILED: the invariant checker found {len(violations)} violations:")
        for v in violations[:20]:
            print(f"  - {v}")
        return 1
    print("\nInvariant checker: clean.")
    return 0


def check(stack: Stack) -> list[str]:
    """Every saga of the run reconciled with the emulator's and the sandboxes' own records
    (the baseline's partner references carry no booking id, so it is not mistaken for one)."""
    env = json.loads((stack.state_dir / "services.env.json").read_text())
    snap, violations = checker.run(checker.Stack.from_env(env))
    print(checker.report(snap, violations))
    return [str(v) for v in violations]


if __name__ == "__main__":
    raise SystemExit(main())
