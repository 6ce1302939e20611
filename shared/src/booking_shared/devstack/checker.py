"""The invariant checker: every saga reconciled with the Stripe emulator's and each partner
sandbox's own records (dev and test tooling, not a service).

    python -m booking_shared.devstack.checker        # = make check, against a running `make up`

It reads our side from Postgres (the orchestrator's sagas, items and deadlines, the gateway's
bookings, the lock ids each provider recorded) and the outside world from localstripe's API and
the sandboxes' `/_admin` records, then checks DESIGN.md's invariants:

| kind | what is wrong |
| --- | --- |
| `charged_twice` | more than one PaymentIntent of a booking has a captured charge |
| `money_kept` | money captured and not refunded for a FAILED booking, or more than the fees for a CANCELLED one |
| `capture_mismatch` | a CONFIRMED booking: captured minus refunded is not the price of its confirmed items |
| `money_without_saga` | money captured for a booking no saga knows |
| `hold_left` | a slot lock or ticket hold still active for a booking in a final state |
| `reservation_left` | a reservation or order still active for a FAILED or CANCELLED booking |
| `partner_mismatch` | a CONFIRMED booking: active reservations and orders are not its confirmed items |
| `reservation_without_saga` | an active reservation or order for a booking no saga knows |
| `stuck` | a saga outside a final state past its deadlines (plus the grace), or with none left |
| `compensation_failed` | a saga in COMPENSATION_FAILED (waits for an operator) |
| `request_unanswered` | a gateway booking REQUESTED with no saga, or its cancellation unanswered, past the grace |
| `projection_behind` | the gateway shows another state than the saga's final one, past the grace |

Exit status: 0 when clean, 1 with the violations listed, 2 when a record could not be read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from booking_shared.db import Connection

FINAL = frozenset({"CONFIRMED", "FAILED", "CANCELLED", "PARTIALLY_CANCELLED"})
STRIPE_TEST_KEY = "sk_test_localstripe"
LIVE_LOCK_STATES = frozenset({"Active", "Locked", "Held"})
LIVE_HOLD_STATES = frozenset({"HELD"})
CANCELLED_RESERVATION_STATES = frozenset({"Cancelled", "CancelledWeb", "CancelledRestaurant"})
CANCELLED_ORDER_STATES = frozenset({"CANCELLED", "REFUNDED"})
KINDS = (
    "charged_twice",
    "money_kept",
    "capture_mismatch",
    "money_without_saga",
    "hold_left",
    "reservation_left",
    "partner_mismatch",
    "reservation_without_saga",
    "stuck",
    "compensation_failed",
    "request_unanswered",
    "projection_behind",
)


@dataclass(frozen=True)
class Violation:
    kind: str
    booking_id: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind:<24} {self.booking_id}  {self.detail}"


@dataclass
class Item:
    item_id: str
    status: str
    price_minor: int
    refund_minor: int | None = None
    hold_id: str | None = None


@dataclass
class Saga:
    booking_id: str
    state: str
    currency: str = "EUR"
    items: list[Item] = field(default_factory=list)
    paused: bool = False
    state_changed_at: datetime | None = None
    next_deadline: datetime | None = None  # the earliest due time still open


@dataclass
class Booking:
    """The gateway's view of a booking."""

    booking_id: str
    state: str
    saga_state: str | None
    created_at: datetime
    cancellation_requested_at: datetime | None = None


def _captured(pi: dict[str, Any]) -> tuple[int, int]:
    """(captured, refunded) of one PaymentIntent, from its charges."""
    charges = (pi.get("charges") or {}).get("data")
    if charges is None:  # API versions without the embedded list
        return int(pi.get("amount_received") or 0), 0
    captured = sum(c["amount"] for c in charges if c.get("captured"))
    refunded = sum(c.get("amount_refunded", 0) for c in charges if c.get("captured"))
    return captured, refunded


def _booking_of(ref: str | None) -> str | None:
    """The booking id in a partner reference `<booking>:<item>`."""
    return ref.split(":", 1)[0] if ref and ":" in ref else None


