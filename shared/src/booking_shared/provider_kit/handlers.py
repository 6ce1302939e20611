"""HoldItem, ConfirmItem, CancelItem: one partner effect per command id, one reply, replayed
unchanged when the same command comes again (a saga resend after a deadline)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from booking_shared.contracts import (
    BookingItem,
    CancelItem,
    ConfirmItem,
    HoldItem,
    ItemCancelled,
    ItemConfirmed,
    ItemHeld,
    ItemHoldLapsed,
    ItemRejected,
    Reply,
    model_for,
)
from booking_shared.contracts.provider import RejectReason
from booking_shared.db import Connection
from booking_shared.messaging import Handling
from booking_shared.money import Money
from booking_shared.outbox import enqueue
from booking_shared.provider_kit.port import HoldOutcome, PartnerPort, PartnerUnavailable
from booking_shared.sealed import GuestContact, SealError, unseal

log = logging.getLogger(__name__)

NO_CURRENCY = "XXX"  # ISO 4217's "no currency", for amounts of nothing


@dataclass(frozen=True)
class Deps:
    """What a provider service's use cases and routes need, built once by its wiring."""

    port: PartnerPort
    commands_topic: str
    replies_topic: str
    guest_data_key: str = field(repr=False)  # opens the sealed guest details of ConfirmItem


def reference(booking_id: str, item_id: str) -> str:
    """Our id for one item at the partner (used to find a booking after a lost answer)."""
    return f"{booking_id}:{item_id}"


async def _replayed(h: Handling, command_id: Any, replies_topic: str) -> bool:
    row = await h.conn.fetchrow(
        "SELECT reply_type, reply_payload FROM commands WHERE command_id = $1", command_id
    )
    if row is None:
        return False
    model = model_for(row["reply_type"])
    assert model is not None
    await h.publish(replies_topic, model.model_validate_json(row["reply_payload"]))
    return True


async def _answer(h: Handling, item_id: str, reply: Reply, replies_topic: str) -> None:
    await h.conn.execute(
        "INSERT INTO commands (command_id, booking_id, item_id, command_type, reply_type, reply_payload)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        reply.command_id,
        reply.booking_id,
        item_id,
        h.envelope.type,
        reply.type_name(),
        reply.model_dump_json(),
    )
    await h.publish(replies_topic, reply)


async def _item_row(conn: Connection, booking_id: str, item_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM items WHERE booking_id = $1 AND item_id = $2 FOR UPDATE", booking_id, item_id
    )


def _money(row: asyncpg.Record, column: str) -> Money:
    return Money(amount_minor=row[column] or 0, currency=row["currency"] or NO_CURRENCY)


