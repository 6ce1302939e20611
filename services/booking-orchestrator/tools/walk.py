"""How far a reader walks to follow one reply through the orchestrator.

Drives a three-item booking (through the pure saga function only) to the state a reply
answers, then traces `handlers.apply_reply` for that reply on a fake repository and a fake
connection (no Postgres, no broker) and prints the walk: every *stop* is a run of lines
executed in one module of the orchestrator; a *return* is a stop in a module the walk had
already left. The shared plumbing (booking_shared: outbox, contracts, money; counted with
--shared) and library code (pydantic, the standard library) are skipped: they are not rooms of
this service. The domain columns count the same walk inside orchestrator/domain only.

    .venv/bin/python services/booking-orchestrator/tools/walk.py            # the table
    .venv/bin/python services/booking-orchestrator/tools/walk.py --verbose  # every stop
    .venv/bin/python services/booking-orchestrator/tools/walk.py --shared   # with booking_shared

`walk(name)` returns the figures; tests/unit/test_walk.py keeps them from growing back.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from booking_shared.contracts import (
    BookingItem,
    BookingRequested,
    CancellationPolicy,
    Capabilities,
    Envelope,
    ItemCancelled,
    ItemConfirmed,
    ItemHeld,
    Message,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentSource,
)
from booking_shared.messaging import Handling
from booking_shared.money import Money
from orchestrator import handlers
from orchestrator.domain.model import Context, Policy, ProviderInfo, ReplyReceived, Saga
from orchestrator.domain.saga import decide, start

NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
POLICY = Policy()
PROVIDERS = {
    p.name: p
    for p in (
        ProviderInfo(
            name="tables",
            booking_types=("restaurant",),
            capabilities=Capabilities(hold=True, api_book=True, cancel=True, hold_ttl_seconds=180),
            commands_topic="provider.tables.commands.v1",
            replies_topic="provider.tables.replies.v1",
            announced_at=NOW - timedelta(hours=1),
        ),
        ProviderInfo(
            name="tickets",
            booking_types=("event",),
            capabilities=Capabilities(hold=False, api_book=True, cancel=True),
            commands_topic="provider.tickets.commands.v1",
            replies_topic="provider.tickets.replies.v1",
            announced_at=NOW - timedelta(hours=1),
        ),
    )
}
ORCHESTRATOR = Path(handlers.__file__).resolve().parent
SHARED = Path(sys.modules["booking_shared"].__file__).resolve().parent  # type: ignore[arg-type]


# ---- a booking driven to the state a reply answers ------------------------------------------


def _request() -> BookingRequested:
    when = NOW + timedelta(days=4)
    eur = lambda minor: Money(amount_minor=minor, currency="EUR")  # noqa: E731
    items = [
        BookingItem(
            id="item-1",
            title="Dinner",
            category="dinner",
            start_time=when,
            cost=eur(2000),
            venue_id="rest_1",
            party_size=2,
        ),
        BookingItem(
            id="item-2",
            title="Concert",
            category="concert",
            start_time=when,
            cost=eur(3000),
            event_id="evt_1",
            ticket_class_id="tc_1",
            quantity=1,
        ),
        BookingItem(
            id="item-3",
            title="Lunch",
            category="lunch",
            start_time=when,
            cost=eur(1500),
            venue_id="rest_2",
            party_size=2,
        ),
    ]
    return BookingRequested(
        booking_id="bk_walk",
        user_id="usr_1",
        quote_id="qt_1",
        items=items,
        total=eur(sum(i.line_total().amount_minor for i in items)),
        payment=PaymentSource(customer_id="cus_1", payment_method_id="pm_1"),
        mode="all_or_nothing",
        guest="sealed-guest",
        requested_at=NOW,
    )


def _ctx() -> Context:
    return Context(now=NOW, policy=POLICY, directory=PROVIDERS)


def _held(s: Saga, item_id: str) -> ItemHeld:
    st, it = s.steps[f"hold:{item_id}"], s.item(item_id)
    assert it is not None
    return ItemHeld(
        booking_id=s.booking_id,
        command_id=st.command_id,
        item_id=item_id,
        hold_id=f"h-{item_id}" if it.hold_capable else None,
        expires_at=NOW + timedelta(minutes=3) if it.hold_capable else None,
        price=it.spec.line_total(),
    )


def _authorized(s: Saga) -> PaymentAuthorized:
    st = s.steps["authorize"]
    return PaymentAuthorized(
        booking_id=s.booking_id,
        command_id=st.command_id,
        payment_intent_id="pi_1",
        amount_capturable=st.command.amount,
        capture_before=NOW + timedelta(days=7),
    )  # type: ignore[attr-defined]


def _confirmed(s: Saga, item_id: str) -> ItemConfirmed:
    st, it = s.steps[f"confirm:{item_id}"], s.item(item_id)
    assert it is not None
    return ItemConfirmed(
        booking_id=s.booking_id,
        command_id=st.command_id,
        item_id=item_id,
        confirmation_code=f"C-{item_id}",
        partner_reference=f"ref-{item_id}",
        price=it.price,
        cancellation_policy=CancellationPolicy(summary="free until the day before"),
    )


def _captured(s: Saga) -> PaymentCaptured:
    st = s.steps["capture"]
    return PaymentCaptured(
        booking_id=s.booking_id, command_id=st.command_id, amount_captured=st.command.amount
    )  # type: ignore[attr-defined]


def _cancelled(s: Saga, name: str) -> ItemCancelled:
    st = s.steps[name]
    zero = Money(amount_minor=0, currency="XXX")
    return ItemCancelled(
        booking_id=s.booking_id,
        command_id=st.command_id,
        item_id=st.item_id or "",
        was_confirmed=False,
        refund=zero,
        fee=zero,
    )


def _drive(*replies: Callable[[Saga], Message]) -> Saga:
    s = start(_request(), _ctx()).saga
    for make in replies:
        s = decide(s, ReplyReceived(make(s)), _ctx()).saga
    return s


HOLDS = (lambda s: _held(s, "item-1"), lambda s: _held(s, "item-2"), lambda s: _held(s, "item-3"))
CONFIRMS = (
    lambda s: _confirmed(s, "item-1"),
    lambda s: _confirmed(s, "item-2"),
    lambda s: _confirmed(s, "item-3"),
)


@dataclass(frozen=True)
class Case:
    given: Callable[[], Saga]
    reply: Callable[[Saga], Message]


CASES: dict[str, Case] = {
    "the last hold (HOLDING -> AUTHORIZING)": Case(lambda: _drive(*HOLDS[:2]), HOLDS[2]),
    "a payment authorized (AUTHORIZING -> CONFIRMING)": Case(lambda: _drive(*HOLDS), _authorized),
    "a confirmation, not the last (CONFIRMING)": Case(
        lambda: _drive(*HOLDS, _authorized), CONFIRMS[0]
    ),
    "the capture (CAPTURING -> CONFIRMED)": Case(
        lambda: _drive(*HOLDS, _authorized, *CONFIRMS), _captured
    ),
    "a duplicate hold (HOLDING)": Case(lambda: _drive(*HOLDS[:2]), HOLDS[0]),
    "a late hold after the booking failed (FAILED)": Case(
        lambda: _late_hold_given(), lambda s: _held(s, "item-3")
    ),
}


def _late_hold_given() -> Saga:
    """item-2's hold refused, the releases answered: FAILED, and item-3's hold still unanswered."""
    from booking_shared.contracts import ItemRejected

    s = _drive(HOLDS[0])
    s = decide(
        s,
        ReplyReceived(
            ItemRejected(
                booking_id=s.booking_id,
                command_id=s.steps["hold:item-2"].command_id,
                item_id="item-2",
                reason_code="slot_unavailable",
            )
        ),
        _ctx(),
    ).saga
    for name in ("cancel:item-1", "cancel:item-3"):
        s = decide(s, ReplyReceived(_cancelled(s, name)), _ctx()).saga
    return s


# ---- fakes of the ports -------------------------------------------------------------------


class _FakeConn:
    async def execute(self, *args: Any) -> str:
        return "OK"


class _FakeRepository:
    """What handlers use of SagaRepository, in memory."""

    sagas: dict[str, Saga] = {}

    def __init__(self, conn: Any) -> None:
        pass

    async def load(self, booking_id: str, *, lock: bool = True) -> Saga | None:
        return self.sagas.get(booking_id)

    async def save(self, saga: Saga, before: Saga | None) -> None:
        self.sagas[saga.booking_id] = saga

    async def record(self, *args: Any, **kwargs: Any) -> None:
        pass

    async def park(self, *args: Any) -> None:
        pass

    async def directory(self) -> dict[str, ProviderInfo]:
        return PROVIDERS

    def __getattr__(self, name: str) -> Callable[..., Any]:
        async def nothing(*args: Any, **kwargs: Any) -> None:
            return None

        return nothing  # any other write the handlers may do: not part of the walk


# ---- the trace --------------------------------------------------------------------------------


def _module_of(frame: FrameType, roots: dict[str, Path]) -> str | None:
    path = Path(frame.f_code.co_filename)
    for name, root in roots.items():
        if path.is_relative_to(root):
            return "/".join((name, *path.relative_to(root).with_suffix("").parts))
    return None


@dataclass
class Walk:
    stops: list[str]

    @property
    def modules(self) -> int:
        return len(set(self.stops))

    @property
    def returns(self) -> int:
        """Stops in a module the walk had already left."""
        return len(self.stops) - self.modules

    def entered(self) -> Counter[str]:
        return Counter(self.stops)

    def domain(self) -> Walk:
        """The same walk inside the saga's rules only (orchestrator/domain)."""
        inside = [m for m in self.stops if m.startswith("orchestrator/domain/")]
        return Walk([m for n, m in enumerate(inside) if n == 0 or inside[n - 1] != m])