@dataclass
class Records:
    """What the outside world holds for one booking."""

    intents: list[dict[str, Any]]
    reservations: list[dict[str, Any]]
    locks: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    holds: list[dict[str, Any]]

    @property
    def captured(self) -> int:
        """Captured minus refunded, over every PaymentIntent."""
        return sum(c - r for c, r in map(_captured, self.intents))

    @property
    def captured_intents(self) -> list[dict[str, Any]]:
        return [pi for pi in self.intents if _captured(pi)[0] > 0]

    @property
    def active_partner_bookings(self) -> list[dict[str, Any]]:
        live_res = [r for r in self.reservations if r["state"] not in CANCELLED_RESERVATION_STATES]
        live_orders = [o for o in self.orders if o["status"] not in CANCELLED_ORDER_STATES]
        return live_res + live_orders

    @property
    def live_holds(self) -> list[dict[str, Any]]:
        return [lk for lk in self.locks if lk["state"] in LIVE_LOCK_STATES] + [
            h for h in self.holds if h["status"] in LIVE_HOLD_STATES
        ]


@dataclass
class Snapshot:
    """Everything the checker compares, read at one moment."""

    now: datetime
    sagas: dict[str, Saga] = field(default_factory=dict)
    bookings: dict[str, Booking] = field(default_factory=dict)
    intents: list[dict[str, Any]] = field(default_factory=list)
    reservations: list[dict[str, Any]] = field(default_factory=list)
    locks: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    holds: list[dict[str, Any]] = field(default_factory=list)
    hold_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def records(self, booking_id: str) -> Records:
        mine = lambda ref: _booking_of(ref) == booking_id  # noqa: E731
        reservations = [r for r in self.reservations if mine(r.get("partner_reference"))]
        # Slot locks carry no reference of ours: they are found through the lock ids the
        # providers and the saga recorded, and the reservations made from them.
        lock_ids = set(self.hold_ids.get(booking_id, set())) | {
            r.get("lock_id") for r in reservations
        }
        saga = self.sagas.get(booking_id)
        lock_ids |= {it.hold_id for it in (saga.items if saga else []) if it.hold_id}
        return Records(
            intents=[
                pi
                for pi in self.intents
                if (pi.get("metadata") or {}).get("booking_id") == booking_id
            ],
            reservations=reservations,
            locks=[lk for lk in self.locks if lk.get("lock_id") in lock_ids],
            orders=[o for o in self.orders if mine(o.get("partner_reference"))],
            holds=[h for h in self.holds if mine(h.get("partner_reference"))],
        )


# ---- the rules (pure) ---------------------------------------------------------------------------


def check(
    snap: Snapshot, grace_s: float = 30.0, booking_ids: Iterable[str] | None = None
) -> list[Violation]:
    """Every violation in the snapshot; with `booking_ids`, only about those bookings."""
    only = set(booking_ids) if booking_ids is not None else None
    grace = timedelta(seconds=grace_s)
    out: list[Violation] = []
    for bid, saga in sorted(snap.sagas.items()):
        if only is None or bid in only:
            out += _check_saga(saga, snap.records(bid), snap, grace)
    out += _check_orphans(snap, only)
    out += _check_gateway(snap, only, grace)
    return out