async def hold_item(h: Handling, port: PartnerPort, replies_topic: str) -> None:
    cmd = h.message_as(HoldItem)
    if await _replayed(h, cmd.command_id, replies_topic):
        return
    item = cmd.item
    row = await _item_row(h.conn, cmd.booking_id, item.id)
    now = datetime.now(UTC)
    if row is not None and row["status"] == "CANCELLED":
        outcome = HoldOutcome(
            ok=False, reason_code="invalid_item", detail="the item was already cancelled"
        )
    elif (
        row is not None
        and row["status"] == "HELD"
        and (row["hold_expires_at"] is None or row["hold_expires_at"] > now)
    ):
        # Another hold command for an item we already hold: reuse the live hold, never lock twice.
        outcome = HoldOutcome(
            ok=True,
            price=_money(row, "price_minor"),
            hold_id=row["hold_id"],
            expires_at=row["hold_expires_at"],
            partner_status=row["partner_status"],
        )
    else:
        try:
            outcome = await port.hold(
                item, key=str(cmd.command_id), reference=reference(cmd.booking_id, item.id)
            )
        except PartnerUnavailable as exc:
            outcome = HoldOutcome(ok=False, reason_code="partner_unavailable", detail=str(exc))
    status = "HELD" if outcome.ok else "REJECTED"
    price = outcome.price or item.line_total()
    await h.conn.execute(
        """INSERT INTO items (booking_id, item_id, item, status, partner_status, hold_id, hold_expires_at,
                              price_minor, currency, reason_code)
           VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (booking_id, item_id) DO UPDATE SET
             item = EXCLUDED.item, status = EXCLUDED.status, partner_status = EXCLUDED.partner_status,
             hold_id = EXCLUDED.hold_id, hold_expires_at = EXCLUDED.hold_expires_at,
             price_minor = EXCLUDED.price_minor, currency = EXCLUDED.currency,
             reason_code = EXCLUDED.reason_code, updated_at = now()""",
        cmd.booking_id,
        item.id,
        item.model_dump_json(),
        status,
        outcome.partner_status,
        outcome.hold_id,
        outcome.expires_at,
        price.amount_minor,
        price.currency,
        outcome.reason_code,
    )
    reply: Reply
    if outcome.ok:
        reply = ItemHeld(
            booking_id=cmd.booking_id,
            command_id=cmd.command_id,
            item_id=item.id,
            hold_id=outcome.hold_id,
            expires_at=outcome.expires_at,
            price=price,
        )
    else:
        reply = ItemRejected(
            booking_id=cmd.booking_id,
            command_id=cmd.command_id,
            item_id=item.id,
            reason_code=outcome.reason_code or "slot_unavailable",
            detail=outcome.detail,
            partner_code=outcome.partner_status,
        )
    await _answer(h, item.id, reply, replies_topic)


async def confirm_item(h: Handling, port: PartnerPort, replies_topic: str, guest_key: str) -> None:
    cmd = h.message_as(ConfirmItem)
    if await _replayed(h, cmd.command_id, replies_topic):
        return
    item = cmd.item
    row = await _item_row(h.conn, cmd.booking_id, item.id)

    def rejected(code: RejectReason, detail: str, partner: str | None = None) -> ItemRejected:
        return ItemRejected(
            booking_id=cmd.booking_id,
            command_id=cmd.command_id,
            item_id=item.id,
            reason_code=code,
            detail=detail,
            partner_code=partner,
        )

    reply: Reply
    if row is None:
        reply = rejected("not_found", "the item was never held")
    elif row["status"] == "CONFIRMED":
        reply = _confirmed_from_row(cmd, row)
    elif row["status"] != "HELD":
        reply = rejected(
            row["reason_code"] or "hold_expired", f"the item is {row['status'].lower()}"
        )
    else:
        try:
            guest = unseal(cmd.guest, guest_key)
        except SealError as exc:
            guest, reply = None, rejected("invalid_item", str(exc))
        if guest is not None and (refused := _guest_refused(port, guest)):
            # The partner would refuse this guest (the gateway checks the same declaration, so
            # only a producer that skipped it gets here): never send it, give the hold back.
            await _release_quietly(
                port, item, row["hold_id"], key=f"{cmd.command_id}:refused-guest"
            )
            await h.conn.execute(
                "UPDATE items SET status = 'REJECTED', reason_code = 'invalid_item', updated_at = now()"
                " WHERE booking_id = $1 AND item_id = $2",
                cmd.booking_id,
                item.id,
            )
            reply = rejected("invalid_item", refused)
        elif guest is not None:
            outcome = (
                await port.confirm(  # PartnerUnavailable propagates: retried, then the saga resends
                    item,
                    row["hold_id"],
                    guest,
                    key=str(cmd.command_id),
                    reference=reference(cmd.booking_id, item.id),
                )
            )
            if outcome.ok:
                price = outcome.price or _money(row, "price_minor")
                policy = outcome.policy
                await h.conn.execute(
                    """UPDATE items SET status = 'CONFIRMED', partner_status = $3, confirmation_code = $4,
                         partner_reference = $5, price_minor = $6, currency = $7, cancellation_policy = $8::jsonb,
                         updated_at = now() WHERE booking_id = $1 AND item_id = $2""",
                    cmd.booking_id,
                    item.id,
                    outcome.partner_status,
                    outcome.confirmation_code,
                    outcome.partner_reference,
                    price.amount_minor,
                    price.currency,
                    policy.model_dump_json() if policy else None,
                )
                row = await _item_row(h.conn, cmd.booking_id, item.id)
                assert row is not None
                reply = _confirmed_from_row(cmd, row)
            else:
                await h.conn.execute(
                    "UPDATE items SET status = 'REJECTED', partner_status = $3, reason_code = $4, updated_at = now()"
                    " WHERE booking_id = $1 AND item_id = $2",
                    cmd.booking_id,
                    item.id,
                    outcome.partner_status,
                    outcome.reason_code,
                )
                reply = rejected(
                    outcome.reason_code or "slot_taken", outcome.detail, outcome.partner_status
                )
    await _answer(h, item.id, reply, replies_topic)


