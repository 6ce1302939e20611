"""Kafka subscription: thin, it hands each payment command to one handler through the shared
router (inbox, retries and dead letters apply to every topic alike)."""

from __future__ import annotations

from booking_shared.contracts import AuthorizePayment, CapturePayment, RefundPayment, VoidPayment
from booking_shared.contracts.catalogue import PAYMENT_REPLY_TYPES
from booking_shared.messaging import MessageRouter
from payment import handlers


def subscribe(router: MessageRouter, deps: handlers.Deps) -> None:
    """Route the four commands to their handlers; declare the replies they send."""
    commands = deps.settings.commands_topic
    router.on(commands, AuthorizePayment, lambda h: handlers.authorize_payment(h, deps))
    router.on(commands, CapturePayment, lambda h: handlers.capture_payment(h, deps))
    router.on(commands, VoidPayment, lambda h: handlers.void_payment(h, deps))
    router.on(commands, RefundPayment, lambda h: handlers.refund_payment(h, deps))
    router.emits(deps.settings.replies_topic, *PAYMENT_REPLY_TYPES)