def walk(case: str, shared: bool = False) -> Walk:
    """Trace one reply through handlers.apply_reply: the stops, in order. With `shared`, the
    shared plumbing (booking_shared: outbox, contracts, money) counts as well."""
    c = CASES[case]
    saga = c.given()
    message = c.reply(saga)
    _FakeRepository.sagas = {saga.booking_id: saga}
    deps = handlers.Deps(
        producer="booking-orchestrator", schema="orchestrator", policy=POLICY, clock=lambda: NOW
    )
    envelope = Envelope.new(message.type_name(), correlation_id=saga.booking_id, producer="walk")
    h = Handling(conn=_FakeConn(), envelope=envelope, message=message, topic="walk", settings=None)  # type: ignore[arg-type]
    roots = {"orchestrator": ORCHESTRATOR, **({"booking_shared": SHARED} if shared else {})}
    stops: list[str] = []

    def local(frame: FrameType, event: str, arg: Any):  # type: ignore[no-untyped-def]
        if event == "line":
            module = _module_of(frame, roots)
            if module is not None and (not stops or stops[-1] != module):
                stops.append(module)
        return local

    def tracer(frame: FrameType, event: str, arg: Any):  # type: ignore[no-untyped-def]
        return local if _module_of(frame, roots) is not None else None

    real, previous = handlers.SagaRepository, sys.gettrace()
    handlers.SagaRepository = _FakeRepository  # type: ignore[assignment,misc]
    try:
        sys.settrace(tracer)
        try:
            asyncio.run(handlers.apply_reply(h, deps))
        finally:
            sys.settrace(previous)
    finally:
        handlers.SagaRepository = real  # type: ignore[misc]
    return Walk(stops)


def main(argv: list[str]) -> None:
    verbose, shared = "--verbose" in argv, "--shared" in argv
    print(
        f"{'reply':50} {'stops':>5} {'modules':>7} {'returns':>7}  {'domain: stops':>13} {'returns':>7}  most entered"
    )
    for name in CASES:
        w = walk(name, shared)
        d = w.domain()
        top, n = w.entered().most_common(1)[0]
        print(
            f"{name:50} {len(w.stops):5} {w.modules:7} {w.returns:7}  {len(d.stops):13} {d.returns:7}  {top} x{n}"
        )
        if verbose:
            print("    " + " -> ".join(w.stops))


if __name__ == "__main__":
    main(sys.argv[1:])