def _guest_refused(port: PartnerPort, guest: GuestContact) -> str | None:
    """What the partner would refuse in the guest, by the requirements the port declares."""
    declared = port.capabilities.guest_requirements
    problems = declared.problems(guest.model_dump()) if declared else []
    return "; ".join(f"guest.{p.field}: {p.message}" for p in problems) or None


async def _release_quietly(
    port: PartnerPort, item: BookingItem, hold_id: str | None, *, key: str
) -> None:
    if not hold_id:
        return
    try:
        await port.release(item, hold_id, key=key)
    except Exception as exc:  # the hold lapses at the partner on its own
        log.warning(
            "could not release a hold after refusing its guest",
            extra={"hold_id": hold_id, "error": repr(exc)},
        )


def _confirmed_from_row(cmd: ConfirmItem, row: asyncpg.Record) -> ItemConfirmed:
    from booking_shared.contracts import CancellationPolicy

    policy = (
        CancellationPolicy.model_validate_json(row["cancellation_policy"])
        if row["cancellation_policy"]
        else CancellationPolicy(summary="See the partner's terms.")
    )
    return ItemConfirmed(
        booking_id=cmd.booking_id,
        command_id=cmd.command_id,
        item_id=row["item_id"],
        confirmation_code=row["confirmation_code"],
        partner_reference=row["partner_reference"],
        price=_money(row, "price_minor"),
        cancellation_policy=policy,
    )


async def cancel_item(h: Handling, port: PartnerPort, replies_topic: str) -> None:
    cmd = h.message_as(CancelItem)
    if await _replayed(h, cmd.command_id, replies_topic):
        return
    row = await _item_row(h.conn, cmd.booking_id, cmd.item_id)
    was_confirmed = False
    if row is None:
        # Nothing held (yet): leave a tombstone so that a late HoldItem does not hold it.
        await h.conn.execute(
            "INSERT INTO items (booking_id, item_id, item, status, reason_code) VALUES ($1, $2, '{}'::jsonb, 'CANCELLED', 'cancelled_before_hold')",
            cmd.booking_id,
            cmd.item_id,
        )
        refund = fee = Money.zero(NO_CURRENCY)
    elif row["status"] == "HELD":
        item = BookingItem.model_validate_json(row["item"])
        if row["hold_id"]:
            await port.release(item, row["hold_id"], key=str(cmd.command_id))
        refund = fee = Money.zero(row["currency"] or NO_CURRENCY)
        await _set_cancelled(h.conn, cmd, "released", refund, fee)
    elif row["status"] == "CONFIRMED":
        item = BookingItem.model_validate_json(row["item"])
        out = await port.cancel(item, row["partner_reference"], key=str(cmd.command_id))
        if not out.cancelled:
            # A definite no from the partner: the booking stands (still CONFIRMED here, so a
            # later CancelItem asks the partner again), and the saga hears it as a typed reply.
            await h.conn.execute(
                "UPDATE items SET partner_status = $3, reason_code = 'not_cancellable', updated_at = now()"
                " WHERE booking_id = $1 AND item_id = $2",
                cmd.booking_id,
                cmd.item_id,
                out.partner_status,
            )
            log.info(
                "partner refused to cancel",
                extra={
                    "booking_id": cmd.booking_id,
                    "item_id": cmd.item_id,
                    "partner_status": out.partner_status,
                },
            )
            refusal = ItemRejected(
                booking_id=cmd.booking_id,
                command_id=cmd.command_id,
                item_id=cmd.item_id,
                reason_code="not_cancellable",
                detail=out.detail[:500],
                partner_code=out.partner_status,
            )
            await _answer(h, cmd.item_id, refusal, replies_topic)
            return
        refund, fee, was_confirmed = out.refund, out.fee, True
        await _set_cancelled(h.conn, cmd, out.partner_status, refund, fee)
    else:  # already cancelled, rejected or failed: nothing to undo
        was_confirmed = row["refund_minor"] is not None and row["confirmation_code"] is not None
        refund, fee = _money(row, "refund_minor"), _money(row, "fee_minor")
    reply = ItemCancelled(
        booking_id=cmd.booking_id,
        command_id=cmd.command_id,
        item_id=cmd.item_id,
        was_confirmed=was_confirmed,
        refund=refund,
        fee=fee,
    )
    await _answer(h, cmd.item_id, reply, replies_topic)


