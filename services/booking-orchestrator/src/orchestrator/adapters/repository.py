"""Postgres repository of sagas: rows <-> domain objects, history, parked messages, providers.

Every method runs on the caller's connection, inside the caller's transaction: the state
change, the history and the outbox rows of one input commit together.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from booking_shared.contracts import (
    BookingItem,
    Capabilities,
    Command,
    FailureReason,
    ProviderAnnounced,
    model_for,
)
from booking_shared.db import Connection
from booking_shared.money import Money
from orchestrator.domain.history import HistoryRow
from orchestrator.domain.model import (
    Exposure,
    Item,
    ItemStatus,
    Payment,
    Phase,
    ProviderInfo,
    Saga,
    SagaState,
    Step,
    StepStatus,
)
from orchestrator.domain.steps import voided
from orchestrator.metrics import observe_saved


def _money(minor: int | None, currency: str) -> Money | None:
    return None if minor is None else Money(amount_minor=minor, currency=currency)


def _minor(m: Money | None) -> int | None:
    return None if m is None else m.amount_minor


def _command(type_name: str, payload: str) -> Command:
    """A step's stored command, read back as its own model."""
    model = model_for(type_name)
    command = model.model_validate_json(payload) if model is not None else None
    if not isinstance(command, Command):
        raise ValueError(f"a stored step command of unknown type {type_name!r}")
    return command


class SagaRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # ---- providers ----------------------------------------------------------------------

    async def directory(self) -> dict[str, ProviderInfo]:
        rows = await self.conn.fetch("SELECT * FROM providers")
        return {
            r["name"]: ProviderInfo(
                name=r["name"],
                booking_types=tuple(r["booking_types"]),
                capabilities=Capabilities.model_validate_json(r["capabilities"]),
                commands_topic=r["commands_topic"],
                replies_topic=r["replies_topic"],
                announced_at=r["announced_at"],
            )
            for r in rows
        }

    async def record_provider(
        self, msg: ProviderAnnounced, announced_at: datetime, message_id: uuid.UUID
    ) -> bool:
        """Keep the newest announcement of each provider; an older one arriving late is ignored."""
        status = await self.conn.execute(
            """INSERT INTO providers (name, booking_types, capabilities, commands_topic, replies_topic, announced_at, message_id)
               VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7)
               ON CONFLICT (name) DO UPDATE SET booking_types = EXCLUDED.booking_types,
                 capabilities = EXCLUDED.capabilities, commands_topic = EXCLUDED.commands_topic,
                 replies_topic = EXCLUDED.replies_topic, announced_at = EXCLUDED.announced_at,
                 message_id = EXCLUDED.message_id
               WHERE providers.announced_at <= EXCLUDED.announced_at""",
            msg.provider,
            list(msg.booking_types),
            msg.capabilities.model_dump_json(),
            msg.commands_topic,
            msg.replies_topic,
            announced_at,
            message_id,
        )
        return status.endswith("1")

    # ---- sagas --------------------------------------------------------------------------

    async def exists(self, booking_id: str) -> bool:
        return bool(
            await self.conn.fetchval("SELECT 1 FROM sagas WHERE booking_id = $1", booking_id)
        )

    async def load(self, booking_id: str, *, lock: bool = True) -> Saga | None:
        # One round trip: the saga's row with its items, steps and timers as arrays of rows.
        row = await self.conn.fetchrow(
            """SELECT s.*,
                 array(SELECT i FROM saga_items i WHERE i.booking_id = s.booking_id
                        ORDER BY i.position) AS item_rows,
                 array(SELECT st FROM saga_steps st WHERE st.booking_id = s.booking_id
                        ORDER BY st.created_at, st.name) AS step_rows,
                 array(SELECT d FROM deadlines d WHERE d.booking_id = s.booking_id
                        AND d.name LIKE 'timer:%') AS timer_rows
               FROM sagas s WHERE s.booking_id = $1"""
            + (" FOR UPDATE OF s" if lock else ""),
            booking_id,
        )
        if row is None:
            return None
        cur = row["currency"]
        items = [
            Item(
                item_id=r["item_id"],
                provider=r["provider"],
                booking_type=r["booking_type"],
                commands_topic=r["commands_topic"],
                hold_capable=r["hold_capable"],
                hold_ttl_s=r["hold_ttl_s"],
                spec=BookingItem.model_validate_json(r["spec"]),
                price=Money(amount_minor=r["price_minor"], currency=r["currency"]),
                status=ItemStatus(r["status"]),
                exposure=Exposure(r["exposure"]),
                hold_id=r["hold_id"],
                hold_expires_at=r["hold_expires_at"],
                confirmation_code=r["confirmation_code"],
                partner_reference=r["partner_reference"],
                cancellation_policy=json.loads(r["cancellation_policy"])
                if r["cancellation_policy"]
                else None,
                refund=_money(r["refund_minor"], r["currency"]),
                fee=_money(r["fee_minor"], r["currency"]),
                failure=FailureReason.model_validate_json(r["failure"]) if r["failure"] else None,
            )
            for r in row["item_rows"]
        ]
        steps = {}
        for r in row["step_rows"]:
            steps[r["name"]] = Step(
                name=r["name"],
                kind=r["kind"],
                phase=Phase(r["phase"]),
                command=_command(r["command_type"], r["command"]),
                item_id=r["item_id"],
                status=StepStatus(r["status"]),
                attempts=r["attempts"],
                deadline_at=r["deadline_at"],
                reply=r["reply"],
                created_at=r["created_at"],
            )
        timers = {r["name"].removeprefix("timer:"): r["due_at"] for r in row["timer_rows"]}
        return Saga(
            booking_id=row["booking_id"],
            user_id=row["user_id"],
            quote_id=row["quote_id"],
            mode=row["mode"],
            definition_version=row["definition_version"],
            state=SagaState(row["state"]),
            total=Money(amount_minor=row["total_minor"], currency=cur),
            guest=row["guest"],
            payment=Payment(
                customer_id=row["customer_id"],
                payment_method_id=row["payment_method_id"],
                payment_intent_id=row["payment_intent_id"],
                authorized=_money(row["authorized_minor"], cur),
                captured=_money(row["captured_minor"], cur),
                refunded=_money(row["refunded_minor"], cur),
                capture_before=row["capture_before"],
                client_secret=row["client_secret"],
            ),
            items=items,
            requested_at=row["requested_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            state_changed_at=row["state_changed_at"],
            steps=steps,
            timers=timers,
            failure_reasons=[
                FailureReason.model_validate(f) for f in json.loads(row["failure_reasons"])
            ],
            paused=row["paused"],
            compensation_stage=row["compensation_stage"],
            cancel_requested=row["cancel_requested"],
            attention=row["attention"],
            attention_at=row["attention_at"],
            version=row["version"],
        )

    async def save(self, saga: Saga, before: Saga | None) -> None:
        """Write what changed since `before` (None: a new saga)."""
        if before is not None and saga == before:
            return
        observe_saved(saga, before)
        p = saga.payment
        saga.version = (before.version if before else 0) + 1
        await self.conn.execute(
            """INSERT INTO sagas (booking_id, user_id, quote_id, mode, state, paused, definition_version, version,
                 currency, total_minor, customer_id, payment_method_id, guest, payment_intent_id, authorized_minor,
                 captured_minor, refunded_minor, capture_before, client_secret, voided, failure_reasons, unwinding,
                 compensation_stage, cancel_requested, requested_at, created_at, updated_at, state_changed_at,
                 attention, attention_at)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21::jsonb,$22,$23,$24,$25,$26,$27,$28,
                 $29,$30)
               ON CONFLICT (booking_id) DO UPDATE SET state = EXCLUDED.state, paused = EXCLUDED.paused,
                 version = EXCLUDED.version, payment_intent_id = EXCLUDED.payment_intent_id,
                 authorized_minor = EXCLUDED.authorized_minor, captured_minor = EXCLUDED.captured_minor,
                 refunded_minor = EXCLUDED.refunded_minor, capture_before = EXCLUDED.capture_before,
                 client_secret = EXCLUDED.client_secret, voided = EXCLUDED.voided,
                 failure_reasons = EXCLUDED.failure_reasons, unwinding = EXCLUDED.unwinding,
                 compensation_stage = EXCLUDED.compensation_stage, cancel_requested = EXCLUDED.cancel_requested,
                 updated_at = EXCLUDED.updated_at, state_changed_at = EXCLUDED.state_changed_at,
                 attention = EXCLUDED.attention, attention_at = EXCLUDED.attention_at""",
            saga.booking_id,
            saga.user_id,
            saga.quote_id,
            saga.mode,
            saga.state.value,
            saga.paused,
            saga.definition_version,
            saga.version,
            saga.total.currency,
            saga.total.amount_minor,
            p.customer_id,
            p.payment_method_id,
            saga.guest,
            p.payment_intent_id,
            _minor(p.authorized),
            _minor(p.captured),
            _minor(p.refunded),
            p.capture_before,
            p.client_secret,
            voided(saga),  # derived; the columns are kept for readers of the table
            json.dumps([f.model_dump(mode="json") for f in saga.failure_reasons]),
            saga.unwinding,
            saga.compensation_stage,
            saga.cancel_requested,
            saga.requested_at,
            saga.created_at,
            saga.updated_at,
            saga.state_changed_at,
            saga.attention,
            saga.attention_at,
        )
        old_items = {it.item_id: it for it in before.items} if before else {}
        changed_items = [
            (pos, it) for pos, it in enumerate(saga.items) if old_items.get(it.item_id) != it
        ]
        if changed_items:
            await self.conn.executemany(
                """INSERT INTO saga_items (booking_id, item_id, position, provider, booking_type, commands_topic,
                     hold_capable, hold_ttl_s, spec, price_minor, currency, status, exposure, hold_id, hold_expires_at,
                     confirmation_code, partner_reference, cancellation_policy, refund_minor, fee_minor, failure)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9::jsonb,$10,$11,$12,$13,$14,$15,$16,$17,$18::jsonb,$19,$20,$21::jsonb)
                   ON CONFLICT (booking_id, item_id) DO UPDATE SET provider = EXCLUDED.provider,
                     commands_topic = EXCLUDED.commands_topic, hold_capable = EXCLUDED.hold_capable,
                     hold_ttl_s = EXCLUDED.hold_ttl_s, price_minor = EXCLUDED.price_minor,
                     currency = EXCLUDED.currency, status = EXCLUDED.status, exposure = EXCLUDED.exposure,
                     hold_id = EXCLUDED.hold_id, hold_expires_at = EXCLUDED.hold_expires_at,
                     confirmation_code = EXCLUDED.confirmation_code, partner_reference = EXCLUDED.partner_reference,
                     cancellation_policy = EXCLUDED.cancellation_policy, refund_minor = EXCLUDED.refund_minor,
                     fee_minor = EXCLUDED.fee_minor, failure = EXCLUDED.failure""",
                [
                    (
                        saga.booking_id,
                        it.item_id,
                        pos,
                        it.provider,
                        it.booking_type,
                        it.commands_topic,
                        it.hold_capable,
                        it.hold_ttl_s,
                        it.spec.model_dump_json(),
                        it.price.amount_minor,
                        it.price.currency,
                        it.status.value,
                        it.exposure.value,
                        it.hold_id,
                        it.hold_expires_at,
                        it.confirmation_code,
                        it.partner_reference,
                        json.dumps(it.cancellation_policy)
                        if it.cancellation_policy is not None
                        else None,
                        _minor(it.refund),
                        _minor(it.fee),
                        it.failure.model_dump_json() if it.failure else None,
                    )
                    for pos, it in changed_items
                ],
            )
        old_steps = before.steps if before else {}
        changed_steps = [st for name, st in saga.steps.items() if old_steps.get(name) != st]
        if changed_steps:
            await self.conn.executemany(
                """INSERT INTO saga_steps (booking_id, name, kind, phase, item_id, status, command_id, command_type,
                     command, attempts, deadline_at, reply, created_at)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9::jsonb,$10,$11,$12,$13)
                   ON CONFLICT (booking_id, name) DO UPDATE SET status = EXCLUDED.status,
                     attempts = EXCLUDED.attempts, deadline_at = EXCLUDED.deadline_at, reply = EXCLUDED.reply""",
                [
                    (
                        saga.booking_id,
                        st.name,
                        st.kind,
                        st.phase.value,
                        st.item_id,
                        st.status.value,
                        st.command_id,
                        st.command.type_name(),
                        st.command.model_dump_json(),
                        st.attempts,
                        st.deadline_at,
                        st.reply,
                        st.created_at or saga.updated_at,
                    )
                    for st in changed_steps
                ],
            )
        old_deadlines = before.deadlines() if before else {}
        new_deadlines = saga.deadlines()
        gone = [n for n in old_deadlines if n not in new_deadlines]
        if gone:
            await self.conn.execute(
                "DELETE FROM deadlines WHERE booking_id = $1 AND name = ANY($2::text[])",
                saga.booking_id,
                gone,
            )
        moved = [
            (saga.booking_id, n, due)
            for n, due in new_deadlines.items()
            if old_deadlines.get(n) != due
        ]
        if moved:
            await self.conn.executemany(
                """INSERT INTO deadlines (booking_id, name, due_at) VALUES ($1, $2, $3)
                   ON CONFLICT (booking_id, name) DO UPDATE SET due_at = EXCLUDED.due_at""",
                moved,
            )

    # ---- deadlines ----------------------------------------------------------------------

    async def lock_one_due(self, now: datetime, skip: list[str] | None = None) -> str | None:
        """A saga with a due deadline that nobody else is working on (several workers are safe)."""
        return await self.conn.fetchval(
            """SELECT s.booking_id FROM sagas s
               WHERE NOT s.paused AND s.booking_id <> ALL($2::text[])
                 AND EXISTS (SELECT 1 FROM deadlines d WHERE d.booking_id = s.booking_id AND d.due_at <= $1)
               ORDER BY s.updated_at
               LIMIT 1
               FOR UPDATE OF s SKIP LOCKED""",
            now,
            skip or [],
        )

    async def due_deadlines(self, booking_id: str, now: datetime) -> list[str]:
        rows = await self.conn.fetch(
            "SELECT name FROM deadlines WHERE booking_id = $1 AND due_at <= $2 ORDER BY due_at, name",
            booking_id,
            now,
        )
        return [r["name"] for r in rows]

    # ---- history and parked messages ------------------------------------------------------

    _HISTORY_SQL = (
        "INSERT INTO saga_history (booking_id, at, direction, topic, type, message_id, summary)"
        " VALUES ($1, coalesce($2, clock_timestamp()), $3, $4, $5, $6, $7)"
    )

    async def record_many(self, rows: list[HistoryRow]) -> None:
        """Several history rows in one round trip, in the order given."""
        if rows:
            await self.conn.executemany(self._HISTORY_SQL, rows)

    async def park(
        self, booking_id: str, topic: str, type_: str, message_id: uuid.UUID, payload: str
    ) -> None:
        await self.conn.execute(
            "INSERT INTO parked_messages (booking_id, topic, type, message_id, payload) VALUES ($1, $2, $3, $4, $5)",
            booking_id,
            topic,
            type_,
            message_id,
            payload,
        )

    async def take_parked(self, booking_id: str) -> list[asyncpg.Record]:
        return await self.conn.fetch(
            "DELETE FROM parked_messages WHERE booking_id = $1 RETURNING id, topic, type, message_id, payload",
            booking_id,
        )

    # ---- reads for the internal API ---------------------------------------------------------

    async def history(self, booking_id: str, limit: int = 1000) -> list[asyncpg.Record]:
        return await self.conn.fetch(
            "SELECT at, direction, topic, type, message_id, summary FROM saga_history"
            " WHERE booking_id = $1 ORDER BY id LIMIT $2",
            booking_id,
            limit,
        )

    async def search(
        self,
        *,
        state: str | None,
        older_than: datetime | None,
        user_id: str | None,
        limit: int,
        offset: int,
        provider: str | None = None,
    ) -> tuple[list[asyncpg.Record], int]:
        where: list[str] = []
        args: list[object] = []
        if state:
            args.append(state)
            where.append(f"s.state = ${len(args)}")
        if older_than:
            args.append(older_than)
            # A saga flagged for operators is stuck however busy its resends keep it.
            where.append(f"(s.updated_at <= ${len(args)} OR s.attention IS NOT NULL)")
        if user_id:
            args.append(user_id)
            where.append(f"s.user_id = ${len(args)}")
        if provider:
            args.append(provider)
            where.append(_AT_PROVIDER.format(n=len(args)))
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        total = await self.conn.fetchval(f"SELECT count(*) FROM sagas s{clause}", *args)
        rows = await self.conn.fetch(
            f"SELECT {_SUMMARY_COLS} FROM sagas s{clause}"
            f" ORDER BY s.updated_at, s.booking_id LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
            *args,
            limit,
            offset,
        )
        return rows, total

    async def stuck(
        self,
        *,
        now: datetime,
        compensating_since: datetime,
        provider: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[asyncpg.Record], int]:
        """Sagas that need an operator's eye, most urgent first: COMPENSATION_FAILED, flagged
        for operators, a step past its deadline, COMPENSATING since before `compensating_since`.

        A step is past its deadline when its persisted deadline has passed without the deadline
        worker acting on it (the worker is down or behind, or the saga is paused), or when it has
        already been resent because a deadline passed with no answer (attempts > 1): either way
        the command has gone unanswered for longer than the saga allows."""
        args: list[Any] = [now, compensating_since]
        where = "rank IS NOT NULL"
        if provider:
            args.append(provider)
            where += " AND " + _AT_PROVIDER.format(n=len(args))
        query = f"""
            WITH overdue AS (
                SELECT DISTINCT ON (st.booking_id) st.booking_id, st.name, st.command_type,
                       st.attempts, st.deadline_at, st.created_at
                FROM saga_steps st
                WHERE st.status = 'SENT' AND st.deadline_at IS NOT NULL
                  AND (st.deadline_at <= $1 OR st.attempts > 1)
                ORDER BY st.booking_id, st.created_at, st.name
            ), ranked AS (
                SELECT s.*, o.name AS step_name, o.command_type AS step_command,
                       o.attempts AS step_attempts, o.deadline_at AS step_deadline_at,
                       o.created_at AS step_sent_at,
                       CASE WHEN s.state = 'COMPENSATION_FAILED' THEN 0
                            WHEN s.attention IS NOT NULL THEN 1
                            WHEN o.booking_id IS NOT NULL THEN 2
                            WHEN s.state = 'COMPENSATING' AND s.state_changed_at <= $2 THEN 3
                       END AS rank
                FROM sagas s LEFT JOIN overdue o ON o.booking_id = s.booking_id
            )
            SELECT * FROM ranked s WHERE {where}"""
        total = await self.conn.fetchval(f"SELECT count(*) FROM ({query}) q", *args)
        rows = await self.conn.fetch(
            f"""SELECT {_SUMMARY_COLS}, s.rank, s.step_name, s.step_command, s.step_attempts,
                   s.step_deadline_at, s.step_sent_at,
                   CASE s.rank WHEN 1 THEN s.attention_at WHEN 2 THEN s.step_sent_at
                        ELSE s.state_changed_at END AS since
                FROM ({query}) s
                ORDER BY s.rank, since, s.booking_id
                LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}""",
            *args,
            limit,
            offset,
        )
        return rows, total


# The provider of an item: the one it was routed to, or, not routed yet, those that declared its
# booking type (the providers' own announcements, the table routing reads).
_ITEM_PROVIDERS = """SELECT coalesce(nullif(i.provider, ''), p.name) AS name
    FROM saga_items i LEFT JOIN providers p
      ON i.provider = '' AND i.booking_type = ANY (p.booking_types)
         AND (p.capabilities ->> 'api_book')::boolean
    WHERE i.booking_id = s.booking_id"""
_AT_PROVIDER = "EXISTS (SELECT 1 FROM (" + _ITEM_PROVIDERS + ") ip WHERE ip.name = ${n})"
_SUMMARY_COLS = (
    "s.booking_id, s.user_id, s.state, s.mode, s.paused, s.definition_version, s.currency,"
    " s.total_minor, s.created_at, s.updated_at, s.state_changed_at, s.attention, s.attention_at,"
    " ARRAY(SELECT DISTINCT ip.name FROM (" + _ITEM_PROVIDERS + ") ip"
    " WHERE ip.name IS NOT NULL ORDER BY ip.name) AS providers"
)


def row_money(minor: int | None, currency: str) -> dict[str, Any] | None:
    return None if minor is None else {"amount_minor": minor, "currency": currency}
