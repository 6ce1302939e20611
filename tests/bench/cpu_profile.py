"""Where the CPU goes under load: py-spy on every service while clients book.

Starts the whole stack as `make up` does (on free ports), has `--clients` people quote and book
one booking after another for `--seconds`, and samples each of our five services with py-spy
meanwhile (py-spy comes from PyPI through uv, as `uv tool run` fetches it). Prints, per service,
its CPU seconds per booking and the share of its samples spent under each of a few groups of
frames (the message path's parts), then the top frames by inclusive share. Raw stacks are
written beside the JSON for a flame graph (`--out`).

    .venv/bin/python tests/bench/cpu_profile.py --clients 10 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import bench
import httpx

UV = bench.REPO / ".dev" / "bootstrap" / "bin" / "uv"

# Groups of frames, matched on "function (file)" of any frame of a sample (inclusive): what
# the message path spends its CPU on. A sample may be in several groups.
GROUPS = {
    "database (asyncpg)": ("asyncpg/",),
    "kafka client (aiokafka)": ("aiokafka/",),
    "faststream": ("faststream/",),
    "pydantic": ("pydantic/", "pydantic_core/"),
    "http server (starlette/fastapi routing)": ("starlette/routing.py", "fastapi/routing.py"),
    "http client (httpx/httpcore)": ("httpx/", "httpcore/"),
    "stripe sdk": ("stripe/",),
    "logging (structlog/logging)": ("structlog/", "logging/"),
    "metrics (prometheus_client)": ("prometheus_client/",),
    "tracing (opentelemetry)": ("opentelemetry/",),
    "json": ("json/",),
    "outbox relay": ("booking_shared/outbox.py",),
    "message router": ("booking_shared/messaging.py",),
}


def spy(pid: int, seconds: float, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(UV),
            "tool",
            "run",
            "--quiet",
            "--from",
            "py-spy",
            "py-spy",
            "record",
            "--pid",
            str(pid),
            "--rate",
            "200",
            "--duration",
            str(int(seconds)),
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def read_raw(path: Path) -> Counter[tuple[str, ...]]:
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text().splitlines():
        frames, _, n = line.rpartition(" ")
        if frames:
            stacks[tuple(frames.split(";"))] += int(n)
    return stacks


def idle(stack: tuple[str, ...]) -> bool:
    """A sample of the event loop waiting in epoll: not CPU (py-spy cannot always tell)."""
    return bool(stack) and stack[-1].startswith(("EpollSelector.select", "select (selectors"))


def summarize(stacks: Counter[tuple[str, ...]], top: int) -> dict:
    busy = Counter({s: n for s, n in stacks.items() if not idle(s)})
    total = sum(busy.values()) or 1
    groups: Counter[str] = Counter()
    frames: Counter[str] = Counter()
    for stack, n in busy.items():
        for g, needles in GROUPS.items():
            if any(any(nd in f for nd in needles) for f in stack):
                groups[g] += n
        for f in set(stack):
            frames[f] += n
    return {
        "samples": total,
        "idle_samples": sum(stacks.values()) - total,
        "groups": {g: round(100 * n / total, 1) for g, n in groups.most_common()},
        "top": [
            (f, round(100 * n / total, 1))
            for f, n in frames.most_common()
            if n < 0.9 * total  # the event loop's own frames are in every sample
        ][:top],
    }


async def load(stack: bench.Stack, clients: int, seconds: float) -> int:
    async with httpx.AsyncClient(
        base_url=stack.url("gateway"),
        timeout=60,
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=200),
    ) as client:
        people = [await bench.sign_up(client, stack, i) for i in range(min(clients, 10))]
        restaurants, events = await bench.catalogue(client, stack, people[0])
        await bench.set_partners(stack, 0, 0.05)
        done = 0
        stop_at = time.monotonic() + seconds

        async def one(i: int) -> None:
            nonlocal done
            rng = random.Random(i)
            while time.monotonic() < stop_at:
                items = bench.itinerary(rng, restaurants, events, 2 + i % 2)
                q = await bench.quote(client, people[i % len(people)], items)
                await bench.book(client, people[i % len(people)], q)
                done += 1

        await asyncio.gather(*(one(i) for i in range(clients)))
        return done


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--out", type=Path, default=bench.REPO / ".dev" / "profile.json")
    args = p.parse_args(argv)
    stack = bench.start_stack(prefix="profile-")
    try:
        procs = bench.Processes(stack)
        raw_dir = args.out.with_suffix("")
        raw_dir.mkdir(parents=True, exist_ok=True)
        spies = {
            name: spy(procs.roots[name], args.seconds, raw_dir / f"{name}.txt")
            for name in bench.OURS
        }
        cpu0 = procs.cpu()
        booked = asyncio.run(load(stack, args.clients, args.seconds + 2))
        cpu = bench.delta(cpu0, procs.cpu())
        for name, proc in spies.items():
            if proc.wait(60) != 0:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise SystemExit(f"py-spy on {name} failed: {err[-500:]}")
    finally:
        stack.stop()
    report = {"clients": args.clients, "seconds": args.seconds, "bookings": booked, "services": {}}
    print(f"{booked} bookings in {args.seconds:.0f} s with {args.clients} clients")
    print("shares are of each service's busy samples (waiting in epoll left out)\n")
    for name in bench.OURS:
        s = summarize(read_raw(raw_dir / f"{name}.txt"), args.top)
        s["cpu_ms_per_booking"] = round(1000 * cpu.get(name, 0) / max(booked, 1), 1)
        report["services"][name] = s
        print(
            f"== {name}: {s['cpu_ms_per_booking']} ms CPU per booking, "
            f"{s['samples']} busy samples ({s['idle_samples']} idle)"
        )
        for g, share in s["groups"].items():
            print(f"   {share:5.1f}%  {g}")
        print("   top frames (inclusive):")
        for f, share in s["top"]:
            print(f"   {share:5.1f}%  {f[:150]}")
        print()
    for k in ("broker", "postgres"):
        print(f"{k}: {1000 * cpu.get(k, 0) / max(booked, 1):.1f} ms CPU per booking")
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nJSON: {args.out}; raw stacks: {raw_dir}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