async def _set_cancelled(
    conn: Connection, cmd: CancelItem, partner_status: str | None, refund: Money, fee: Money
) -> None:
    await conn.execute(
        "UPDATE items SET status = 'CANCELLED', partner_status = $3, refund_minor = $4, fee_minor = $5,"
        " updated_at = now() WHERE booking_id = $1 AND item_id = $2",
        cmd.booking_id,
        cmd.item_id,
        partner_status,
        refund.amount_minor,
        fee.amount_minor,
    )


async def sweep_lapsed_holds(
    pool: asyncpg.Pool, *, replies_topic: str, producer: str, schema: str
) -> int:
    """Mark holds whose expiry passed as REJECTED (hold_expired) and report each one."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """UPDATE items SET status = 'REJECTED', partner_status = 'hold_expired', reason_code = 'hold_expired',
                 updated_at = now()
               WHERE (booking_id, item_id) IN (
                 SELECT booking_id, item_id FROM items
                 WHERE status = 'HELD' AND hold_expires_at < now() FOR UPDATE SKIP LOCKED)
               RETURNING booking_id, item_id, hold_id, hold_expires_at"""
        )
        for r in rows:
            log.info("hold lapsed", extra={"booking_id": r["booking_id"], "item_id": r["item_id"]})
            await enqueue(
                conn,
                replies_topic,
                ItemHoldLapsed(
                    booking_id=r["booking_id"],
                    item_id=r["item_id"],
                    hold_id=r["hold_id"],
                    expired_at=r["hold_expires_at"] or datetime.now(UTC),
                ),
                producer=producer,
                schema=schema,
            )
    return len(rows)


def item_view(row: asyncpg.Record) -> dict[str, Any]:
    def money(col: str) -> dict[str, Any] | None:
        if row[col] is None:
            return None
        return {"amount_minor": row[col], "currency": row["currency"]}

    return {
        "item_id": row["item_id"],
        "status": row["status"],
        "partner_status": row["partner_status"],
        "confirmation_code": row["confirmation_code"],
        "partner_reference": row["partner_reference"],
        "hold_id": row["hold_id"],
        "hold_expires_at": row["hold_expires_at"].isoformat() if row["hold_expires_at"] else None,
        "price": money("price_minor"),
        "refund": money("refund_minor"),
        "fee": money("fee_minor"),
        "reason_code": row["reason_code"],
        "cancellation_policy": json.loads(row["cancellation_policy"])
        if row["cancellation_policy"]
        else None,
    }
