"""A saga survives its row: what is written loads back equal, and the flags the saga now
derives (`unwinding`, `voided`) are still written for readers of the table, never read."""

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
    PaymentAuthorized,
    PaymentCaptured,
    PaymentFailed,
    PaymentSource,
    PaymentVoided,
)
from booking_shared.money import Money
from orchestrator.adapters.repository import SagaRepository
from orchestrator.domain.model import (
    CancellationRequested,
    Context,
    Policy,
    ProviderInfo,
    ReplyReceived,
    Saga,
    SagaState,
)
from orchestrator.domain.saga import decide, start

from .conftest import Harness

NOW = datetime.now(UTC)
TABLES = ProviderInfo(
    name="rows-tables",
    booking_types=("restaurant",),
    capabilities=Capabilities(hold=True, api_book=True, cancel=True, hold_ttl_seconds=180),
    commands_topic="provider.rows-tables.commands.v1",
    replies_topic="provider.rows-tables.replies.v1",
    announced_at=NOW,
)


def _ctx() -> Context:
    return Context(now=NOW, policy=Policy(), directory={TABLES.name: TABLES})


def _reply(saga: Saga, message) -> Saga:  # type: ignore[no-untyped-def]
    return decide(saga, ReplyReceived(message), _ctx()).saga


def _captured(bid: str) -> Saga:
    """Two restaurant items held, authorized, confirmed; the capture is out."""
    eur = Money(amount_minor=2500, currency="EUR")
    items = [
        BookingItem(
            id=f"item-{n}",
            title="Dinner",
            category="dinner",
            start_time=NOW + timedelta(days=3),
            cost=eur,
            venue_id=f"rest_{n}",
            party_size=2,
        )
        for n in (1, 2)
    ]
    s = start(
        BookingRequested(
            booking_id=bid,
            user_id="usr_rows",
            quote_id="qt_rows",
            items=items,
            total=Money(amount_minor=10000, currency="EUR"),
            payment=PaymentSource(customer_id="cus_rows", payment_method_id="pm_rows"),
            mode="all_or_nothing",
            guest="sealed",
            requested_at=NOW,
        ),
        _ctx(),
    ).saga
    for it in s.items:
        s = _reply(
            s,
            ItemHeld(
                booking_id=bid,
                command_id=s.steps[f"hold:{it.item_id}"].command_id,
                item_id=it.item_id,
                hold_id=f"h-{it.item_id}",
                expires_at=NOW + timedelta(minutes=3),
                price=it.price,
            ),
        )
    auth = s.steps["authorize"]
    s = _reply(
        s,
        PaymentAuthorized(
            booking_id=bid,
            command_id=auth.command_id,
            payment_intent_id=f"pi_{bid}",
            amount_capturable=auth.command.amount,
            capture_before=NOW + timedelta(days=7),
        ),
    )  # type: ignore[attr-defined]
    for it in s.items:
        s = _reply(
            s,
            ItemConfirmed(
                booking_id=bid,
                command_id=s.steps[f"confirm:{it.item_id}"].command_id,
                item_id=it.item_id,
                confirmation_code=f"C-{it.item_id}",
                partner_reference="ref",
                price=it.price,
                cancellation_policy=CancellationPolicy(summary="free"),
            ),
        )
    assert s.state == SagaState.CAPTURING
    return s


def _cancelled(s: Saga, name: str) -> ItemCancelled:
    zero = Money(amount_minor=0, currency="XXX")
    st = s.steps[name]
    return ItemCancelled(
        booking_id=s.booking_id,
        command_id=st.command_id,
        item_id=st.item_id or "",
        was_confirmed=True,
        refund=zero,
        fee=zero,
    )


async def _round_trip(h: Harness, saga: Saga) -> tuple[Saga, dict]:
    async with h.pool.acquire() as conn, conn.transaction():
        await SagaRepository(conn).save(saga, None)
    async with h.pool.acquire() as conn, conn.transaction():
        loaded = await SagaRepository(conn).load(saga.booking_id)
        row = dict(
            await conn.fetchrow(
                "SELECT unwinding, voided FROM sagas WHERE booking_id = $1", saga.booking_id
            )
        )
    assert loaded is not None
    return loaded, row


async def test_a_compensated_saga_loads_back_equal_with_its_derived_flags_written(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    s = _captured(h.new_id())
    s = _reply(
        s,
        PaymentFailed(
            booking_id=s.booking_id,
            command_id=s.steps["capture"].command_id,
            operation="capture",
            code="authorization_expired",
        ),
    )
    for name in ("cancel:item-1", "cancel:item-2"):
        s = _reply(s, _cancelled(s, name))
    s = _reply(s, PaymentVoided(booking_id=s.booking_id, command_id=s.steps["void"].command_id))
    assert (s.state, s.unwinding) == (SagaState.FAILED, "compensation")
    loaded, row = await _round_trip(h, s)
    assert loaded.steps == s.steps and loaded.items == s.items and loaded.payment == s.payment
    assert (loaded.state, loaded.unwinding, loaded.compensation_stage) == (
        s.state,
        "compensation",
        s.compensation_stage,
    )
    assert row == {"unwinding": "compensation", "voided": True}


async def test_a_cancelled_saga_loads_back_as_a_cancellation_whatever_an_old_row_said(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    s = _captured(h.new_id())
    s = _reply(
        s,
        PaymentCaptured(
            booking_id=s.booking_id,
            command_id=s.steps["capture"].command_id,
            amount_captured=s.steps["capture"].command.amount,
        ),
    )  # type: ignore[attr-defined]
    s = decide(
        s,
        CancellationRequested(
            BookingCancellationRequested(booking_id=s.booking_id, requested_by="usr_rows")
        ),
        _ctx(),
    ).saga
    for name in ("cancellation-cancel:item-1", "cancellation-cancel:item-2"):
        s = _reply(s, _cancelled(s, name))
    assert (s.state, s.unwinding) == (SagaState.CANCELLED, "cancellation")
    loaded, row = await _round_trip(h, s)
    assert row == {"unwinding": "cancellation", "voided": False}
    # The columns are only written: a row whose flags say otherwise loads the same saga.
    await h.pool.execute(
        "UPDATE sagas SET unwinding = NULL, voided = true WHERE booking_id = $1", s.booking_id
    )
    async with h.pool.acquire() as conn, conn.transaction():
        again = await SagaRepository(conn).load(s.booking_id)
    assert again is not None and again.unwinding == "cancellation" and again.steps == loaded.steps
