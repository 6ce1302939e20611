"""`make chaos`: the whole stack as `make up` runs it (every part its own process), N bookings
driven through the gateway's public API, and one fault at a time injected while they run.
After each scenario every saga must be final within 60 s of the fault clearing, the invariant
checker (`make check`) must find nothing, and no card number may appear in any log.

    python tests/chaos/chaos.py --scenario broker-loss --bookings 1000 --concurrency 20
    python tests/chaos/chaos.py --scenario all --bookings 40 --out .dev/chaos.json

Each scenario gets a fresh stack (.dev/chaos-<scenario>-*), removed afterwards unless --keep.
Prints one table row per scenario and writes the whole result as JSON (--out)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import functools
import importlib.util
import itertools
import json
import os
import platform
import random
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

from booking_shared.contracts.envelope import Envelope
from booking_shared.contracts.topics import PAYMENT_COMMANDS, dlq, provider_commands
from booking_shared.devstack import checker, infra, up
from booking_shared.testing import card_scan

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# The bench's pieces (stack start and stop, people, catalogue, itineraries) and the e2e card scanner.
bench = _load("booking_bench", REPO / "tests" / "bench" / "bench.py")
card_numbers = _load("booking_e2e_helpers", REPO / "tests" / "e2e" / "helpers.py").card_numbers

FINAL = checker.FINAL  # CONFIRMED, FAILED, CANCELLED, PARTIALLY_CANCELLED
SETTLE_LIMIT_S = 60.0
SERVICES = {p.name: p for p in up.SERVICES}
COMMAND_TOPICS = (PAYMENT_COMMANDS, provider_commands("opentable"), provider_commands("eventbrite"))
# What every chaos stack runs with besides the bench's lifted per-person limits: a booking
# request the saga has not answered is sent again after 10 s (production: 30 s), so that one
# lost with the broker is found within the 60 s budget. Saga step deadlines keep their
# production defaults (10 s, doubling).
CHAOS_ENV = {"RECONCILE_AFTER_S": "10", "RECONCILE_INTERVAL_S": "1"}


def now() -> float:
    return time.monotonic()


async def until(condition: Callable[[], bool], interval: float = 0.2) -> None:
    while True:
        if condition():
            return
        await asyncio.sleep(interval)


# -- the run of one scenario ------------------------------------------------------------------


@dataclass
class Run:
    """One scenario on its own stack: the driver's bookings, the faults, and the processes the
    harness restarted (it stops them at the end; `make up`'s own are stopped with it)."""

    name: str
    stack: Any  # bench.Stack
    extra_env: dict[str, str]
    rng: random.Random
    n: int
    t0: float = field(default_factory=now)
    accepted: list[str] = field(default_factory=list)
    accepted_at: dict[str, dt.datetime] = field(default_factory=dict)
    cleared_at: dt.datetime | None = None  # when the fault cleared (wall clock, as Postgres's)
    load_started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    refused: list[str] = field(default_factory=list)
    retries: int = 0
    faults: list[dict[str, Any]] = field(default_factory=list)
    children: list[infra.Child] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    load_done: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.pids = json.loads((self.stack.state_dir / "pids.json").read_text())
        # `make up`'s parts read their ports from these variables (up.Part.port): a service
        # started again, and its readiness probe, use this stack's ports.
        os.environ.update({var: str(self.stack.ports[name]) for var, name in bench.PORTS.items()})

    # where things are
    @property
    def logs(self) -> Path:
        return self.stack.state_dir / "logs"

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.stack.ports['postgres']}/postgres"

    def env(self) -> dict[str, str]:
        """The environment `make up` gave the services, to start one of them again."""
        ports = {var: str(self.stack.ports[name]) for var, name in bench.PORTS.items()}
        saved = json.loads((self.stack.state_dir / "services.env.json").read_text())
        return {**ports, **bench.BENCH_ENV, **CHAOS_ENV, **self.extra_env, **saved}

    def fault(self, what: str, **detail: Any) -> None:
        self.faults.append({"t_s": round(now() - self.t0, 2), "fault": what, **detail})
        print(f"  [{now() - self.t0:7.1f}s] {what} {detail or ''}", flush=True)

    # processes
    def alive(self, name: str) -> bool:
        try:
            return psutil.Process(self.pids[name]).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def kill(self, name: str) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pids[name], signal.SIGKILL)
        self.fault("SIGKILL", service=name)

    async def restart(self, name: str, **env: str) -> None:
        """Start a service again as `make up` does, and wait until it is ready. A service whose
        kill point is armed may die at it before it answers /readyz (it consumes from the moment
        it joins its group): that is a death like any other, for the caller to count."""
        svc = SERVICES[name]
        k = sum(1 for c in self.children if c.name.startswith(name))
        merged = {**self.env(), **env}
        child = await asyncio.to_thread(
            infra.spawn,
            f"{name}-restarted-{k + 1}",
            [sys.executable, "-m", svc.module],
            svc.port,
            self.logs,
            up.service_env(merged, svc),
            90,
            False,
        )
        self.children.append(child)
        self.pids[name] = child.proc.pid
        if await self.wait_ready(svc.port, 90, child):
            self.fault("restarted", service=name)
        elif merged.get("KILL_POINT"):
            self.fault("died at its kill point while starting", service=name)
        else:
            raise RuntimeError(f"{name} died while starting again: see {child.log_path}")

    async def wait_ready(self, port: int, timeout: float, child: infra.Child | None = None) -> bool:
        """True once the service on `port` is ready; False if `child` died first."""
        deadline = now() + timeout
        while now() < deadline:
            if child is not None and child.proc.poll() is not None:
                return False
            ok, _ = await asyncio.to_thread(up.ready, port)
            if ok:
                return True
            await asyncio.sleep(0.5)
        raise RuntimeError(f"the service on {port} was not ready after {timeout:.0f}s")

    def stop_children(self) -> None:
        for child in reversed(self.children):
            with contextlib.suppress(Exception):
                child.stop()

    async def at_share_of_load(self, share: float) -> None:
        """Wait until that share of the bookings were accepted (or the load is over)."""
        await until(lambda: len(self.accepted) >= share * self.n or self.load_done.is_set())


