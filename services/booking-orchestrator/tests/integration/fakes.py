"""Tiny fake participants for the orchestrator's integration tests: one consumer that plays the
payment service and two providers on the real broker, answering commands by a per-booking
script, and keeping its own records (what is held, booked, authorized, captured, refunded)
so tests check the invariants against the participants, not only against the saga tables.

Like the real services, a fake answers a command id once and replays that answer when the
same command comes again."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from booking_shared.contracts import (
    AuthorizePayment,
    CancelItem,
    CancellationPolicy,
    Capabilities,
    CapturePayment,
    Command,
    ConfirmItem,
    Envelope,
    HoldItem,
    ItemCancelled,
    ItemConfirmed,
    ItemHeld,
    ItemRejected,
    Message,
    PaymentActionRequired,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PaymentFailed,
    PaymentRefunded,
    PaymentVoided,
    ProviderAnnounced,
    RefundPayment,
    Reply,
    VoidPayment,
    model_for,
)
from booking_shared.contracts.topics import (
    BOOKING_EVENTS,
    PAYMENT_COMMANDS,
    PAYMENT_REPLIES,
    PROVIDER_REGISTRY,
    SAGA_STATE,
    provider_commands,
    provider_replies,
)
from booking_shared.money import Money


@dataclass
class Act:
    """How a fake answers one command of one booking."""

    kind: str = "ok"  # ok | reject | decline | action_required | fail | silent | manual
    code: str = ""
    silent_for: int | None = None  # silent: ignore the first n sends (None: all of them)
    delay_s: float = 0.0  # answer this much later (a late reply)
    copies: int = 1  # publish the answer this many times, each with its own message id
    refund: int | None = None  # CancelItem of a booked item: refund in minor units (default: all)


@dataclass
class ProviderSpec:
    name: str
    booking_types: list[str]
    capabilities: Capabilities


@dataclass
class Seen:
    topic: str
    envelope: Envelope
    message: Command


@dataclass
class Fakes:
    bootstrap: str
    providers: list[ProviderSpec]
    prefix: str  # only bookings whose id starts with this are answered
    scripts: dict[str, dict[str, Act]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    events: list[tuple[str, Envelope, Message]] = field(default_factory=list)
    # The participants' own records.
    items: dict[tuple[str, str], str] = field(
        default_factory=dict
    )  # (booking, item) -> HELD|BOOKED|RELEASED|CANCELLED
    payments: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    _answers: dict[uuid.UUID, list[Reply]] = field(default_factory=dict)
    _sends: dict[uuid.UUID, int] = field(default_factory=lambda: defaultdict(int))
    _manual: dict[tuple[str, str], Seen] = field(default_factory=dict)
    _tasks: set[asyncio.Task] = field(default_factory=set)
    _extra_consumers: list[AIOKafkaConsumer] = field(default_factory=list)

    async def start(self) -> None:
        topics = [PAYMENT_COMMANDS, BOOKING_EVENTS, SAGA_STATE] + [
            provider_commands(p.name) for p in self.providers
        ]
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, enable_idempotence=False, linger_ms=0
        )
        await self.producer.start()
        # No consumer group: every partition at once, no group join to wait for.
        self.consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=self.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=5,
        )
        await self.consumer.start()
        self._loop = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._loop.cancel()
        for t in [self._loop, *self._tasks]:
            t.cancel()
            with contextlib.suppress(BaseException):
                await t
        for c in [self.consumer, *self._extra_consumers]:
            await c.stop()
        await self.producer.stop()

    async def add_provider(self, spec: ProviderSpec) -> None:
        """A provider that starts later: answer its commands topic too (which must exist by
        now: a consumer asking for a missing topic would have the dev broker create it)."""
        self.providers.append(spec)
        consumer = AIOKafkaConsumer(
            provider_commands(spec.name),
            bootstrap_servers=self.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=5,
        )
        await consumer.start()
        self._extra_consumers.append(consumer)
        task = asyncio.create_task(self._consume(consumer))
        self._tasks.add(task)

    async def announce(self, only: list[ProviderSpec] | None = None) -> None:
        for p in only or self.providers:
            await self._publish(
                PROVIDER_REGISTRY,
                ProviderAnnounced(
                    booking_id=p.name,
                    provider=p.name,
                    booking_types=p.booking_types,
                    capabilities=p.capabilities,
                    commands_topic=provider_commands(p.name),
                    replies_topic=provider_replies(p.name),
                ),
                None,
            )

    def script(self, booking_id: str, acts: dict[str, Act]) -> None:
        """Keys: 'HoldItem:item-1', 'ConfirmItem:item-2', 'CancelItem:item-1', 'AuthorizePayment',
        'CapturePayment', 'VoidPayment', 'RefundPayment', or '*' (every command)."""
        self.scripts[booking_id] = dict(acts)

    # ---- what tests look at ------------------------------------------------------------------

    def commands(
        self, booking_id: str, type_: str | None = None, item_id: str | None = None
    ) -> list[Command]:
        out = []
        for s in self.seen:
            m = s.message
            if m.booking_id != booking_id or (type_ and m.type_name() != type_):
                continue
            if item_id and _item_of(m) != item_id:
                continue
            out.append(m)
        return out

    def published(self, booking_id: str, type_: str) -> list[Message]:
        return [m for _, env, m in self.events if m.booking_id == booking_id and env.type == type_]

    def active(self, booking_id: str) -> dict[str, str]:
        """Items the partners still hold or have booked for this booking."""
        return {
            i: s for (b, i), s in self.items.items() if b == booking_id and s in ("HELD", "BOOKED")
        }

    def money(self, booking_id: str) -> dict[str, int]:
        return dict(self.payments[booking_id])

    async def release(self, booking_id: str, key: str, act: Act | None = None) -> None:
        """Answer a command held back by Act('manual')."""
        seen = self._manual.pop((booking_id, key))
        await self._answer(seen, act or Act())

    async def complete_3ds(self, booking_id: str) -> None:
        """The customer finished 3-D Secure: the payment service answers the same command again."""
        auth = self.commands(booking_id, "AuthorizePayment")[-1]
        assert isinstance(auth, AuthorizePayment)
        self.payments[booking_id]["authorized"] = auth.amount.amount_minor
        reply = PaymentAuthorized(
            booking_id=booking_id,
            command_id=auth.command_id,
            payment_intent_id=f"pi_{booking_id}",
            amount_capturable=auth.amount,
            capture_before=datetime.now(UTC) + timedelta(days=7),
        )
        self._answers[auth.command_id] = [reply]
        await self._publish(PAYMENT_REPLIES, reply, None)

    async def inject(
        self,
        topic: str,
        message: Message,
        cause: Envelope | None = None,
        envelope: Envelope | None = None,
    ) -> Envelope:
        return await self._publish(topic, message, cause, envelope)

    # ---- the loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        await self._consume(self.consumer)

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        async for record in consumer:
            if not record.key or not record.key.decode().startswith(self.prefix):
                continue
            try:
                env = Envelope.from_headers(record.headers)
                model = model_for(env.type)
                if model is None:
                    continue
                msg = model.model_validate_json(record.value)
            except Exception:
                continue
            if record.topic in (BOOKING_EVENTS, SAGA_STATE):
                self.events.append((record.topic, env, msg))
                continue
            seen = Seen(record.topic, env, msg)  # type: ignore[arg-type]
            self.seen.append(seen)
            self._sends[msg.command_id] += 1  # type: ignore[attr-defined]
            act = self._act_for(msg)
            if act.kind == "silent" and (
                act.silent_for is None or self._sends[msg.command_id] <= act.silent_for
            ):  # type: ignore[attr-defined]
                continue
            if msg.command_id in self._answers:  # type: ignore[attr-defined]
                for r in self._answers[msg.command_id]:  # type: ignore[attr-defined]
                    await self._publish(self._replies_topic(record.topic), r, env)
                continue
            if act.kind == "manual":
                self._manual[(msg.booking_id, _key(msg))] = seen
                continue
            await self._answer(seen, act)

    def _act_for(self, msg: Message) -> Act:
        script = self.scripts.get(msg.booking_id, {})
        return script.get(_key(msg)) or script.get("*") or Act()

    def _replies_topic(self, commands_topic: str) -> str:
        if commands_topic == PAYMENT_COMMANDS:
            return PAYMENT_REPLIES
        name = commands_topic.split(".")[1]
        return provider_replies(name)

    async def _answer(self, seen: Seen, act: Act) -> None:
        replies = self._decide(seen.message, act)
        if not replies:
            return
        self._answers[seen.message.command_id] = replies
        topic = self._replies_topic(seen.topic)

        async def send() -> None:
            if act.delay_s:
                await asyncio.sleep(act.delay_s)
            for r in replies:
                for _ in range(act.copies):
                    await self._publish(topic, r, seen.envelope)

        if act.delay_s:
            task = asyncio.create_task(send())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            await send()

    def _decide(self, m: Command, act: Act) -> list[Reply]:
        b = m.booking_id
        pay = self.payments[b]
        if isinstance(m, HoldItem):
            item = m.item
            if act.kind == "reject":
                return [
                    ItemRejected(
                        booking_id=b,
                        command_id=m.command_id,
                        item_id=item.id,
                        reason_code=act.code or "slot_unavailable",
                    )
                ]  # type: ignore[arg-type]
            hold = self._provider_for(m).capabilities.hold
            if hold:
                self.items[(b, item.id)] = "HELD"
            return [
                ItemHeld(
                    booking_id=b,
                    command_id=m.command_id,
                    item_id=item.id,
                    hold_id=f"h-{item.id}" if hold else None,
                    expires_at=datetime.now(UTC) + timedelta(minutes=3) if hold else None,
                    price=item.line_total(),
                )
            ]
        if isinstance(m, ConfirmItem):
            item = m.item
            if act.kind == "reject":
                return [
                    ItemRejected(
                        booking_id=b,
                        command_id=m.command_id,
                        item_id=item.id,
                        reason_code=act.code or "slot_taken",
                    )
                ]  # type: ignore[arg-type]
            assert m.guest, "the sealed guest must reach the provider"
            self.items[(b, item.id)] = "BOOKED"
            return [
                ItemConfirmed(
                    booking_id=b,
                    command_id=m.command_id,
                    item_id=item.id,
                    confirmation_code=f"CONF-{item.id}",
                    partner_reference=f"ref-{b}-{item.id}",
                    price=item.line_total(),
                    cancellation_policy=CancellationPolicy(summary="Free until the day before."),
                )
            ]
        if isinstance(m, CancelItem):
            state = self.items.get((b, m.item_id))
            booked = state == "BOOKED"
            if act.kind == "reject" and booked:  # the partner will not cancel: it stays booked
                return [
                    ItemRejected(
                        booking_id=b,
                        command_id=m.command_id,
                        item_id=m.item_id,
                        reason_code=act.code or "not_cancellable",  # type: ignore[arg-type]
                        detail="the cancellation window has closed",
                        partner_code="Seated",
                    )
                ]
            self.items[(b, m.item_id)] = "CANCELLED" if booked else "RELEASED"
            price = self._price(b, m.item_id)
            refund = price if act.refund is None else act.refund
            cur = "EUR" if booked else "XXX"
            return [
                ItemCancelled(
                    booking_id=b,
                    command_id=m.command_id,
                    item_id=m.item_id,
                    was_confirmed=booked,
                    refund=Money(amount_minor=refund if booked else 0, currency=cur),
                    fee=Money(amount_minor=(price - refund) if booked else 0, currency=cur),
                )
            ]
        if isinstance(m, AuthorizePayment):
            if act.kind == "decline":
                return [
                    PaymentDeclined(
                        booking_id=b,
                        command_id=m.command_id,
                        decline_code=act.code or "card_declined",
                    )
                ]
            if act.kind == "action_required":
                return [
                    PaymentActionRequired(
                        booking_id=b,
                        command_id=m.command_id,
                        payment_intent_id=f"pi_{b}",
                        client_secret=f"pi_{b}_secret_3ds",
                    )
                ]
            pay["authorized"] = m.amount.amount_minor
            return [
                PaymentAuthorized(
                    booking_id=b,
                    command_id=m.command_id,
                    payment_intent_id=f"pi_{b}",
                    amount_capturable=m.amount,
                    capture_before=datetime.now(UTC) + timedelta(days=7),
                )
            ]
        if isinstance(m, CapturePayment):
            if act.kind == "fail":
                return [
                    PaymentFailed(
                        booking_id=b,
                        command_id=m.command_id,
                        operation="capture",
                        code=act.code or "card_declined",
                    )
                ]
            amount = m.amount.amount_minor if m.amount else pay["authorized"]
            assert amount <= pay["authorized"], "never capture more than authorized"
            pay["captured"] += amount
            pay["authorized"] = 0  # a capture releases the rest of the hold
            return [
                PaymentCaptured(
                    booking_id=b,
                    command_id=m.command_id,
                    amount_captured=Money(amount_minor=amount, currency="EUR"),
                )
            ]
        if isinstance(m, VoidPayment):
            pay["voided"] += 1
            pay["authorized"] = 0
            return [PaymentVoided(booking_id=b, command_id=m.command_id)]
        if isinstance(m, RefundPayment):
            if m.amount.amount_minor > pay["captured"] - pay["refunded"]:
                return [
                    PaymentFailed(
                        booking_id=b,
                        command_id=m.command_id,
                        operation="refund",
                        code="refund_exceeds_captured",
                    )
                ]
            pay["refunded"] += m.amount.amount_minor
            return [
                PaymentRefunded(
                    booking_id=b,
                    command_id=m.command_id,
                    amount_refunded=m.amount,
                    total_refunded=Money(amount_minor=pay["refunded"], currency="EUR"),
                    refund_id=f"re_{uuid.uuid4().hex[:8]}",
                )
            ]
        return []

    def _provider_for(self, m: HoldItem) -> ProviderSpec:
        return next(p for p in self.providers if m.item.booking_type in p.booking_types)

    def _price(self, booking_id: str, item_id: str) -> int:
        for s in self.seen:
            if (
                s.message.booking_id == booking_id
                and isinstance(s.message, HoldItem)
                and s.message.item.id == item_id
            ):
                return s.message.item.line_total().amount_minor
        return 0

    async def _publish(
        self, topic: str, message: Message, cause: Envelope | None, envelope: Envelope | None = None
    ) -> Envelope:
        env = envelope or Envelope.new(
            message.type_name(),
            correlation_id=message.booking_id,
            producer="fake-participant",
            cause=cause,
        )
        await self.producer.send_and_wait(
            topic,
            message.model_dump_json().encode(),
            key=message.booking_id.encode(),
            headers=env.to_headers(),
        )
        return env


def _item_of(m: Any) -> str | None:
    item = getattr(m, "item", None)
    return item.id if item is not None else getattr(m, "item_id", None)


def _key(m: Message) -> str:
    item = _item_of(m)
    return f"{m.type_name()}:{item}" if item else m.type_name()
