"""Bookings accepted before their card could be chosen, and the pass that chooses it.

A booking takes its card from the gateway's copy of the user's cards. A user without a copy
(cards saved before the copy existed, or a copy dropped after an unheard change) needs the
payment service, which owns the cards; when it does not answer, the booking is still accepted:
consent is checked and recorded as always, and its BookingRequested waits in
`bookings_awaiting_card` (in the booking's transaction) instead of the outbox.

Each reconciler pass (entrypoints/reconciler.py) asks the payment service for the waiting users'
cards, one user at a time, and stops at the first call it does not answer (it is still away).
With the cards heard, the request is published with the card asked for, else the default (the
same rule as at request time), in one transaction with the booking's card and the request's
`sent_requests` row. Or the booking fails, with a reason on the booking and its timeline:

| code | when |
| --- | --- |
| `payment_method_required` | no card on file |
| `payment_method_not_found` | the card asked for is not among the user's cards |
| `payment_unavailable` | the payment service did not answer for `CARD_WAIT_MAX_S` |

The saga has not started before the request is published, so a failed booking held nothing
and charged nothing; nor does it appear on booking.events.v1, whose BookingRequested always
carries a card (the public contract is unchanged)."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from pydantic_core import to_jsonable_python

from booking_shared import outbox
from booking_shared.contracts import BookingRequested
from booking_shared.contracts.topics import BOOKING_EVENTS
from booking_shared.db import Connection
from gateway.adapters import postgres as db
from gateway.domain.errors import UpstreamRejected, UpstreamUnavailable
from gateway.domain.models import Card
from gateway.handlers import reconcile
from gateway.handlers.payment_methods import pick_card
from gateway.metrics import CARD_WAITS
from gateway.ports import PaymentPort

log = logging.getLogger(__name__)

FAILED = "FAILED"


@dataclass
class Pass:
    """What one pass did."""

    sent: int = 0
    failed: int = 0
    waiting: int = 0


async def wait_for_card(
    conn: Connection,
    request: dict[str, Any],
    customer_id: str,
    wanted_card_id: str | None,
) -> None:
    """Keep a booking's request (BookingRequested's fields but `payment`) until its card is
    chosen; call in the booking's transaction."""
    await db.insert_awaiting_card(
        conn,
        request["booking_id"],
        request["user_id"],
        customer_id,
        wanted_card_id,
        to_jsonable_python(request),
    )
    CARD_WAITS.labels("waiting").inc()


async def resolve_once(
    pool: asyncpg.Pool,
    payment: PaymentPort,
    *,
    max_wait_s: float,
    producer: str,
    schema: str,
    batch: int = 200,
) -> Pass:
    """One pass over the waiting bookings, oldest first (see the module's docstring). Several
    gateway instances may run it at once: each booking is taken FOR UPDATE SKIP LOCKED and
    deleted in the transaction that publishes or fails it, so one instance decides it."""
    done = Pass()
    rows = await db.awaiting_card(pool, max_wait_s, batch)
    by_user: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        if row["expired"]:
            detail = (
                f"the payment service did not answer within {max_wait_s:.0f} s to choose the"
                " card; nothing was held or charged"
            )
            done.failed += await _decide(pool, row, None, "payment_unavailable", detail, schema)
        else:
            by_user[row["user_id"]].append(row)
    users = list(by_user.items())
    for i, (user_id, waiting) in enumerate(users):
        try:
            heard = await payment.list_cards(waiting[0]["customer_id"])
        except UpstreamUnavailable as exc:
            still = [r["booking_id"] for _, rs in users[i:] for r in rs]
            await db.note_card_tries(pool, still)
            done.waiting += len(still)
            log.info(
                "the payment service is still away: bookings keep waiting for their card",
                extra={"waiting": len(still), "error": str(exc)},
            )
            break
        except UpstreamRejected as exc:
            if exc.status != 404:  # 404: a customer it does not know, so no card on file
                log.warning(
                    "the payment service refused to list a user's cards; asked again next pass",
                    extra={"user_id": user_id, "status": exc.status},
                )
                done.waiting += len(waiting)
                continue
            heard = []
        cards = [Card.model_validate(c.model_dump()) for c in heard]
        # Heard now: the copy is exact again, and this user's next booking needs no call.
        await db.replace_card_copy(pool, user_id, [c.model_dump(mode="json") for c in heard])
        for row in waiting:
            wanted = row["wanted_card_id"]
            card = pick_card(cards, wanted)
            if card is not None:
                done.sent += await _decide(pool, row, card, "", "", schema, producer)
            elif wanted:
                detail = f"the card asked for ({wanted}) is not among your saved cards"
                done.failed += await _decide(
                    pool, row, None, "payment_method_not_found", detail, schema
                )
            else:
                detail = "no payment method on file: add a card (POST /v1/payment-methods)"
                done.failed += await _decide(
                    pool, row, None, "payment_method_required", detail, schema
                )
    return done


async def _decide(
    pool: asyncpg.Pool,
    row: asyncpg.Record,
    card: Card | None,
    code: str,
    detail: str,
    schema: str,
    producer: str = "",
) -> int:
    """Publish the booking's request with `card`, or fail the booking with `code`; 1 if this
    instance did it, 0 if another one had it or it was already decided."""
    booking_id = row["booking_id"]
    async with pool.acquire() as conn, conn.transaction():
        waiting = await db.take_awaiting_card(conn, booking_id)
        if waiting is None:
            return 0
        if card is None:
            await _fail(conn, booking_id, code, detail, schema)
        else:
            await _send(conn, waiting, card, producer, schema)
        await db.delete_awaiting_card(conn, booking_id)
    CARD_WAITS.labels("sent" if card is not None else code).inc()
    log.info(
        "booking card chosen; request sent" if card is not None else "booking failed: no card",
        extra={"booking_id": booking_id, "code": code or None},
    )
    return 1


async def _send(
    conn: Connection, waiting: asyncpg.Record, card: Card, producer: str, schema: str
) -> None:
    request: dict[str, Any] = db.loads(waiting["request"])
    message = BookingRequested.model_validate(
        {
            **request,
            "payment": {"customer_id": waiting["customer_id"], "payment_method_id": card.id},
        }
    )
    await db.update_booking(conn, message.booking_id, {"payment_method_id": card.id})
    env = await outbox.enqueue(conn, BOOKING_EVENTS, message, producer=producer, schema=schema)
    await reconcile.remember(conn, BOOKING_EVENTS, message, env)


async def _fail(conn: Connection, booking_id: str, code: str, detail: str, schema: str) -> None:
    reasons = [{"item_id": None, "code": code, "detail": detail}]
    await db.update_booking(
        conn, booking_id, {"state": FAILED, "outcome": FAILED, "failure_reasons": reasons}
    )
    # The timeline's outcome row, as a BookingFailed from the saga would write it: the event
    # stream ends with the reason.
    await db.add_timeline(
        conn,
        booking_id,
        "BookingFailed",
        FAILED,
        {"reasons": reasons},
        datetime.now(UTC),
        schema=schema,
    )