def _check_saga(saga: Saga, rec: Records, snap: Snapshot, grace: timedelta) -> list[Violation]:
    bid, state = saga.booking_id, saga.state
    v = lambda kind, detail: Violation(kind, bid, detail)  # noqa: E731
    out = []
    if len(rec.captured_intents) > 1:
        ids = ", ".join(pi["id"] for pi in rec.captured_intents)
        out.append(
            v("charged_twice", f"{len(rec.captured_intents)} PaymentIntents captured: {ids}")
        )
    net = rec.captured
    if state == "CONFIRMED":
        confirmed = [it for it in saga.items if it.status == "CONFIRMED"]
        price = sum(it.price_minor for it in confirmed)
        if net != price:
            out.append(
                v(
                    "capture_mismatch",
                    f"captured minus refunded is {net}, the confirmed items cost {price} {saga.currency}",
                )
            )
        active = rec.active_partner_bookings
        if len(active) != len(confirmed):
            out.append(
                v(
                    "partner_mismatch",
                    f"{len(active)} active reservations/orders at the partners for {len(confirmed)} confirmed items",
                )
            )
    elif state == "FAILED" and net != 0:
        out.append(
            v("money_kept", f"{net} {saga.currency} captured and not refunded for a FAILED booking")
        )
    elif state == "CANCELLED":
        fees = sum(
            it.price_minor - (it.refund_minor or 0) for it in saga.items if it.status == "CANCELLED"
        )
        if net > fees:
            out.append(
                v(
                    "money_kept",
                    f"{net} {saga.currency} kept for a CANCELLED booking whose fees are {fees}",
                )
            )
    elif state == "PARTIALLY_CANCELLED":
        # What a partner refused to cancel stands, and stays paid; the rest is refunded per policy.
        standing = [it for it in saga.items if it.status == "NOT_CANCELLABLE"]
        fees = sum(
            it.price_minor - (it.refund_minor or 0) for it in saga.items if it.status == "CANCELLED"
        )
        owed = sum(it.price_minor for it in standing) + fees
        if net != owed:
            out.append(
                v(
                    "capture_mismatch",
                    f"captured minus refunded is {net}, the items that stand and the fees "
                    f"come to {owed} {saga.currency}",
                )
            )
        if len(rec.active_partner_bookings) != len(standing):
            out.append(
                v(
                    "partner_mismatch",
                    f"{len(rec.active_partner_bookings)} active reservations/orders at the "
                    f"partners for {len(standing)} items that stand",
                )
            )
    if state in ("FAILED", "CANCELLED") and rec.active_partner_bookings:
        refs = ", ".join(_describe(r) for r in rec.active_partner_bookings)
        out.append(v("reservation_left", f"still active at the partner: {refs}"))
    if state in FINAL and rec.live_holds:
        out.append(
            v(
                "hold_left",
                "still held at the partner: " + ", ".join(_describe(h) for h in rec.live_holds),
            )
        )
    if state == "COMPENSATION_FAILED":
        out.append(v("compensation_failed", "the saga gave up undoing; an operator must finish it"))
    elif state not in FINAL and not saga.paused:
        if saga.next_deadline is not None and saga.next_deadline + grace < snap.now:
            late = (snap.now - saga.next_deadline).total_seconds()
            out.append(v("stuck", f"{state}, its next deadline passed {late:.0f} s ago"))
        elif (
            saga.next_deadline is None
            and saga.state_changed_at
            and saga.state_changed_at + grace < snap.now
        ):
            idle = (snap.now - saga.state_changed_at).total_seconds()
            out.append(v("stuck", f"{state} for {idle:.0f} s with no deadline left"))
    return out


def _describe(rec: dict[str, Any]) -> str:
    for key in ("reservation_id", "lock_id", "order_id", "hold_id", "id"):
        if rec.get(key):
            status = rec.get("state") or rec.get("status")
            return f"{rec[key]} ({status})"
    return str(rec)


def _check_orphans(snap: Snapshot, only: set[str] | None) -> list[Violation]:
    out = []
    seen: dict[str, int] = defaultdict(int)
    for pi in snap.intents:
        bid = (pi.get("metadata") or {}).get("booking_id")
        if bid and bid not in snap.sagas and (only is None or bid in only):
            captured, refunded = _captured(pi)
            seen[bid] += captured - refunded
    for bid, net in sorted(seen.items()):
        if net > 0:
            out.append(
                Violation(
                    "money_without_saga",
                    bid,
                    f"{net} captured at Stripe, and no saga has this booking",
                )
            )
    live = [r for r in snap.reservations if r["state"] not in CANCELLED_RESERVATION_STATES]
    live += [o for o in snap.orders if o["status"] not in CANCELLED_ORDER_STATES]
    for r in live:
        bid = _booking_of(r.get("partner_reference"))
        if bid and bid not in snap.sagas and (only is None or bid in only):
            out.append(
                Violation(
                    "reservation_without_saga",
                    bid,
                    f"{_describe(r)} active, and no saga has this booking",
                )
            )
    return out


