"""The payment service's internal API (PAYMENT_URL): Stripe customers, SetupIntents, saved cards.
Every answer is parsed into the shared contract (booking_shared.contracts.internal.payment)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from booking_shared.contracts.internal.payment import (
    AttachIn,
    Card,
    CardList,
    CustomerIn,
    CustomerOut,
    PaymentView,
    SetupIntentOut,
)
from gateway.adapters.http import ServiceClient


def _seg(value: str) -> str:
    return quote(value, safe="")


class PaymentClient(ServiceClient):
    def __init__(self, base_url: str, timeout: float, **kw: Any) -> None:
        super().__init__("payment", base_url, timeout, **kw)

    async def ensure_customer(self, user_id: str, email: str | None) -> str:
        body = CustomerIn(user_id=user_id, email=email).model_dump(mode="json")
        return (
            await self.call_as(CustomerOut, "POST", "/internal/customers", json=body)
        ).customer_id

    async def create_setup_intent(self, customer_id: str) -> SetupIntentOut:
        return await self.call_as(
            SetupIntentOut, "POST", f"/internal/customers/{_seg(customer_id)}/setup-intents"
        )

    async def list_cards(self, customer_id: str) -> list[Card]:
        path = f"/internal/customers/{_seg(customer_id)}/payment-methods"
        return (await self.call_as(CardList, "GET", path)).payment_methods

    async def attach_card(
        self, customer_id: str, payment_method_id: str, make_default: bool
    ) -> Card:
        body = AttachIn(payment_method_id=payment_method_id, make_default=make_default)
        return await self.call_as(
            Card,
            "POST",
            f"/internal/customers/{_seg(customer_id)}/payment-methods",
            json=body.model_dump(mode="json"),
        )

    async def set_default_card(self, customer_id: str, payment_method_id: str) -> Card:
        return await self.call_as(
            Card,
            "POST",
            f"/internal/customers/{_seg(customer_id)}/payment-methods/{_seg(payment_method_id)}/default",
        )

    async def detach_card(self, customer_id: str, payment_method_id: str) -> None:
        await self.call(
            "DELETE",
            f"/internal/customers/{_seg(customer_id)}/payment-methods/{_seg(payment_method_id)}",
        )

    async def get_payment(self, booking_id: str) -> PaymentView | None:
        return await self.call_as(
            PaymentView, "GET", f"/internal/payments/{_seg(booking_id)}", none_on_404=True
        )
