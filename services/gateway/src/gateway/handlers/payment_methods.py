"""Saved cards through the payment service: SetupIntent, attach, list, default, remove.
Only Stripe tokens (pm_...) pass here, never a card number.

The gateway keeps its own copy of each user's cards (card_copies), written through from every
answer the payment service gives about them; a booking chooses its card from that copy, so a
booking is accepted while the payment service is away (see the README, "Cards and bookings").
A user without a copy whose cards cannot be heard now has the choice deferred (card_wait.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from booking_shared.contracts.internal import payment as contract
from gateway.adapters import postgres as db
from gateway.adapters.postgres import User
from gateway.domain.errors import (
    FieldError,
    InvalidInput,
    NotFound,
    PaymentDeclined,
    UpstreamRejected,
    UpstreamUnavailable,
    upstream_field_errors,
)
from gateway.domain.models import Card
from gateway.handlers.deps import Deps

log = logging.getLogger(__name__)


def _public(card: contract.Card) -> Card:
    """The payment service's card (the internal contract) as the gateway shows it."""
    return Card.model_validate(card.model_dump())


async def _remember(deps: Deps, user: User, cards: list[contract.Card]) -> list[Card]:
    await db.replace_card_copy(deps.db(), user.id, [c.model_dump(mode="json") for c in cards])
    return [_public(c) for c in cards]


async def _refresh(deps: Deps, user: User, customer: str) -> None:
    """After a change: hear the whole list again and keep it. If the payment service does not
    answer now, drop the copy rather than keep one that may be wrong."""
    try:
        await _remember(deps, user, await deps.payment.list_cards(customer))
    except UpstreamUnavailable:
        log.warning(
            "card list not heard after a change; the copy is dropped", extra={"user_id": user.id}
        )
        await db.forget_card_copy(deps.db(), user.id)


def customer_of(user: User) -> str | None:
    """The user's Stripe customer id, if the payment service made one."""
    return user.stripe_customer_id


async def ensure_customer(deps: Deps, user: User) -> str:
    """The user's Stripe customer id, created at the payment service on first need."""
    if user.stripe_customer_id:
        return user.stripe_customer_id
    customer_id = await deps.payment.ensure_customer(user.id, user.email)
    return await db.set_customer(deps.db(), user.id, customer_id)


async def create_setup_intent(deps: Deps, user: User) -> dict[str, Any]:
    customer = await ensure_customer(deps, user)
    return (await deps.payment.create_setup_intent(customer)).model_dump()


async def list_payment_methods(deps: Deps, user: User) -> list[Card]:
    customer = customer_of(user)
    if customer is None:
        return []
    return await _remember(deps, user, await deps.payment.list_cards(customer))


async def attach_payment_method(
    deps: Deps, user: User, payment_method_id: str, make_default: bool
) -> Card:
    customer = await ensure_customer(deps, user)
    try:
        card = await deps.payment.attach_card(customer, payment_method_id, make_default)
    except UpstreamUnavailable:
        await db.forget_card_copy(deps.db(), user.id)  # it may have been saved unheard
        raise
    except UpstreamRejected as exc:
        if exc.status == 402:
            code = str(exc.body.get("code") or exc.body.get("decline_code") or "card_declined")
            msg = f"the card was declined ({code})"
            raise PaymentDeclined(msg, [FieldError("payment_method_id", msg)], code=code) from None
        if exc.status == 404:
            raise NotFound("payment method", "payment_method_id") from None
        raise InvalidInput(
            "the payment service refused this payment method",
            upstream_field_errors(exc.body, "payment_method_id"),
        ) from None
    await _refresh(deps, user, customer)
    return _public(card)


async def _owned(deps: Deps, user: User, payment_method_id: str) -> str:
    """The customer id, if the payment method is one of this user's; else 404 (never another user's)."""
    customer = customer_of(user)
    if customer is None:
        raise NotFound("payment method", "payment_method_id")
    cards = await _remember(deps, user, await deps.payment.list_cards(customer))
    if payment_method_id not in {c.id for c in cards}:
        raise NotFound("payment method", "payment_method_id")
    return customer


async def set_default_payment_method(deps: Deps, user: User, payment_method_id: str) -> Card:
    customer = await _owned(deps, user, payment_method_id)
    try:
        card = await deps.payment.set_default_card(customer, payment_method_id)
    except UpstreamRejected as exc:
        if exc.status == 404:
            raise NotFound("payment method", "payment_method_id") from None
        raise
    finally:
        await _refresh(deps, user, customer)
    return _public(card)


async def remove_payment_method(deps: Deps, user: User, payment_method_id: str) -> None:
    customer = await _owned(deps, user, payment_method_id)
    try:
        await deps.payment.detach_card(customer, payment_method_id)
    except UpstreamRejected as exc:
        if exc.status == 404:
            raise NotFound("payment method", "payment_method_id") from None
        raise
    finally:
        await _refresh(deps, user, customer)


@dataclass(frozen=True)
class CardChoice:
    """The card of a booking: chosen now (`card`), none on file (`card` None), or `deferred`: the
    user's cards are not known here and the payment service did not answer, so the card (the one
    asked for, else the default) is chosen when it answers (handlers/card_wait.py)."""

    customer_id: str
    card: Card | None
    deferred: bool = False


def pick_card(cards: list[Card], wanted: str | None) -> Card | None:
    """The card asked for (None if it is not among these), else the default (else the first)."""
    if wanted:
        return next((c for c in cards if c.id == wanted), None)
    return next((c for c in cards if c.is_default), cards[0] if cards else None)


async def choose_card(deps: Deps, user: User, wanted: str | None) -> CardChoice:
    """The card for a booking: the card asked for (if it is this user's), else the default.
    Read from the gateway's copy, so the payment service is not needed; only a user whose cards
    were never heard (saved before the copy existed, or a dropped copy) makes it ask the payment
    service, and if that does not answer the choice is deferred rather than the booking refused."""
    customer = customer_of(user)
    if customer is None:
        if wanted:
            raise NotFound("payment method", "payment_method_id")
        return CardChoice("", None)
    copy = await db.card_copy(deps.db(), user.id)
    if copy is not None:
        cards = [Card.model_validate(c) for c in copy]
    else:
        try:
            cards = await _remember(deps, user, await deps.payment.list_cards(customer))
        except UpstreamUnavailable:
            log.warning(
                "the user's cards are not known here and the payment service does not answer:"
                " the booking's card is chosen when it does",
                extra={"user_id": user.id},
            )
            return CardChoice(customer, None, deferred=True)
    card = pick_card(cards, wanted)
    if wanted and card is None:
        raise NotFound("payment method", "payment_method_id")
    return CardChoice(customer, card)