# -- the driver: N bookings through the gateway -----------------------------------------------


async def with_retries(
    what: str,
    run: Run,
    call: Callable[[], Awaitable[httpx.Response]],
    ok: set[int],
    timeout: float = 180,
) -> httpx.Response | None:
    """Call until an answer in `ok`: connection errors, 5xx and 429 are retried (the gateway may
    be dead for a while); another 4xx is a refusal, recorded and returned as None."""
    deadline = now() + timeout
    last = ""
    while now() < deadline:
        try:
            r = await call()
        except httpx.HTTPError as exc:
            last = repr(exc)[:200]
        else:
            if r.status_code in ok or (r.status_code == 409 and "quote-already-booked" in r.text):
                if r.status_code == 409:
                    run.notes["answers_lost_then_found"] = (
                        run.notes.get("answers_lost_then_found", 0) + 1
                    )
                return r
            # 429, and 409 for a key whose earlier request is still in flight (or died with the
            # database: the gateway takes it over once its lock lapses), both say "retry".
            in_flight = r.status_code == 409 and "idempotency-key-in-flight" in r.text
            if r.status_code < 500 and r.status_code != 429 and not in_flight:
                run.refused.append(f"{what}: {r.status_code} {r.text[:300]}")
                return None
            last = f"{r.status_code} {r.text[:200]}"
        run.retries += 1
        await asyncio.sleep(1.0)
    run.refused.append(f"{what}: no answer in {timeout:.0f}s ({last})")
    return None


