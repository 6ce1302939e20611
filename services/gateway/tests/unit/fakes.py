"""Fakes of the gateway's ports (payment, providers, orchestrator) for unit tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from booking_shared.contracts import Capabilities, GuestRequirements
from booking_shared.contracts.items import BookingItem
from gateway.domain.errors import UpstreamUnavailable
from gateway.domain.models import Card


@dataclass
class FakeProvider:
    name: str
    results: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False
    delay: float = 0.0
    quotes: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: list[dict[str, Any]] = field(default_factory=list)
    guest_requirements: GuestRequirements | None = None

    async def capabilities(self) -> Capabilities:
        await self._gate()
        return Capabilities(
            hold=True, api_book=True, cancel=True, guest_requirements=self.guest_requirements
        )

    async def _gate(self) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down:
            raise UpstreamUnavailable(f"provider-{self.name}", "HTTP 503")

    async def search(self, params: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        self.seen.append(params)
        await self._gate()
        return {"provider": self.name, "timezone": "Europe/Lisbon", "items": self.results}

    async def quote(self, items: list[BookingItem]) -> list[dict[str, Any]]:
        await self._gate()
        return [self.quotes[i.id] for i in items if i.id in self.quotes]

    async def booking_items(self, booking_id: str) -> list[dict[str, Any]]:
        return []

    async def cancel_quote(self, booking_id: str, item_id: str) -> dict[str, Any]:
        await self._gate()
        return {
            "item_id": item_id,
            "refund": {"amount_minor": 100, "currency": "EUR"},
            "fee": {"amount_minor": 0, "currency": "EUR"},
        }

    async def close(self) -> None:
        pass


@dataclass
class FakePayment:
    cards: dict[str, list[Card]] = field(default_factory=dict)

    async def ensure_customer(self, user_id: str, email: str | None) -> str:
        return f"cus_{user_id}"

    async def create_setup_intent(self, customer_id: str) -> dict[str, Any]:
        return {"setup_intent_id": "seti_1", "client_secret": "seti_1_secret"}

    async def list_cards(self, customer_id: str) -> list[Card]:
        return self.cards.get(customer_id, [])

    async def attach_card(
        self, customer_id: str, payment_method_id: str, make_default: bool
    ) -> Card:
        card = Card(id=payment_method_id, is_default=make_default)
        self.cards.setdefault(customer_id, []).append(card)
        return card

    async def set_default_card(self, customer_id: str, payment_method_id: str) -> Card:
        return Card(id=payment_method_id, is_default=True)

    async def detach_card(self, customer_id: str, payment_method_id: str) -> None:
        pass

    async def get_payment(self, booking_id: str) -> dict[str, Any] | None:
        return None

    async def close(self) -> None:
        pass


@dataclass
class FakeOrchestrator:
    sagas: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def get_saga(
        self, booking_id: str, timeout_s: float | None = None
    ) -> dict[str, Any] | None:
        return self.sagas.get(booking_id)

    async def list_sagas(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"sagas": list(self.sagas.values()), "total": len(self.sagas)}

    async def act(
        self, booking_id: str, action: str, actor: str, reason: str
    ) -> dict[str, Any] | None:
        return self.sagas.get(booking_id)

    async def close(self) -> None:
        pass
