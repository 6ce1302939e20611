"""Integration fixtures: the Stripe gateway against the session's localstripe, test cards, and the
whole payment service (real Postgres, broker and localstripe) started once per test module."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import stripe
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from booking_shared.contracts import Command, Envelope, Reply, model_for
from booking_shared.devstack.infra import free_port
from booking_shared.internal_auth import bearer
from booking_shared.messaging import Handling, MessageRouter
from booking_shared.testing.plugin import wait_for
from booking_shared.testing.servers import serve_app
from payment import handlers
from payment.adapters.stripe_gateway import StripeGateway
from payment.adapters.stripe_webhooks import sign_webhook_payload
from payment.bootstrap import Overrides, create_app
from payment.config import Settings
from payment.entrypoints.messaging import subscribe

API_KEY = "sk_test_payment_integration"
WEBHOOK_SECRET = "whsec_test_payment_service"


@pytest.fixture
async def gateway(localstripe_url: str) -> AsyncIterator[StripeGateway]:
    gw = StripeGateway(API_KEY, api_base=localstripe_url, backoff_base_s=0.01, timeout_s=10)
    try:
        yield gw
    finally:
        await gw.close()


@pytest.fixture
async def stripe_client(localstripe_url: str) -> AsyncIterator[stripe.StripeClient]:
    """The raw SDK, for what only tests do (minting PaymentMethods from test card numbers)."""
    http = stripe.HTTPXClient(timeout=10)
    client = stripe.StripeClient(
        API_KEY,
        base_addresses={"api": localstripe_url},
        http_client=http,
        max_network_retries=0,
    )
    try:
        yield client
    finally:
        await http.close_async()


@pytest.fixture
def new_card(stripe_client: stripe.StripeClient) -> Callable[[str], Awaitable[str]]:
    """Mint a `pm_...` from one of Stripe's published test card numbers (tests only: in the
    product, card numbers go from the browser to Stripe and never through us)."""

    async def make(number: str) -> str:
        pm = await stripe_client.v1.payment_methods.create_async(
            params={
                "type": "card",
                "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
            }
        )
        return pm.id

    return make


@pytest.fixture
async def customer_id(gateway: StripeGateway) -> str:
    return await gateway.ensure_customer(f"user-{uuid.uuid4().hex[:12]}", "person@example.com")


# --- the whole service ------------------------------------------------------------------------

_WATCHED = frozenset(
    {
        "authorize",
        "capture",
        "cancel",
        "refund",
        "get_intent",
        "list_intents_by_command",
        "attach_payment_method",
    }
)


class CountingGateway:
    """The real StripeGateway, recording every payment call it makes. With `die_after`, the
    first call of that method raises right after Stripe answered: the process 'dies' between
    Stripe's effect and our commit."""

    def __init__(
        self, real: StripeGateway, die_after: str | None = None, die_before: str | None = None
    ) -> None:
        self.real = real
        self.die_after = die_after
        self.die_before = die_before
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.died = 0

    def count(self, method: str, arg: Any = None) -> int:
        return sum(
            1
            for name, args in self.calls
            if name == method and (arg is None or str(arg) in map(str, args))
        )

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.real, name)
        if name not in _WATCHED:
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            if name == self.die_before and not self.died:
                self.died += 1
                raise ConnectionResetError(f"the process died just before Stripe's {name}")
            self.calls.append((name, args + tuple(kwargs.values())))
            result = await attr(*args, **kwargs)
            if name == self.die_after and not self.died:
                self.died += 1
                raise ConnectionResetError(f"the process died right after Stripe's {name} answered")
            return result

        return call