async def wait_final(
    client: httpx.AsyncClient, person: Any, booking_id: str, timeout: float = 120
) -> None:
    """Follow the booking's event stream to a final state, reconnecting when it breaks, for at
    most `timeout` s (a stream kept open by its pings would otherwise wait for ever)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await _follow(client, person, booking_id)


async def _follow(client: httpx.AsyncClient, person: Any, booking_id: str) -> None:
    while True:
        try:
            async with client.stream(
                "GET",
                f"/v1/bookings/{booking_id}/events",
                headers=person.auth,
                timeout=httpx.Timeout(10, read=30),
            ) as s:
                async for line in s.aiter_lines():
                    if line.startswith("data:") and json.loads(line[5:]).get("state") in FINAL:
                        return
        except (httpx.HTTPError, json.JSONDecodeError):
            pass
        await asyncio.sleep(1.0)


async def sign_up(client: httpx.AsyncClient, run: Run, i: int) -> Any:
    """The bench's sign-up (a person with a saved card), tried again while a service that was
    just (re)started finds its feet."""
    for attempt in range(30):
        try:
            return await bench.sign_up(client, run.stack, i)
        except httpx.HTTPError as exc:
            if attempt == 29:
                raise
            print(f"  sign-up {i}: {exc!r:.200}; again in 2 s", flush=True)
            await asyncio.sleep(2)
    raise AssertionError("unreachable")


async def drive(run: Run, client: httpx.AsyncClient, concurrency: int, seed: int) -> None:
    people = [await sign_up(client, run, i) for i in range(max(1, min(concurrency, 10)))]
    restaurants, events = await bench.catalogue(client, run.stack, people[0])
    run.notes["prepared_s"] = round(now() - run.t0, 1)
    run.t0 = now()  # the load (and the fault timeline) starts here
    run.load_started_at = dt.datetime.now(dt.UTC)
    tickets = itertools.count()

    async def one_client(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        person = people[i % len(people)]
        while next(tickets) < run.n:
            items = bench.itinerary(rng, restaurants, events, 2 + rng.randrange(2))
            q = await with_retries(
                "quote",
                run,
                functools.partial(
                    client.post,
                    "/v1/quotes",
                    headers=person.auth,
                    json={"items": items},
                    timeout=60,
                ),
                {201},
            )
            if q is None:
                continue
            key = str(uuid.uuid4())  # the same key on every retry: one booking, however often sent
            b = await with_retries(
                "booking",
                run,
                functools.partial(
                    client.post,
                    "/v1/bookings",
                    headers={**person.auth, "Idempotency-Key": key},
                    json={"quote_id": q.json()["id"], "confirm": True},
                    timeout=30,
                ),
                {200, 201, 202},
            )
            if b is None:
                continue
            # A 409 quote-already-booked names the booking: an earlier try of this same request
            # was booked, and its answer lost (the gateway or its database died meanwhile).
            booking_id = b.json()["booking_id"]
            run.accepted.append(booking_id)
            run.accepted_at[booking_id] = dt.datetime.now(dt.UTC)
            await wait_final(client, person, booking_id)

    await asyncio.gather(*(one_client(i) for i in range(concurrency)))


# -- after the fault: settle, check, scan -----------------------------------------------------


async def unsettled(run: Run) -> dict[str, str]:
    """Bookings whose saga is not final, or whose gateway view does not show that final state."""
    conn = await asyncpg.connect(run.database_url, timeout=10)
    try:
        sagas = dict(
            await conn.fetch(
                "SELECT booking_id, state FROM orchestrator.sagas WHERE booking_id = ANY($1::text[])",
                run.accepted,
            )
        )
        shown = dict(
            await conn.fetch(
                "SELECT id, state FROM gateway.bookings WHERE id = ANY($1::text[])", run.accepted
            )
        )
    finally:
        await conn.close()
    out = {}
    for bid in run.accepted:
        s = sagas.get(bid)
        if s not in FINAL or shown.get(bid) != s:
            out[bid] = f"saga {s}, gateway {shown.get(bid)}"
    return out


async def wait_all_final(run: Run, limit: float) -> tuple[bool, dict[str, str]]:
    """Wait (at most `limit` s) until every booking's saga is final and the gateway shows it."""
    left: dict[str, str] = {}
    deadline = now() + limit
    while now() < deadline:
        try:
            left = await unsettled(run)
        except (OSError, asyncpg.PostgresError) as exc:
            left = {"?": f"database unreadable: {exc!r}"}
        if not left:
            return True, {}
        await asyncio.sleep(0.5)
    return False, left


