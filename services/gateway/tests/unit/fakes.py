"""Fakes of the gateway's ports (payment, providers, orchestrator) for unit tests. They answer
with the shared internal contracts (booking_shared.contracts.internal), as the real clients do."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from booking_shared.contracts import Capabilities, GuestRequirements
from booking_shared.contracts.internal.orchestrator import SagaList, SagaView, StuckSagaList
from booking_shared.contracts.internal.payment import Card, PaymentView, SetupIntentOut
from booking_shared.contracts.internal.provider import (
    BookedItem,
    CancelQuote,
    ProviderCapabilities,
    QuoteAnswer,
    SearchResult,
)
from booking_shared.contracts.items import BookingItem
from booking_shared.money import Money
from gateway.domain.errors import UpstreamUnavailable

# What the real providers declare they book.
BOOKING_TYPES = {"opentable": ["restaurant"], "eventbrite": ["event"]}


@dataclass
class FakeProvider:
    name: str
    results: list[dict[str, Any]] = field(default_factory=list)  # Offer-shaped entries
    down: bool = False
    delay: float = 0.0
    quotes: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: list[dict[str, Any]] = field(default_factory=list)
    guest_requirements: GuestRequirements | None = None

    async def declared(self) -> ProviderCapabilities:
        if self.down:
            raise UpstreamUnavailable(f"provider-{self.name}", "HTTP 503")
        return ProviderCapabilities(
            provider=self.name,
            booking_types=BOOKING_TYPES.get(self.name, []),
            capabilities=Capabilities(
                hold=True, api_book=True, cancel=True, guest_requirements=self.guest_requirements
            ),
        )

    def known_booking_types(self) -> list[str] | None:
        return BOOKING_TYPES.get(self.name)

    async def capabilities(self) -> Capabilities:
        await self._gate()
        return (await self.declared()).capabilities

    async def _gate(self) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down:
            raise UpstreamUnavailable(f"provider-{self.name}", "HTTP 503")

    async def search(self, params: dict[str, Any], timeout_s: float) -> SearchResult:
        self.seen.append(params)
        await self._gate()
        return SearchResult.model_validate(
            {"provider": self.name, "timezone": "Europe/Lisbon", "items": self.results}
        )

    async def quote(self, items: list[BookingItem]) -> list[QuoteAnswer]:
        await self._gate()
        return [QuoteAnswer.model_validate(self.quotes[i.id]) for i in items if i.id in self.quotes]

    async def booking_items(self, booking_id: str) -> list[BookedItem]:
        return []

    async def cancel_quote(self, booking_id: str, item_id: str) -> CancelQuote:
        await self._gate()
        return CancelQuote(
            item_id=item_id,
            cancellable=True,
            refund=Money(amount_minor=100, currency="EUR"),
            fee=Money(amount_minor=0, currency="EUR"),
            policy=None,
        )

    async def close(self) -> None:
        pass


@dataclass
class FakePayment:
    cards: dict[str, list[Card]] = field(default_factory=dict)

    async def ensure_customer(self, user_id: str, email: str | None) -> str:
        return f"cus_{user_id}"

    async def create_setup_intent(self, customer_id: str) -> SetupIntentOut:
        return SetupIntentOut(setup_intent_id="seti_1", client_secret="seti_1_secret")

    async def list_cards(self, customer_id: str) -> list[Card]:
        return self.cards.get(customer_id, [])

    async def attach_card(
        self, customer_id: str, payment_method_id: str, make_default: bool
    ) -> Card:
        card = Card(
            id=payment_method_id,
            brand="visa",
            last4="4242",
            exp_month=12,
            exp_year=2034,
            is_default=make_default,
        )
        self.cards.setdefault(customer_id, []).append(card)
        return card

    async def set_default_card(self, customer_id: str, payment_method_id: str) -> Card:
        return Card(
            id=payment_method_id,
            brand="visa",
            last4="4242",
            exp_month=12,
            exp_year=2034,
            is_default=True,
        )

    async def detach_card(self, customer_id: str, payment_method_id: str) -> None:
        pass

    async def get_payment(self, booking_id: str) -> PaymentView | None:
        return None

    async def close(self) -> None:
        pass


@dataclass
class FakeOrchestrator:
    sagas: dict[str, SagaView] = field(default_factory=dict)

    async def get_saga(self, booking_id: str, timeout_s: float | None = None) -> SagaView | None:
        return self.sagas.get(booking_id)

    async def list_sagas(self, params: dict[str, Any]) -> SagaList:
        return SagaList(sagas=[], total=len(self.sagas))

    async def list_stuck(self, params: dict[str, Any]) -> StuckSagaList:
        return StuckSagaList(sagas=[], total=0)

    async def act(self, booking_id: str, action: str, actor: str, reason: str) -> SagaView | None:
        return self.sagas.get(booking_id)

    async def close(self) -> None:
        pass