class LogCapture(logging.Handler):
    """Every log record of the process, formatted with its extra fields, for the card-number scan."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        extras = {k: v for k, v in record.__dict__.items() if k not in _STD_RECORD}
        line = f"{record.name} {record.levelname} {record.getMessage()} {json.dumps(extras, default=str)}"
        if record.exc_info:
            line += " " + logging.Formatter().formatException(record.exc_info)
        self.lines.append(line)


_STD_RECORD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


@dataclass
class PaymentService:
    """A running payment service and the test's side of it: a saga that publishes commands and
    reads replies, an HTTP client, localstripe through the SDK, and Stripe webhooks signed here."""

    settings: Settings
    app: Any
    base_url: str
    http: (
        httpx.AsyncClient
    )  # the internal API, with the service credential (as the gateway calls it)
    webhooks: (
        httpx.AsyncClient
    )  # the public webhook listener, with no credential (as Stripe calls it)
    producer: AIOKafkaProducer
    stripe: StripeGateway  # test-side, for looking at localstripe
    sdk: stripe.StripeClient
    gateway: CountingGateway  # the service's own, counting its calls
    logs: LogCapture
    replies: list[tuple[Envelope, Reply]] = field(default_factory=list)

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    @property
    def pool(self) -> Any:
        return self.runtime.pool

    # commands and replies

    def envelope(self, command: Command, message_id: uuid.UUID | None = None) -> Envelope:
        return Envelope.new(
            command.type_name(),
            correlation_id=command.booking_id,
            producer="test-saga",
            schema_version=command.SCHEMA_VERSION,
            message_id=message_id,
        )

    async def send(self, command: Command, envelope: Envelope | None = None) -> Envelope:
        """Publish a command on the service's command topic, as the saga does."""
        env = envelope or self.envelope(command)
        await self.producer.send_and_wait(
            self.settings.commands_topic,
            command.model_dump_json().encode(),
            key=command.booking_id.encode(),
            headers=env.to_headers(),
        )
        return env

    def answers(self, command_id: uuid.UUID, type_: type[Reply] | None = None) -> list[Reply]:
        return [
            r
            for _, r in self.replies
            if r.command_id == command_id and (type_ is None or isinstance(r, type_))
        ]

    async def reply(
        self, command_id: uuid.UUID, type_: type[Reply] | None = None, count: int = 1
    ) -> Reply:
        """The `count`-th reply to a command, read from the replies topic."""
        found = await wait_for(
            lambda: (
                len(self.answers(command_id, type_)) >= count and self.answers(command_id, type_)
            ),
            timeout=20,
            what=f"{type_.__name__ if type_ else 'a reply'} to {command_id}",
        )
        return found[count - 1]

    async def ask(self, command: Command, type_: type[Reply] | None = None) -> Reply:
        before = len(self.answers(command.command_id))  # type: ignore[attr-defined]
        await self.send(command)
        return await self.reply(command.command_id, type_, count=before + 1)  # type: ignore[attr-defined]

    async def process(self, command: Command, envelope: Envelope | None = None) -> str:
        """Hand a command straight to the service's router (no broker hop)."""
        env = envelope or self.envelope(command)
        return await self.runtime.router.process(
            self.settings.commands_topic, command.model_dump_json().encode(), env.to_headers()
        )

    def router_with(self, gateway: Any, **settings: Any) -> MessageRouter:
        """A second instance of the service's handlers on the same database, with another gateway."""
        s = self.settings.model_copy(update=settings)
        deps = handlers.Deps(gateway=gateway, pool=self.pool, settings=s)
        router = MessageRouter(settings=s, pool=self.pool, consumer=s.service_name)
        router.on_commit = self.runtime.relay.wake
        subscribe(router, deps)
        return router

    async def run(self, command: Command) -> Reply:
        """Handle a command through the service's router, without the broker; its stored reply."""
        assert await self.process(command) == "handled"
        row = await self.command_row(command.command_id)  # type: ignore[attr-defined]
        model = model_for(row["reply_type"])
        assert model is not None
        return model.model_validate_json(row["reply_payload"])  # type: ignore[return-value]

    async def die_while_handling(
        self,
        command: Command,
        envelope: Envelope,
        *,
        die_after: str | None = None,
        die_before: str | None = None,
    ) -> CountingGateway:
        """Run the handler as a process that dies right after Stripe's `die_after` call answered
        (or just before `die_before`): its transaction (inbox claim, payment row, reply) is lost;
        what it committed before the call (the attempt) stays."""
        crashing = CountingGateway(self.stripe, die_after=die_after, die_before=die_before)
        router = self.router_with(crashing)
        handler = router.routes[self.settings.commands_topic][command.type_name()]
        conn = await self.pool.acquire()
        try:
            tx = conn.transaction()
            await tx.start()
            with pytest.raises(ConnectionResetError):
                await handler(
                    Handling(conn, envelope, command, self.settings.commands_topic, self.settings)
                )
            await tx.rollback()
        finally:
            await self.pool.release(conn)
        assert crashing.died == 1
        return crashing

    # state

    async def payment(self, booking_id: str) -> dict[str, Any]:
        r = await self.http.get(f"/internal/payments/{booking_id}")
        assert r.status_code == 200, r.text
        return r.json()

    async def command_row(self, command_id: uuid.UUID) -> Any:
        return await self.pool.fetchrow("SELECT * FROM commands WHERE command_id = $1", command_id)

    async def outbox_count(self, booking_id: str) -> int:
        return await self.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE msg_key = $1", booking_id
        )

    async def intents_of(self, customer_id: str, command_id: uuid.UUID) -> list[Any]:
        """What localstripe holds for a command: the real count of Stripe effects."""
        return await self.stripe.list_intents_by_command(customer_id, str(command_id))

    # cards and customers

    async def new_card(self, number: str) -> str:
        pm = await self.sdk.v1.payment_methods.create_async(
            params={
                "type": "card",
                "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
            }
        )
        return pm.id

    async def customer(self) -> str:
        r = await self.http.post(
            "/internal/customers", json={"user_id": f"usr_{secrets.token_hex(5)}"}
        )
        assert r.status_code == 200, r.text
        return r.json()["customer_id"]

    async def customer_with_card(self, number: str = "4242424242424242") -> tuple[str, str]:
        customer = await self.customer()
        r = await self.http.post(
            f"/internal/customers/{customer}/payment-methods",
            json={"payment_method_id": await self.new_card(number)},
        )
        assert r.status_code == 201, r.text
        return customer, r.json()["id"]

    # webhooks

    async def webhook(
        self,
        event_type: str,
        obj: dict[str, Any],
        *,
        event_id: str | None = None,
        secret: str = WEBHOOK_SECRET,
        timestamp: int | None = None,
        body: bytes | None = None,
    ) -> httpx.Response:
        """POST a Stripe event, signed as Stripe signs (localstripe does not send most types)."""
        if body is None:
            body = json.dumps(
                {
                    "id": event_id or f"evt_{secrets.token_hex(12)}",
                    "object": "event",
                    "type": event_type,
                    "created": int(time.time()),
                    "livemode": False,
                    "api_version": "2026-10-28.endive",
                    "data": {"object": obj},
                }
            ).encode()
        signature = sign_webhook_payload(body, secret, timestamp=timestamp)
        return await self.webhooks.post(
            "/webhooks/stripe",
            content=body,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        )

    async def intent_object(self, intent_id: str) -> dict[str, Any]:
        """The PaymentIntent as Stripe would put it in an event."""
        pi = await self.sdk.v1.payment_intents.retrieve_async(intent_id)
        return pi.to_dict(recursive=True)