async def time_to_settle(run: Run) -> tuple[float, int]:
    """Seconds from the fault clearing until the last saga that was in flight then (accepted
    before it) became final, from the sagas' own state_changed_at; and how many those were."""
    assert run.cleared_at is not None
    affected = [bid for bid, at in run.accepted_at.items() if at <= run.cleared_at]
    if not affected:
        return 0.0, 0
    conn = await asyncpg.connect(run.database_url, timeout=10)
    try:
        last = await conn.fetchval(
            "SELECT max(state_changed_at) FROM orchestrator.sagas WHERE booking_id = ANY($1::text[])",
            affected,
        )
    finally:
        await conn.close()
    return max(0.0, (last - run.cleared_at).total_seconds()) if last else 0.0, len(affected)


def scan_logs(run: Run) -> dict[str, int]:
    """Card numbers in any log of the stack (the Stripe emulator's own log aside: it is Stripe)."""
    found = {}
    for path in run.logs.rglob("*.log"):
        if path.name.startswith("localstripe"):
            continue
        hits = card_numbers(path.read_bytes())
        if hits:
            found[str(path.relative_to(run.logs))] = len(hits)
    return found


def log_lines(run: Run, service: str, text: str) -> int:
    return sum(p.read_text(errors="replace").count(text) for p in run.logs.rglob(f"{service}*.log"))


# -- the scenarios ----------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    faults: str  # for the table
    inject: Callable[[Run], Awaitable[None]]  # returns once the fault has cleared
    env: dict[str, str] = field(default_factory=dict)
    prepare: Callable[[Run], Awaitable[None]] | None = None
    verify: Callable[[Run], Awaitable[list[str]]] | None = (
        None  # what shows the fault really happened
    )


async def kill_services(run: Run) -> None:
    """Each of the five services SIGKILLed at a random moment (3-15 s after the previous one is
    back), restarted after 1-4 s; rounds go on (each in a new random order) while bookings are
    still being made, and at least one whole round is done."""
    order: list[str] = []
    killed = 0
    while not (run.load_done.is_set() and killed >= len(SERVICES)):
        if not order:
            order = run.rng.sample(list(SERVICES), len(SERVICES))
        await asyncio.sleep(run.rng.uniform(3, 15))
        name = order.pop()
        run.kill(name)
        killed += 1
        await asyncio.sleep(run.rng.uniform(1, 4))
        await run.restart(name)
    run.notes["kills"] = killed


async def verify_kills(run: Run) -> list[str]:
    hit = {f["service"] for f in run.faults if f["fault"] == "SIGKILL"}
    return [f"{s} was never killed" for s in SERVICES if s not in hit]


KILL_POINT = "payment.after_stripe_call"


