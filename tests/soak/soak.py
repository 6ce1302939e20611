"""Soak: book through the public API for a bounded time on the whole stack with very short
retention settings, and print the row count of every swept table over time, to show that they
level off instead of growing with the number of bookings (docs/RETENTION.md).

    .venv/bin/python tests/soak/soak.py --duration-s 300 --clients 4

The stack is started as `make bench` starts it (free ports, its own state directory, removed at
the end unless --keep). Bookings, sagas, payments and partner items are the business record and
grow with the bookings; the tables printed are the ones retention bounds."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from pathlib import Path

import asyncpg
import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "bench"))
import bench  # noqa: E402  (the bench's stack and booking helpers)

# Retention in seconds instead of days, and a sweep every 5 s.
SOAK_ENV = {
    "RETENTION_SWEEP_INTERVAL_S": "5",
    "RETENTION_OUTBOX_SENT_S": "20",
    "RETENTION_INBOX_S": "20",
    "RETENTION_DEAD_LETTERS_S": "20",
    "IDEMPOTENCY_TTL_H": "0.01",  # 36 s
    "QUOTE_TTL_S": "30",
    "RETENTION_QUOTE_AFTER_EXPIRY_S": "5",
    "RETENTION_GUEST_S": "20",
    "RETENTION_HISTORY_S": "30",
    "RETENTION_HISTORY_CONFIRMED_S": "30",
    "RETENTION_WEBHOOK_EVENTS_S": "30",
}
# schema.table, as the sampler prints them (the swept ones first, then two business tables).
SWEPT = [
    "gateway.idempotency_keys",
    "gateway.quotes_unbooked",
    "gateway.rate_buckets",
    "gateway.sent_requests",
    "gateway.inbox",
    "gateway.outbox",
    "orchestrator.saga_history",
    "orchestrator.inbox",
    "orchestrator.outbox",
    "payment.webhook_events",
    "payment.inbox",
    "payment.outbox",
    "opentable.inbox",
    "opentable.outbox",
    "eventbrite.inbox",
    "eventbrite.outbox",
]
GROWING = ["gateway.bookings", "orchestrator.sagas"]
# Counts that are not a whole table: a booked quote is the booking's record and stays.
QUERIES = {
    "gateway.quotes_unbooked": "SELECT count(*) FROM gateway.quotes q"
    " WHERE NOT EXISTS (SELECT 1 FROM gateway.bookings b WHERE b.quote_id = q.id)",
    "orchestrator.sagas_with_guest": "SELECT count(*) FROM orchestrator.sagas WHERE guest <> ''",
}


async def counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        out = {}
        for name in SWEPT + ["orchestrator.sagas_with_guest"] + GROWING:
            if name in QUERIES:
                out[name] = await conn.fetchval(QUERIES[name])
                continue
            schema, table = name.split(".")
            exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name)
            out[name] = (
                await conn.fetchval(f'SELECT count(*) FROM "{schema}"."{table}"') if exists else -1
            )
        return out
    finally:
        await conn.close()


async def load(
    stack: bench.Stack, clients: int, until: float, seed: int, tally: dict[str, int]
) -> None:
    async with httpx.AsyncClient(base_url=stack.url("gateway"), timeout=60) as client:
        people = [await bench.sign_up(client, stack, i) for i in range(clients)]
        restaurants, events = await bench.catalogue(client, stack, people[0])
        await bench.set_partners(stack, 0, 0.05)
        rng = random.Random(seed)

        async def one(person: bench.Person) -> None:
            while time.monotonic() < until:
                items = bench.itinerary(rng, restaurants, events, rng.choice((2, 3)))
                try:
                    await bench.quote(
                        client, person, items
                    )  # a quote never booked: expires, then goes
                    outcome = await bench.book(
                        client, person, await bench.quote(client, person, items)
                    )
                except (RuntimeError, httpx.HTTPError) as exc:
                    # A partner slow to answer on a busy machine (503): counted, and the soak goes on.
                    tally["refused"] = tally.get("refused", 0) + 1
                    print("refused:", str(exc)[:200], flush=True)
                    await asyncio.sleep(1)
                    continue
                tally[outcome.state] = tally.get(outcome.state, 0) + 1

        await asyncio.gather(*(one(p) for p in people))


async def run(args: argparse.Namespace, stack: bench.Stack) -> list[dict]:
    url = f"postgresql://postgres@127.0.0.1:{stack.ports['postgres']}/postgres"
    t0 = time.monotonic()
    until = t0 + args.duration_s
    tally: dict[str, int] = {}
    samples: list[dict] = []
    loader = asyncio.create_task(load(stack, args.clients, until, args.seed, tally))
    end = until + args.tail_s
    while time.monotonic() < end:
        await asyncio.sleep(args.every_s)
        if loader.done() and loader.exception():
            raise loader.exception()  # type: ignore[misc]
        sample = {
            "t": round(time.monotonic() - t0),
            "bookings_done": sum(n for k, n in tally.items() if k != "refused"),
            **await counts(url),
        }
        samples.append(sample)
        print(json.dumps(sample), flush=True)
    await loader
    print("final states:", tally, flush=True)
    return samples


def table(samples: list[dict]) -> str:
    cols = ["t", "bookings_done", *SWEPT, "orchestrator.sagas_with_guest", *GROWING]
    short = {c: c.split(".")[-1] if c.count(".") else c for c in cols}
    head = (
        "| "
        + " | ".join(f"{c.split('.')[0][:4]}.{short[c]}" if "." in c else c for c in cols)
        + " |"
    )
    lines = [head, "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(s.get(c, "")) for c in cols) + " |" for s in samples]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--duration-s", type=float, default=300, help="how long bookings are made")
    p.add_argument("--tail-s", type=float, default=60, help="sampling after the load stops")
    p.add_argument("--every-s", type=float, default=20, help="time between two samples")
    p.add_argument("--clients", type=int, default=4, help="people booking at once")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--out", type=Path, default=REPO / ".dev" / "soak.json")
    p.add_argument(
        "--keep", action="store_true", help="keep the stack's state dir (logs, database)"
    )
    args = p.parse_args(argv)
    os.environ.update(SOAK_ENV)
    (REPO / ".dev").mkdir(exist_ok=True)
    stack = bench.start_stack()
    try:
        samples = asyncio.run(run(args, stack))
    finally:
        stack.stop(keep=args.keep)
    args.out.write_text(json.dumps(samples, indent=1))
    print(table(samples))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