def _check_gateway(snap: Snapshot, only: set[str] | None, grace: timedelta) -> list[Violation]:
    out = []
    for bid, b in sorted(snap.bookings.items()):
        if only is not None and bid not in only:
            continue
        saga = snap.sagas.get(bid)
        if saga is None:
            if b.state not in FINAL | {"COMPENSATION_FAILED"} and b.created_at + grace < snap.now:
                age = (snap.now - b.created_at).total_seconds()
                out.append(
                    Violation(
                        "request_unanswered",
                        bid,
                        f"the gateway shows {b.state} for {age:.0f} s and no saga exists",
                    )
                )
            continue
        asked = b.cancellation_requested_at
        if (
            b.state == "CANCELLATION_REQUESTED"
            and saga.state == "CONFIRMED"
            and asked
            and asked + grace < snap.now
        ):
            age = (snap.now - asked).total_seconds()
            out.append(
                Violation(
                    "request_unanswered",
                    bid,
                    f"cancellation asked {age:.0f} s ago; the saga is still CONFIRMED",
                )
            )
        settled = saga.state in FINAL | {"COMPENSATION_FAILED"}
        own_request = b.state == "CANCELLATION_REQUESTED" and saga.state == "CONFIRMED"
        if (
            settled
            and not own_request
            and b.state != saga.state
            and saga.state_changed_at
            and saga.state_changed_at + grace < snap.now
        ):
            out.append(
                Violation(
                    "projection_behind",
                    bid,
                    f"the gateway shows {b.state}, the saga is {saga.state}",
                )
            )
    return out


# ---- reading the records ------------------------------------------------------------------------


@dataclass
class Stack:
    """Where a running stack keeps its records: the same variables and defaults as `make up`."""

    database_url: str
    stripe_url: str
    stripe_key: str
    opentable_sandbox_url: str
    eventbrite_sandbox_url: str
    orchestrator_schema: str = "orchestrator"
    gateway_schema: str = "gateway"
    provider_schemas: tuple[str, ...] = ("opentable", "eventbrite")

    @classmethod
    def running(cls) -> Stack:
        """The stack `make up` started: the environment it gave the services
        (`services.env.json` in its state folder), then this process's environment."""
        from booking_shared.devstack.up import STATE

        env: dict[str, str] = {}
        with contextlib.suppress(OSError, ValueError):
            env.update(json.loads((STATE / "services.env.json").read_text()))
        return cls.from_env({**env, **os.environ})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Stack:
        e = os.environ if env is None else env
        port = lambda name, default: e.get(name, str(default))  # noqa: E731
        return cls(
            database_url=e.get("DATABASE_URL")
            or f"postgresql://postgres@127.0.0.1:{port('POSTGRES_PORT', 5433)}/postgres",
            stripe_url=e.get("STRIPE_API_BASE")
            or f"http://127.0.0.1:{port('LOCALSTRIPE_PORT', 8420)}",
            stripe_key=e.get("STRIPE_API_KEY") or STRIPE_TEST_KEY,
            opentable_sandbox_url=e.get("OPENTABLE_BASE_URL")
            or f"http://127.0.0.1:{port('OPENTABLE_SANDBOX_PORT', 8103)}",
            eventbrite_sandbox_url=e.get("EVENTBRITE_BASE_URL")
            or f"http://127.0.0.1:{port('EVENTBRITE_SANDBOX_PORT', 8104)}",
        )


async def collect(stack: Stack, booking_ids: Iterable[str] | None = None) -> Snapshot:
    """Read our records (Postgres) and theirs (Stripe, sandboxes); with `booking_ids`, only
    those bookings' from Postgres (the outside lists are read whole)."""
    only = sorted(set(booking_ids)) if booking_ids is not None else None
    snap = Snapshot(now=datetime.now(UTC))
    conn = await asyncpg.connect(stack.database_url)
    try:
        snap.now = await conn.fetchval("SELECT now()")
        await _read_sagas(conn, stack, snap, only)
        await _read_bookings(conn, stack, snap, only)
        for schema in stack.provider_schemas:
            if await _has(conn, schema, "items"):
                rows = await conn.fetch(
                    f'SELECT booking_id, hold_id FROM "{schema}".items WHERE hold_id IS NOT NULL'
                    + (" AND booking_id = ANY($1::text[])" if only is not None else ""),
                    *([only] if only is not None else []),
                )
                for r in rows:
                    snap.hold_ids[r["booking_id"]].add(r["hold_id"])
    finally:
        await conn.close()
    async with httpx.AsyncClient(timeout=30) as http:
        snap.intents = await _payment_intents(http, stack)
        ot, eb = stack.opentable_sandbox_url, stack.eventbrite_sandbox_url
        snap.reservations = (await _get(http, f"{ot}/_admin/reservations"))["reservations"]
        snap.locks = (await _get(http, f"{ot}/_admin/locks"))["locks"]
        snap.orders = (await _get(http, f"{eb}/_admin/orders"))["orders"]
        snap.holds = (await _get(http, f"{eb}/_admin/holds"))["holds"]
    return snap