def max_deaths(n: int) -> int:
    """Deaths at the kill point in one run: 2 for a short run, 6 from 60 bookings on."""
    return min(6, max(2, n // 10))


def kill_point_env(n: int) -> dict[str, str]:
    # Each Stripe call dies with this chance: the deaths spread over the run, whatever N.
    return {
        "KILL_POINT": KILL_POINT,
        "KILL_POINT_RATE": f"{min(0.3, max_deaths(n) / max(n, 1)):.4f}",
    }


async def kill_in_stripe_window(run: Run) -> None:
    """The payment service dies (its own kill point: SIGKILL) right after a Stripe call returned
    and before the transaction recording it commits; restarted after 1-3 s with the point still
    armed, up to `max_kills` deaths, then disarmed. A restart after the load is disarmed too."""
    max_kills = max_deaths(run.n)
    deaths = 0
    armed = True
    while True:
        if not run.alive("payment"):
            deaths += 1
            run.fault("payment died at its kill point", death=deaths)
            await asyncio.sleep(run.rng.uniform(1, 3))
            armed = deaths < max_kills and not run.load_done.is_set()
            await run.restart("payment", **({} if armed else {"KILL_POINT": ""}))
        elif run.load_done.is_set():
            if armed:  # the load is over: end the fault with a disarmed payment service
                run.kill("payment")
                await asyncio.sleep(1)
                await run.restart("payment", KILL_POINT="")
            break
        await asyncio.sleep(0.2)
    run.notes["deaths_at_kill_point"] = deaths


async def verify_kill_point(run: Run) -> list[str]:
    reached = log_lines(run, "payment", "kill point reached")
    reconciled = log_lines(run, "payment", "never finished; reconciling with Stripe")
    run.notes.update(kill_point_log_lines=reached, commands_reconciled_after_restart=reconciled)
    return [] if reached >= 1 else ["the payment service never reached its kill point"]


async def whole_load(run: Run) -> None:
    """The fault lasts as long as the load (set up by the stack's environment)."""
    run.fault("on for the whole load")
    await run.load_done.wait()
    run.fault("cleared (the load is over)")


async def verify_duplicates(run: Run) -> list[str]:
    handled = duplicates = 0.0
    async with httpx.AsyncClient(timeout=10) as http:
        for svc in SERVICES.values():
            text = (await http.get(f"http://127.0.0.1:{svc.port}/metrics")).text
            for line in text.splitlines():
                if line.startswith("booking_messages_handled_total{"):
                    value = float(line.rsplit(" ", 1)[1])
                    if 'outcome="duplicate"' in line:
                        duplicates += value
                    elif 'outcome="handled"' in line:
                        handled += value
    run.notes.update(messages_handled=int(handled), duplicates_dropped=int(duplicates))
    return (
        []
        if duplicates >= 1.5 * handled > 0
        else [f"{duplicates:.0f} duplicates for {handled:.0f} messages handled"]
    )


async def broker_loss(run: Run) -> None:
    await run.at_share_of_load(run.rng.uniform(0.3, 0.6))
    run.kill("kafka-broker")
    await asyncio.sleep(3)
    port = run.stack.ports["kafka"]
    broker = await asyncio.to_thread(infra.start_tansu, port, run.logs / "broker-restarted")
    run.children.append(broker)
    run.pids["kafka-broker"] = broker.proc.pid
    run.fault("broker restarted empty (no topics, groups or offsets)")


async def postgres_restart(run: Run) -> None:
    await run.at_share_of_load(run.rng.uniform(0.3, 0.6))
    pg = infra.EmbeddedPostgres(
        run.stack.state_dir / "pgdata", run.stack.ports["postgres"], run.logs / "postgres.log"
    )
    pg.run_as = "embedded_postgres" if os.geteuid() == 0 else None
    res = await asyncio.to_thread(pg._pg_ctl, "-m", "immediate", "-w", "stop")
    run.fault("postgres stopped (immediate: no checkpoint, as a crash)", rc=res.returncode)
    await asyncio.sleep(3)
    await asyncio.to_thread(pg.start)
    run.fault("postgres started")


PARTNER_FAULTS = {
    # uniform 0-5050 ms: p99 5 s; 5% of requests 503 with no effect; 2% of writes commit and
    # answer 503 (a ghost booking: the partner did it, we were told it failed).
    "latency": {"dist": "uniform", "min_ms": 0, "max_ms": 5050},
    "error_rate": 0.05,
    "ghost_rate": 0.02,
    "ghost_mode": "5xx",
}


async def partners_degraded(run: Run) -> None:
    async with httpx.AsyncClient(timeout=10) as admin:
        for sb in ("opentable_sandbox", "eventbrite_sandbox"):
            (
                await admin.patch(f"{run.stack.url(sb)}/_admin/faults", json=PARTNER_FAULTS)
            ).raise_for_status()
        run.fault("partners slow (uniform 0-5.05 s, p99 5 s), 5% 5xx, 2% ghost writes")
        await run.load_done.wait()
        for sb in ("opentable_sandbox", "eventbrite_sandbox"):
            (await admin.put(f"{run.stack.url(sb)}/_admin/faults", json={})).raise_for_status()
        run.fault("partners healthy again")


async def stripe_proxy(run: Run) -> None:
    """Put the fault proxy between the payment service and the Stripe emulator (a restart)."""
    port = infra.free_port()
    proxy = await asyncio.to_thread(
        infra.spawn,
        "stripe-proxy",
        [
            sys.executable,
            str(HERE / "stripe_proxy.py"),
            "--port",
            str(port),
            "--upstream",
            run.stack.url("stripe"),
        ],
        port,
        run.logs,
    )
    run.children.append(proxy)
    run.notes["proxy_port"] = port
    pid = run.pids["payment"]
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    await until(lambda: not run.alive("payment"))
    await run.restart("payment", STRIPE_API_BASE=f"http://127.0.0.1:{port}")
    run.faults.clear()  # set-up, not a fault


async def payment_degraded(run: Run) -> None:
    url = f"http://127.0.0.1:{run.notes['proxy_port']}/_proxy/faults"
    slow = {
        "latency_min_ms": 0,
        "latency_max_ms": 3000,
        "error_rate": 0.05,
        "lost_answer_rate": 0.02,
    }
    async with httpx.AsyncClient(timeout=10) as admin:
        (await admin.put(url, json=slow)).raise_for_status()
        run.fault("Stripe slow (0-3 s), 5% 500s, 2% answers lost after Stripe acted")
        await run.at_share_of_load(run.rng.uniform(0.3, 0.6))
        (await admin.put(url, json={"error_rate": 1.0})).raise_for_status()
        run.fault("Stripe down (every request 500)")
        await asyncio.sleep(10)
        (await admin.put(url, json=slow)).raise_for_status()
        run.fault("Stripe slow and failing again")
        await run.load_done.wait()
        run.notes["proxy"] = (await admin.put(url, json={})).json()["counts"]
        run.fault("Stripe healthy again")


async def poison(run: Run) -> None:
    """Every 2-4 s while the load runs, on each command topic: a record with no envelope, and
    a record with a valid envelope whose body is not its type, each keyed by a booking in flight
    (so it sits on that booking's partition, in front of its next command)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{run.stack.ports['kafka']}")
    await producer.start()
    sent = dict.fromkeys(COMMAND_TOPICS, 0)
    types = {PAYMENT_COMMANDS: "AuthorizePayment"}
    try:
        while not run.load_done.is_set():
            await asyncio.sleep(run.rng.uniform(2, 4))
            key = (run.rng.choice(run.accepted) if run.accepted else "bk_poison").encode()
            for topic in COMMAND_TOPICS:
                await producer.send_and_wait(topic, b"\x00\xffnot json{", key=key)
                env = Envelope.new(
                    types.get(topic, "HoldItem"), correlation_id=key.decode(), producer="chaos"
                )
                await producer.send_and_wait(
                    topic,
                    b'{"booking_id": 42, "unexpected": [',
                    key=key,
                    headers=list(env.to_headers()),
                )
                sent[topic] += 2
            run.fault("poison on each command topic", per_topic=2)
    finally:
        await producer.stop()
    run.notes["poison_sent"] = sent


async def verify_poison(run: Run) -> list[str]:
    conn = await asyncpg.connect(run.database_url)
    try:
        parked: dict[str, int] = {}
        for schema in ("payment", "opentable", "eventbrite"):
            for r in await conn.fetch(
                f'SELECT topic, count(*) AS n FROM "{schema}".dead_letters GROUP BY topic'
            ):
                parked[r["topic"]] = parked.get(r["topic"], 0) + r["n"]
    finally:
        await conn.close()
    run.notes["dead_lettered"] = parked
    sent = run.notes.get("poison_sent", {})
    problems = [
        f"{t}: {sent.get(t, 0)} poison records sent, {parked.get(t, 0)} dead-lettered"
        for t in COMMAND_TOPICS
        if parked.get(t, 0) < sent.get(t, 0) or not sent.get(t)
    ]
    run.notes["dlq_topics"] = [dlq(t) for t in COMMAND_TOPICS]
    return problems


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario(
            "kill-services",
            "SIGKILL of each of the 5 services at random moments, restart after 1-4 s",
            kill_services,
            verify=verify_kills,
        ),
        Scenario(
            "kill-payment-stripe",
            "payment SIGKILLed between a Stripe call and its commit (kill point), restart after 1-3 s",
            kill_in_stripe_window,
            verify=verify_kill_point,
        ),
        Scenario(
            "triple-delivery",
            "every message published 3 times (OUTBOX_PUBLISH_COPIES=3)",
            whole_load,
            env={"OUTBOX_PUBLISH_COPIES": "3"},
            verify=verify_duplicates,
        ),
        Scenario(
            "broker-loss",
            "broker SIGKILLed and restarted empty after 3 s (total data loss)",
            broker_loss,
        ),
        Scenario(
            "postgres-restart",
            "Postgres stopped (immediate) and started after 3 s",
            postgres_restart,
        ),
        Scenario(
            "partners-degraded",
            "partners: latency p99 5 s, 5% 5xx, 2% ghost bookings",
            partners_degraded,
        ),
        Scenario(
            "payment-degraded",
            "Stripe: 0-3 s latency, 5% 500s, 2% lost answers, 10 s fully down",
            payment_degraded,
            prepare=stripe_proxy,
        ),
        Scenario(
            "poison",
            "2 poison records on each command topic every 2-4 s",
            poison,
            verify=verify_poison,
        ),
    ]
}


async def run_scenario(
    sc: Scenario, n: int, concurrency: int, seed: int, keep: bool
) -> dict[str, Any]:
    env = dict(sc.env)
    if sc.name == "kill-payment-stripe":
        env.update(kill_point_env(n))
    print(f"\n== {sc.name}: {n} bookings, {concurrency} at a time; {sc.faults}", flush=True)
    started = now()
    # In this (the main) thread: the stack is told to stop when the thread that started it ends.
    stack = bench.start_stack({**CHAOS_ENV, **env}, f"chaos-{sc.name}-")
    run = Run(sc.name, stack, env, random.Random(seed), n)
    result: dict[str, Any] = {
        "scenario": sc.name,
        "faults": sc.faults,
        "bookings_requested": n,
        "concurrency": concurrency,
    }
    try:
        if sc.prepare:
            await sc.prepare(run)
        async with httpx.AsyncClient(
            base_url=stack.url("gateway"),
            timeout=60,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=200),
        ) as client:
            injector = asyncio.create_task(_inject_after_start(sc, run))
            try:
                await drive(run, client, concurrency, seed)
            finally:
                run.load_done.set()
            load_s = now() - run.t0
            await asyncio.wait_for(injector, 300)
        # Every saga final within 60 s of the fault clearing (the load is over by now; what the
        # clients gave up waiting for is still counted), then the time the in-flight ones took.
        budget = SETTLE_LIMIT_S - (dt.datetime.now(dt.UTC) - run.cleared_at).total_seconds()
        all_final, left = await wait_all_final(run, max(budget, 5.0))
        if not all_final:  # not within the budget: wait longer, to report how long it does take
            all_final, left = await wait_all_final(run, 120)
        settle_s, in_flight = await time_to_settle(run)
        snap, violations = await asyncio.to_thread(checker.run, checker.Stack.from_env(run.env()))
        mine = {bid: snap.sagas[bid].state for bid in run.accepted if bid in snap.sagas}
        states: dict[str, int] = {}
        for s in mine.values():
            states[s] = states.get(s, 0) + 1
        final = sum(1 for s in mine.values() if s in FINAL)
        problems = await sc.verify(run) if sc.verify else []
        # No card number anywhere the stack keeps data: every log, table and topic message.
        cards = scan_logs(run)
        found = await card_scan.scan(
            card_numbers,
            database_url=run.database_url,
            kafka=f"127.0.0.1:{run.stack.ports['kafka']}",
        )
        cards.update({source: len(hits) for source, hits in found.items()})
        result.update(
            bookings_accepted=len(run.accepted),
            refused=run.refused[:20],
            refused_count=len(run.refused),
            retries=run.retries,
            sagas=len(mine),
            final=final,
            final_rate=round(final / len(run.accepted), 4) if run.accepted else 0.0,
            states=states,
            # in_flight_at_clearing: the bookings accepted before the fault cleared, whose last
            # state change settle_s is measured to (0 when all were final by then).
            load_s=round(load_s, 1),
            settle_s=round(settle_s, 1),
            in_flight_at_clearing=in_flight,
            fault_cleared_s=round((run.cleared_at - run.load_started_at).total_seconds(), 1),
            unsettled=dict(list(left.items())[:20]),
            unsettled_count=len(left),
            checker={"sagas": len(snap.sagas), "violations": [str(v) for v in violations]},
            card_numbers_found=cards,
            fault_timeline=run.faults,
            evidence=problems,
            notes=run.notes,
            seconds=round(now() - started, 1),
        )
        result["passed"] = bool(
            len(run.accepted) == n
            and final == len(run.accepted)
            and all_final
            and settle_s <= SETTLE_LIMIT_S
            and not violations
            and not cards
            and not problems
        )
    except Exception as exc:  # reported as a failed scenario, with what was known
        result.update(
            passed=False,
            error=repr(exc)[:2000],
            fault_timeline=run.faults,
            bookings_accepted=len(run.accepted),
        )
    finally:
        run.stop_children()
        await asyncio.to_thread(stack.stop, keep)
        if keep:
            result["state_dir"] = str(stack.state_dir)
    return result


async def _inject_after_start(sc: Scenario, run: Run) -> None:
    # The fault starts once the load does (people and the catalogue are ready).
    await until(lambda: "prepared_s" in run.notes or run.load_done.is_set(), 0.1)
    await sc.inject(run)
    run.cleared_at = dt.datetime.now(dt.UTC)


def row(r: dict[str, Any], command: str) -> str:
    checker_result = (
        "clean"
        if r.get("checker", {}).get("violations") == []
        else f"{len(r.get('checker', {}).get('violations', []))} violations"
        if "checker" in r
        else "not run"
    )
    settle_text = (
        f"{r.get('settle_s')} s (of {r.get('in_flight_at_clearing', 0)} accepted before it cleared)"
    )
    return (
        f"| {r['scenario']} | {r.get('sagas', 0)} | {r['faults']} | "
        f"{r.get('final_rate', 0) * 100:.1f}% ({r.get('final', 0)}/{r.get('bookings_accepted', 0)}) | "
        f"{settle_text} | {checker_result} | {'yes' if r.get('passed') else 'NO'} | `{command}` |"
    )


def _interrupted(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--scenario", action="append", choices=[*SCENARIOS, "all"], help="repeatable; default: all"
    )
    p.add_argument("--bookings", type=int, default=1000, help="bookings per scenario (N)")
    p.add_argument(
        "--concurrency",
        type=int,
        default=20,
        help="bookings in flight at once (each client waits for its final state)",
    )
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--out", type=Path, default=REPO / ".dev" / "chaos.json")
    p.add_argument(
        "--keep", action="store_true", help="keep each stack's state dir (logs, database)"
    )
    args = p.parse_args(argv)
    signal.signal(
        signal.SIGTERM, _interrupted
    )  # stopped from outside: each stack still stops and is removed
    names = list(SCENARIOS) if not args.scenario or "all" in args.scenario else args.scenario
    (REPO / ".dev").mkdir(exist_ok=True)
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
        "settings": {**CHAOS_ENV, "settle_limit_s": SETTLE_LIMIT_S},
        "scenarios": [],
    }
    for name in names:
        r = asyncio.run(
            run_scenario(SCENARIOS[name], args.bookings, args.concurrency, args.seed, args.keep)
        )
        r["command"] = (
            f"python tests/chaos/chaos.py --scenario {name} --bookings {args.bookings} --concurrency {args.concurrency}"
        )
        results["scenarios"].append(r)
        args.out.write_text(
            json.dumps(results, indent=2, default=str)
        )  # after each: a long run keeps what it did
        print(
            json.dumps(
                {
                    k: r.get(k)
                    for k in (
                        "scenario",
                        "passed",
                        "bookings_accepted",
                        "final_rate",
                        "settle_s",
                        "checker",
                        "card_numbers_found",
                        "evidence",
                        "error",
                        "unsettled_count",
                    )
                },
                default=str,
            ),
            flush=True,
        )
    print(
        "\n| scenario | sagas | faults injected | final state | time to settle | checker | passed | reproduce |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results["scenarios"]:
        print(row(r, r["command"]))
    print(f"\nJSON: {args.out}")
    return 0 if all(r.get("passed") for r in results["scenarios"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
