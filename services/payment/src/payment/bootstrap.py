"""The only place the Payment service's adapters are built and its handlers registered."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from booking_shared import retention
from booking_shared.contracts import AuthorizePayment, CapturePayment, RefundPayment, VoidPayment
from booking_shared.contracts.topics import dlq
from booking_shared.messaging import MessageRouter
from booking_shared.service import Runtime, Wiring
from payment import handlers
from payment.adapters.retention import rules as retention_rules
from payment.adapters.stripe_gateway import StripeGateway
from payment.config import Settings
from payment.domain.gateway import PaymentGateway
from payment.entrypoints.action_poll import ActionPoll

GatewayFactory = Callable[[Settings], PaymentGateway]


def stripe_gateway(settings: Settings) -> PaymentGateway:
    return StripeGateway(
        settings.stripe_api_key,
        api_base=settings.stripe_api_base,
        max_attempts=settings.stripe_max_attempts,
        timeout_s=settings.stripe_timeout_s,
    )


def service_topics(settings: Settings) -> list[str]:
    """The topics this service reads and writes (configurable, so tests can use their own)."""
    return [
        settings.commands_topic,
        settings.replies_topic,
        dlq(settings.commands_topic),
        dlq(settings.replies_topic),
    ]


def make_wiring(gateway_factory: GatewayFactory = stripe_gateway) -> Wiring:
    """The service's wiring; tests may pass another gateway (a fake, or one that fails on cue)."""

    async def wire(rt: Runtime) -> None:
        settings = cast(Settings, rt.settings)  # the app was built with this service's Settings
        gateway = gateway_factory(settings)
        deps = handlers.Deps(gateway=gateway, pool=rt.pool, settings=settings)
        rt.extras["payment"] = deps
        rt.extras.setdefault("closers", []).append(gateway.close)
        register(rt.router, deps)
        retention.start(rt, retention_rules(settings))
        if settings.action_poll_interval_s > 0:
            poll = ActionPoll(deps, settings.action_poll_interval_s, rt.relay.wake)
            poll.start()
            rt.extras["action_poll"] = poll
            rt.extras["closers"].insert(0, poll.stop)

    return wire


def register(router: MessageRouter, deps: handlers.Deps) -> None:
    """Route the four commands to their handlers."""
    commands = deps.settings.commands_topic
    router.on(commands, AuthorizePayment, lambda h: handlers.authorize_payment(h, deps))
    router.on(commands, CapturePayment, lambda h: handlers.capture_payment(h, deps))
    router.on(commands, VoidPayment, lambda h: handlers.void_payment(h, deps))
    router.on(commands, RefundPayment, lambda h: handlers.refund_payment(h, deps))


wire = make_wiring()