async def _has(conn: Connection, schema: str, table: str) -> bool:
    return await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f'"{schema}".{table}')


async def _read_sagas(
    conn: Connection, stack: Stack, snap: Snapshot, only: list[str] | None
) -> None:
    o = stack.orchestrator_schema
    if not await _has(conn, o, "sagas"):
        return
    where = " WHERE s.booking_id = ANY($1::text[])" if only is not None else ""
    args = [only] if only is not None else []
    for r in await conn.fetch(
        f"SELECT s.booking_id, s.state, s.currency, s.paused, s.state_changed_at,"
        f' (SELECT min(due_at) FROM "{o}".deadlines d WHERE d.booking_id = s.booking_id) AS next_deadline'
        f' FROM "{o}".sagas s{where}',
        *args,
    ):
        snap.sagas[r["booking_id"]] = Saga(
            r["booking_id"],
            r["state"],
            r["currency"],
            [],
            r["paused"],
            r["state_changed_at"],
            r["next_deadline"],
        )
    for r in await conn.fetch(
        f"SELECT s.booking_id, s.item_id, s.status, s.price_minor, s.refund_minor, s.hold_id"
        f' FROM "{o}".saga_items s{where} ORDER BY s.booking_id, s.position',
        *args,
    ):
        saga = snap.sagas.get(r["booking_id"])
        if saga is not None:
            saga.items.append(
                Item(r["item_id"], r["status"], r["price_minor"], r["refund_minor"], r["hold_id"])
            )


async def _read_bookings(
    conn: Connection, stack: Stack, snap: Snapshot, only: list[str] | None
) -> None:
    g = stack.gateway_schema
    if not await _has(conn, g, "bookings"):
        return
    where = " WHERE id = ANY($1::text[])" if only is not None else ""
    for r in await conn.fetch(
        f'SELECT id, state, saga_state, created_at, cancellation_requested_at FROM "{g}".bookings{where}',
        *([only] if only is not None else []),
    ):
        snap.bookings[r["id"]] = Booking(
            r["id"], r["state"], r["saga_state"], r["created_at"], r["cancellation_requested_at"]
        )


async def _get(http: httpx.AsyncClient, url: str, **kw: Any) -> Any:
    r = await http.get(url, **kw)
    r.raise_for_status()
    return r.json()


async def _payment_intents(http: httpx.AsyncClient, stack: Stack) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = await _get(
            http,
            f"{stack.stripe_url}/v1/payment_intents",
            params=params,
            auth=(stack.stripe_key, ""),
        )
        out += page["data"]
        if not page.get("has_more") or not page["data"]:
            return out
        params["starting_after"] = page["data"][-1]["id"]


# ---- the command --------------------------------------------------------------------------------


def run(
    stack: Stack, grace_s: float = 30.0, booking_ids: Iterable[str] | None = None
) -> tuple[Snapshot, list[Violation]]:
    """Collect and check, for callers without an event loop (tests, the CLI)."""
    ids = list(booking_ids) if booking_ids is not None else None
    snap = asyncio.run(collect(stack, ids))
    return snap, check(snap, grace_s, ids)


def report(snap: Snapshot, violations: list[Violation]) -> str:
    states: dict[str, int] = defaultdict(int)
    for s in snap.sagas.values():
        states[s.state] += 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "none"
    head = f"{len(snap.sagas)} sagas ({summary}), {len(snap.bookings)} gateway bookings, {len(snap.intents)} PaymentIntents"
    if not violations:
        return f"{head}: every invariant holds."
    lines = [f"{head}: {len(violations)} violations"]
    lines += [f"  {v}" for v in violations]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="make check", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--grace",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds past a deadline (or without an answer) before a saga or request counts as stuck",
    )
    ap.add_argument(
        "--booking", action="append", metavar="ID", help="check only this booking (repeatable)"
    )
    args = ap.parse_args(argv)
    stack = Stack.running()
    try:
        snap, violations = run(stack, args.grace, args.booking)
    except (OSError, asyncpg.PostgresError, httpx.HTTPError) as exc:
        print(
            f"could not read the stack's records ({type(exc).__name__}: {exc}); is `make up` running?",
            file=sys.stderr,
        )
        return 2
    print(report(snap, violations))
    return 1 if violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
