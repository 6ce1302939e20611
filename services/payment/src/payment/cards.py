"""Saved cards: one Stripe Customer per user, SetupIntents, and the card tokens (pm_...) with their
display fields. The card number goes from the browser to Stripe; it never reaches us."""

from __future__ import annotations

import logging

from payment.adapters import repository as repo
from payment.domain.gateway import CardDisplay, Declined, SetupIntentCreated, StripeUnavailable
from payment.handlers import Deps

log = logging.getLogger(__name__)


class UnknownCustomer(LookupError):
    """Not a customer this service created (the internal API serves only its own customers)."""


class UnknownCard(LookupError):
    """Not one of this customer's cards."""


async def ensure_customer(deps: Deps, user_id: str, email: str | None) -> str:
    """The user's Stripe customer, created on first use and reused after (one per user)."""
    async with deps.pool.acquire() as conn, conn.transaction():
        # Two requests for a new user at once would each create a customer on a Stripe that
        # ignores idempotency keys (localstripe): serialize them per user.
        await repo.lock_user(conn, user_id)
        existing = await repo.customer_of_user(conn, user_id)
        customer_id = await deps.gateway.ensure_customer(user_id, email, customer_id=existing)
        if customer_id != existing:
            await repo.save_customer(conn, user_id, customer_id)
            log.info(
                "Stripe customer created", extra={"customer": customer_id, "replaced": existing}
            )
    return customer_id


async def _require_customer(deps: Deps, customer_id: str) -> None:
    if not await repo.customer_exists(deps.pool, customer_id):
        raise UnknownCustomer(customer_id)


async def create_setup_intent(deps: Deps, customer_id: str) -> SetupIntentCreated:
    await _require_customer(deps, customer_id)
    return await deps.gateway.create_setup_intent(customer_id)


async def save_card(
    deps: Deps, customer_id: str, pm_id: str, make_default: bool
) -> CardDisplay | Declined:
    """Attach a card token to the customer (a no-op if it already is); keep its display fields."""
    await _require_customer(deps, customer_id)
    result = await deps.gateway.attach_payment_method(customer_id, pm_id, make_default)
    if isinstance(result, CardDisplay):
        async with deps.pool.acquire() as conn, conn.transaction():
            await repo.save_card(conn, customer_id, result)
    return result


async def list_cards(deps: Deps, customer_id: str) -> list[CardDisplay]:
    """The customer's cards as Stripe has them (the cache follows); the cache if Stripe is away."""
    await _require_customer(deps, customer_id)
    try:
        cards = list(await deps.gateway.list_payment_methods(customer_id))
    except StripeUnavailable as exc:
        log.warning(
            "Stripe unavailable; listing cards from the cache", extra={"error": exc.message}
        )
        return await repo.cached_cards(deps.pool, customer_id)
    async with deps.pool.acquire() as conn, conn.transaction():
        await repo.replace_cards(conn, customer_id, cards)
    return cards


async def make_default(deps: Deps, customer_id: str, pm_id: str) -> CardDisplay:
    await _require_customer(deps, customer_id)
    await deps.gateway.set_default(customer_id, pm_id)
    for card in await list_cards(deps, customer_id):
        if card.pm_id == pm_id:
            return card
    raise UnknownCard(pm_id)


async def remove_card(deps: Deps, customer_id: str, pm_id: str) -> None:
    await _require_customer(deps, customer_id)
    await deps.gateway.detach(pm_id, customer_id=customer_id)
    await repo.delete_card(deps.pool, customer_id, pm_id)
