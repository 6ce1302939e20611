"""Where one booking's time goes, hop by hop: the profile behind docs/PERFORMANCE.md.

Starts the whole stack as `make up` does (on free ports) with every service exporting its
OpenTelemetry spans to a small in-process OTLP receiver, books a number of 2-item itineraries
one after another at 0 ms partners, and prints, for the median booking, each message's handler
time (its consumer span) and the gap before it (from the end of the handler that sent it to
the start of this one: the commit, the outbox relay, the broker and the consumer's fetch).
Then the same split summed over all bookings. Tracing adds a little to every handler; the
split, not the total, is the point.

    .venv/bin/python tests/bench/hops.py --bookings 40
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))  # its OTLP receiver

import bench  # noqa: E402  (the bench's stack and booking helpers)
from otlp import Receiver, Span  # noqa: E402

CONSUMER, SERVER = 5, 2


def timeline(spans: list[Span]) -> list[dict]:
    """The hops of one trace: the gateway's POST, then every consumed message in order."""
    by_id = {s.span_id: s for s in spans}
    root = min(
        (s for s in spans if s.kind == SERVER and s.service == "gateway"),
        key=lambda s: s.start_ns,
    )
    consumed = sorted((s for s in spans if s.kind == CONSUMER), key=lambda s: s.start_ns)

    def handler_of(span: Span) -> Span | None:
        """The consumer or server span around a producer span: the handler that sent it."""
        cur = by_id.get(span.parent_id)
        while cur is not None:
            if cur.kind in (CONSUMER, SERVER):
                return cur
            cur = by_id.get(cur.parent_id)
        return None

    hops = [
        {
            "service": "gateway",
            "message": "POST /v1/bookings",
            "gap_ms": 0.0,
            "handler_ms": (root.end_ns - root.start_ns) / 1e6,
            "at_ms": 0.0,
        }
    ]
    for c in consumed:
        sender = handler_of(c)
        gap = (c.start_ns - sender.end_ns) / 1e6 if sender is not None else float("nan")
        hops.append(
            {
                "service": c.service,
                "message": str(c.attributes.get("messaging.message.type") or c.name),
                "gap_ms": gap,
                "handler_ms": (c.end_ns - c.start_ns) / 1e6,
                "at_ms": (c.start_ns - root.start_ns) / 1e6,
            }
        )
    return hops


def tree(spans: list[Span]) -> None:
    t0 = min(s.start_ns for s in spans)
    children: dict[str, list[Span]] = defaultdict(list)
    ids = {s.span_id for s in spans}
    for s in spans:
        children[s.parent_id if s.parent_id in ids else ""].append(s)

    def show(s: Span, depth: int) -> None:
        print(
            f"{(s.start_ns - t0) / 1e6:7.1f} {(s.end_ns - s.start_ns) / 1e6:7.1f}  "
            f"{'  ' * depth}{s.service}: {s.name}"
        )
        for c in sorted(children[s.span_id], key=lambda c: c.start_ns):
            show(c, depth + 1)

    for s in sorted(children[""], key=lambda c: c.start_ns):
        show(s, 0)


async def drive(stack: bench.Stack, n: int) -> list[tuple[str, float]]:
    async with httpx.AsyncClient(base_url=stack.url("gateway"), timeout=60) as client:
        person = await bench.sign_up(client, stack, 0)
        restaurants, events = await bench.catalogue(client, stack, person)
        await bench.set_partners(stack, 0, 0)
        rng = random.Random(7)
        out = []
        for _ in range(n):
            items = bench.itinerary(rng, restaurants, events, 2)
            q = await bench.quote(client, person, items)
            o = await bench.book(client, person, q)
            out.append((o.booking_id, o.seconds))
        return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bookings", type=int, default=40)
    p.add_argument("--tree", action="store_true", help="print every span of the median booking")
    p.add_argument("--warmup", type=int, default=5, help="first bookings left out of the split")
    args = p.parse_args(argv)
    receiver = Receiver().start()
    stack = bench.start_stack(
        {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        },
        prefix="hops-",
    )
    try:
        done = asyncio.run(drive(stack, args.bookings))
        time.sleep(2)  # the batch span processors' last export
    finally:
        stack.stop()
        receiver.stop()
    spans = receiver.spans()
    by_booking: dict[str, list[Span]] = defaultdict(list)
    trace_of: dict[str, str] = {}
    for s in spans:
        b = s.attributes.get("booking.id")
        if b:
            trace_of[str(b)] = s.trace_id
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for s in spans:
        by_trace[s.trace_id].append(s)
    for b, t in trace_of.items():
        by_booking[b] = by_trace[t]
    measured = [(b, secs) for b, secs in done[args.warmup :] if b in by_booking]
    if not measured:
        raise SystemExit("no trace came back for any booking")
    measured.sort(key=lambda x: x[1])
    median_b, median_s = measured[len(measured) // 2]
    print(f"median booking {median_b}: {median_s * 1000:.0f} ms end to end (with tracing on)")
    print(f"{'at ms':>7} {'gap ms':>7} {'handler ms':>10}  service / message")
    for h in timeline(by_booking[median_b]):
        print(
            f"{h['at_ms']:7.1f} {h['gap_ms']:7.1f} {h['handler_ms']:10.1f}  "
            f"{h['service']} / {h['message']}"
        )
    if args.tree:
        print("\nspans of the median booking (start ms from the POST, duration ms):")
        tree(by_booking[median_b])
    gaps, handlers, hops, e2e = [], [], [], []
    for b, secs in measured:
        tl = timeline(by_booking[b])
        gaps.append(sum(h["gap_ms"] for h in tl[1:]))
        handlers.append(sum(h["handler_ms"] for h in tl))
        hops.append(len(tl) - 1)
        e2e.append(secs * 1000)
    print(
        f"\nover {len(measured)} bookings (medians): e2e {statistics.median(e2e):.0f} ms, "
        f"{statistics.median(hops):.0f} hops, handlers {statistics.median(handlers):.0f} ms, "
        f"gaps (commit + relay + broker + fetch) {statistics.median(gaps):.0f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
