"""Builders for the table tests: a booking, providers, and sagas driven (through the pure
function only) into any state, plus the reply that answers a given step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from booking_shared.contracts import (
    BookingCancellationRequested,
    BookingItem,
    BookingRequested,
    CancellationPolicy,
    Capabilities,
    ItemCancelled,
    ItemConfirmed,
    ItemHeld,
    ItemHoldLapsed,
    ItemRejected,
    PaymentActionRequired,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PaymentFailed,
    PaymentRefunded,
    PaymentSource,
    PaymentVoided,
)
from booking_shared.money import Money
from orchestrator.domain.model import (
    CancellationRequested,
    Context,
    DeadlineDue,
    Decision,
    OperatorAction,
    Policy,
    ProviderInfo,
    ReplyReceived,
    Saga,
    Step,
)
from orchestrator.domain.saga import decide, start

NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
POLICY = Policy(
    step_timeout_s=10,
    step_max_attempts=3,
    backoff=2,
    compensation_max_attempts=3,
    action_window_s=600,
)
BID = "bk_unit"

RESTAURANTS = ProviderInfo(
    name="tables",
    booking_types=("restaurant",),
    capabilities=Capabilities(hold=True, api_book=True, cancel=True, hold_ttl_seconds=180),
    commands_topic="provider.tables.commands.v1",
    replies_topic="provider.tables.replies.v1",
    announced_at=NOW - timedelta(hours=1),
)
TICKETS_NO_HOLD = ProviderInfo(
    name="tickets",
    booking_types=("event",),
    capabilities=Capabilities(hold=False, api_book=True, cancel=True),
    commands_topic="provider.tickets.commands.v1",
    replies_topic="provider.tickets.replies.v1",
    announced_at=NOW - timedelta(hours=1),
)
DIRECTORY = {p.name: p for p in (RESTAURANTS, TICKETS_NO_HOLD)}


def ctx(at: datetime = NOW, directory=None) -> Context:  # type: ignore[no-untyped-def]
    return Context(now=at, policy=POLICY, directory=DIRECTORY if directory is None else directory)


def items() -> list[BookingItem]:
    """Dinner (restaurant, holds) 2 x 20.00, concert (event, no hold) 1 x 30.00, lunch 2 x 15.00."""
    start_time = NOW + timedelta(days=4)
    return [
        BookingItem(
            id="item-1",
            title="Dinner",
            category="dinner",
            start_time=start_time,
            cost=Money(amount_minor=2000, currency="EUR"),
            venue_id="rest_1",
            party_size=2,
        ),
        BookingItem(
            id="item-2",
            title="Concert",
            category="concert",
            start_time=start_time,
            cost=Money(amount_minor=3000, currency="EUR"),
            event_id="evt_1",
            ticket_class_id="tc_1",
            quantity=1,
        ),
        BookingItem(
            id="item-3",
            title="Lunch",
            category="lunch",
            start_time=start_time,
            cost=Money(amount_minor=1500, currency="EUR"),
            venue_id="rest_2",
            party_size=2,
        ),
    ]


def request(mode: str = "all_or_nothing", booking_items=None) -> BookingRequested:  # type: ignore[no-untyped-def]
    its = booking_items if booking_items is not None else items()
    total = sum(i.line_total().amount_minor for i in its)
    return BookingRequested(
        booking_id=BID,
        user_id="usr_1",
        quote_id="qt_1",
        items=its,
        total=Money(amount_minor=total, currency="EUR"),
        payment=PaymentSource(customer_id="cus_1", payment_method_id="pm_1"),
        mode=mode,  # type: ignore[arg-type]
        guest="sealed-guest",
        requested_at=NOW,
    )


def step(saga: Saga, name: str) -> Step:
    return saga.steps[name]


def latest(saga: Saga, prefix: str) -> Step:
    found = [s for n, s in saga.steps.items() if n == prefix or n.startswith(prefix + "#")]
    return found[-1]


# ---- replies to a saga's steps ----------------------------------------------------------------


def held(saga: Saga, item_id: str, price: int | None = None, expires_in_s: int = 180) -> ItemHeld:
    st = step(saga, f"hold:{item_id}")
    item = saga.item(item_id)
    assert item is not None
    amount = (
        Money(amount_minor=price, currency="EUR") if price is not None else item.spec.line_total()
    )
    return ItemHeld(
        booking_id=saga.booking_id,
        command_id=st.command_id,
        item_id=item_id,
        hold_id=f"h-{item_id}" if item.hold_capable else None,
        expires_at=NOW + timedelta(seconds=expires_in_s) if item.hold_capable else None,
        price=amount,
    )


def rejected(saga: Saga, name: str, code: str = "slot_unavailable") -> ItemRejected:
    st = step(saga, name)
    return ItemRejected(
        booking_id=saga.booking_id,
        command_id=st.command_id,
        item_id=st.item_id or "",
        reason_code=code,
    )  # type: ignore[arg-type]


def confirmed(saga: Saga, item_id: str) -> ItemConfirmed:
    st = step(saga, f"confirm:{item_id}")
    item = saga.item(item_id)
    assert item is not None
    return ItemConfirmed(
        booking_id=saga.booking_id,
        command_id=st.command_id,
        item_id=item_id,
        confirmation_code=f"C-{item_id}",
        partner_reference=f"ref-{item_id}",
        price=item.price,
        cancellation_policy=CancellationPolicy(summary="free until the day before"),
    )


def cancelled(
    saga: Saga, name: str, refund: int = 0, fee: int = 0, was_confirmed: bool = False
) -> ItemCancelled:
    st = step(saga, name)
    cur = "EUR" if (refund or fee) else "XXX"
    return ItemCancelled(
        booking_id=saga.booking_id,
        command_id=st.command_id,
        item_id=st.item_id or "",
        was_confirmed=was_confirmed,
        refund=Money(amount_minor=refund, currency=cur),
        fee=Money(amount_minor=fee, currency=cur),
    )


def authorized(saga: Saga) -> PaymentAuthorized:
    st = step(saga, "authorize")
    return PaymentAuthorized(
        booking_id=saga.booking_id,
        command_id=st.command_id,
        payment_intent_id="pi_1",
        amount_capturable=st.command.amount,
        capture_before=NOW + timedelta(days=7),  # type: ignore[attr-defined]
    )


def declined(saga: Saga) -> PaymentDeclined:
    return PaymentDeclined(
        booking_id=saga.booking_id,
        command_id=step(saga, "authorize").command_id,
        decline_code="insufficient_funds",
        message="Your card has insufficient funds.",
    )


def action_required(saga: Saga) -> PaymentActionRequired:
    return PaymentActionRequired(
        booking_id=saga.booking_id,
        command_id=step(saga, "authorize").command_id,
        payment_intent_id="pi_1",
        client_secret="pi_1_secret_x",
    )


def captured(saga: Saga) -> PaymentCaptured:
    st = step(saga, "capture")
    return PaymentCaptured(
        booking_id=saga.booking_id, command_id=st.command_id, amount_captured=st.command.amount
    )  # type: ignore[attr-defined]


def payment_failed(saga: Saga, name: str, operation: str, code: str) -> PaymentFailed:
    return PaymentFailed(
        booking_id=saga.booking_id,
        command_id=step(saga, name).command_id,
        operation=operation,
        code=code,
    )  # type: ignore[arg-type]


def voided(saga: Saga, name: str = "void") -> PaymentVoided:
    return PaymentVoided(booking_id=saga.booking_id, command_id=step(saga, name).command_id)


def refunded(saga: Saga, name: str) -> PaymentRefunded:
    st = step(saga, name)
    amount = st.command.amount  # type: ignore[attr-defined]
    return PaymentRefunded(
        booking_id=saga.booking_id,
        command_id=st.command_id,
        amount_refunded=amount,
        total_refunded=amount,
        refund_id="re_1",
    )


def lapsed(saga: Saga, item_id: str) -> ItemHoldLapsed:
    return ItemHoldLapsed(
        booking_id=saga.booking_id, item_id=item_id, hold_id=f"h-{item_id}", expired_at=NOW
    )


def cancellation(saga: Saga, by: str = "usr_1") -> CancellationRequested:
    return CancellationRequested(
        BookingCancellationRequested(
            booking_id=saga.booking_id, requested_by=by, reason="plans changed"
        )
    )


# ---- driving ---------------------------------------------------------------------------------


def apply(saga: Saga, event, at: datetime = NOW) -> Decision:  # type: ignore[no-untyped-def]
    return decide(saga, event, ctx(at))


def reply(saga: Saga, message, at: datetime = NOW) -> Saga:  # type: ignore[no-untyped-def]
    return apply(saga, ReplyReceived(message), at).saga


def deadline(saga: Saga, name: str, at: datetime) -> Decision:
    return apply(saga, DeadlineDue(name), at)


def operator(saga: Saga, action: str) -> Decision:
    return apply(saga, OperatorAction(action, "ops:alice", "testing"))  # type: ignore[arg-type]


def holding(mode: str = "all_or_nothing", held_ids: tuple[str, ...] = ()) -> Saga:
    saga = start(request(mode), ctx()).saga
    for i in held_ids:
        saga = reply(saga, held(saga, i))
    return saga


def authorizing(mode: str = "all_or_nothing") -> Saga:
    return holding(mode, ("item-1", "item-2", "item-3"))


def waiting_for_3ds() -> Saga:
    s = authorizing()
    return reply(s, action_required(s))


def confirming(mode: str = "all_or_nothing", confirmed_ids: tuple[str, ...] = ()) -> Saga:
    s = authorizing(mode)
    s = reply(s, authorized(s))
    for i in confirmed_ids:
        s = reply(s, confirmed(s, i))
    return s


def capturing() -> Saga:
    return confirming(confirmed_ids=("item-1", "item-2", "item-3"))


def confirmed_saga() -> Saga:
    s = capturing()
    return reply(s, captured(s))


def cancelling() -> Saga:
    s = confirmed_saga()
    return apply(s, cancellation(s)).saga


def compensating_after_hold_rejected() -> Saga:
    """item-2 rejected while item-1 held and item-3 still holding: releases under way."""
    s = holding(held_ids=("item-1",))
    return reply(s, rejected(s, "hold:item-2"))


def compensating_after_capture_failed() -> Saga:
    s = capturing()
    return reply(s, payment_failed(s, "capture", "capture", "authorization_expired"))


def sends(decision: Decision) -> list[str]:
    """What a decision sends, as 'Type:item' (commands) or 'Type' (payment commands and
    booking events); state changes are left out (checked separately)."""
    out = []
    for s in decision.sends:
        name = s.message.type_name()
        if name == "SagaStateChanged":
            continue
        item = getattr(s.message, "item_id", None) or getattr(
            getattr(s.message, "item", None), "id", None
        )
        out.append(f"{name}:{item}" if item else name)
    return sorted(out)