async def _collect(consumer: AIOKafkaConsumer, into: list[tuple[Envelope, Reply]]) -> None:
    while True:
        batches = await consumer.getmany(timeout_ms=50)
        for records in batches.values():
            for rec in records:
                env = Envelope.from_headers(rec.headers)
                model = model_for(env.type)
                if model is not None:
                    into.append((env, model.model_validate_json(rec.value)))


@pytest.fixture(scope="module")
async def svc(
    request: pytest.FixtureRequest,
    database_url: str,
    role_prefix: str,
    kafka_bootstrap: str,
    localstripe_url: str,
) -> AsyncIterator[PaymentService]:
    """The payment service, started once for the test module, on its own schema and topics.
    A module may set SERVICE_OVERRIDES = {...} (Settings fields)."""
    suffix = secrets.token_hex(3)
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "db_role_prefix": role_prefix,
        "db_schema": f"payment_{suffix}",
        "service_name": f"payment-{suffix}",
        "kafka_bootstrap_servers": kafka_bootstrap,
        "port": free_port(),
        "log_json": False,
        "outbox_poll_interval_s": 0.2,
        "consumer_retry_backoff_ms": 20,
        "stripe_api_key": API_KEY,
        "stripe_api_base": localstripe_url,
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "commands_topic": f"payment.commands.test-{suffix}",
        "replies_topic": f"payment.replies.test-{suffix}",
        "internal_api_token": secrets.token_urlsafe(32),
        # Webhooks only, unless a module asks for the 3-D Secure poll: the webhook tests decide
        # when an intent's news arrives.
        "action_poll_interval_s": 0,
    }
    values.update(getattr(request.module, "SERVICE_OVERRIDES", {}))
    settings = Settings(**values)
    holder: dict[str, CountingGateway] = {}

    def counting(s: Settings) -> CountingGateway:
        holder["gw"] = CountingGateway(
            StripeGateway(
                s.stripe_api_key, api_base=s.stripe_api_base, backoff_base_s=0.01, timeout_s=10
            )
        )
        return holder["gw"]  # type: ignore[return-value]

    app = create_app(settings, Overrides(gateway_factory=counting))  # type: ignore[arg-type]
    test_gateway = StripeGateway(
        API_KEY, api_base=localstripe_url, backoff_base_s=0.01, timeout_s=10
    )
    sdk_http = stripe.HTTPXClient(timeout=10)
    sdk = stripe.StripeClient(
        API_KEY,
        base_addresses={"api": localstripe_url},
        http_client=sdk_http,
        max_network_retries=0,
    )
    async with (
        serve_app(app, port=settings.port) as base_url,
        serve_app(app.state.public_app) as webhook_url,
    ):
        capture = LogCapture()
        logging.getLogger().addHandler(capture)  # after the app configured logging
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, enable_idempotence=False, linger_ms=0
        )
        consumer = AIOKafkaConsumer(
            settings.replies_topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            fetch_max_wait_ms=5,
        )
        await producer.start()
        await consumer.start()
        http = httpx.AsyncClient(
            base_url=base_url, timeout=20, headers=bearer(settings.internal_api_token)
        )
        webhooks = httpx.AsyncClient(base_url=webhook_url, timeout=20)
        service = PaymentService(
            settings=settings,
            app=app,
            base_url=base_url,
            http=http,
            webhooks=webhooks,
            producer=producer,
            stripe=test_gateway,
            sdk=sdk,
            gateway=holder["gw"],
            logs=capture,
        )
        collector = asyncio.create_task(_collect(consumer, service.replies))
        try:
            yield service
        finally:
            collector.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await collector
            logging.getLogger().removeHandler(capture)
            await http.aclose()
            await webhooks.aclose()
            await consumer.stop()
            await producer.stop()
            await test_gateway.close()
            await sdk_http.close_async()
