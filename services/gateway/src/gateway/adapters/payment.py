"""The payment service's internal API (PAYMENT_URL): Stripe customers, SetupIntents, saved cards."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from gateway.adapters.http import ServiceClient
from gateway.domain.models import Card


def _seg(value: str) -> str:
    return quote(value, safe="")


class PaymentClient(ServiceClient):
    def __init__(self, base_url: str, timeout: float, **kw: Any) -> None:
        super().__init__("payment", base_url, timeout, **kw)

    async def ensure_customer(self, user_id: str, email: str | None) -> str:
        body = await self.call(
            "POST", "/internal/customers", json={"user_id": user_id, "email": email}
        )
        return body["customer_id"]

    async def create_setup_intent(self, customer_id: str) -> dict[str, Any]:
        return await self.call("POST", f"/internal/customers/{_seg(customer_id)}/setup-intents")

    async def list_cards(self, customer_id: str) -> list[Card]:
        body = await self.call("GET", f"/internal/customers/{_seg(customer_id)}/payment-methods")
        return [Card.model_validate(c) for c in body.get("payment_methods", [])]

    async def attach_card(
        self, customer_id: str, payment_method_id: str, make_default: bool
    ) -> Card:
        body = await self.call(
            "POST",
            f"/internal/customers/{_seg(customer_id)}/payment-methods",
            json={"payment_method_id": payment_method_id, "make_default": make_default},
        )
        return Card.model_validate(body)

    async def set_default_card(self, customer_id: str, payment_method_id: str) -> Card:
        body = await self.call(
            "POST",
            f"/internal/customers/{_seg(customer_id)}/payment-methods/{_seg(payment_method_id)}/default",
        )
        return Card.model_validate(body)

    async def detach_card(self, customer_id: str, payment_method_id: str) -> None:
        await self.call(
            "DELETE",
            f"/internal/customers/{_seg(customer_id)}/payment-methods/{_seg(payment_method_id)}",
        )

    async def get_payment(self, booking_id: str) -> dict[str, Any] | None:
        return await self.call("GET", f"/internal/payments/{_seg(booking_id)}", none_on_404=True)
