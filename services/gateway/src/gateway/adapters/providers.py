"""A provider service's internal API (search, quote, booking items, cancel quotes)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from booking_shared.contracts.items import BookingItem
from gateway.adapters.http import ServiceClient


class ProviderClient(ServiceClient):
    def __init__(self, name: str, base_url: str, timeout: float, **kw: Any) -> None:
        super().__init__(f"provider-{name}", base_url, timeout, **kw)
        self.name = name

    async def search(self, params: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        clean = {k: v for k, v in params.items() if v is not None}
        return await self.call("GET", "/internal/search", params=clean, timeout_s=timeout_s)

    async def quote(self, items: list[BookingItem]) -> list[dict[str, Any]]:
        body = await self.call(
            "POST", "/internal/quote", json={"items": [i.model_dump(mode="json") for i in items]}
        )
        return list(body.get("items", []))

    async def booking_items(self, booking_id: str) -> list[dict[str, Any]]:
        body = await self.call(
            "GET", f"/internal/bookings/{quote(booking_id, safe='')}/items", none_on_404=True
        )
        return list((body or {}).get("items", []))

    async def cancel_quote(self, booking_id: str, item_id: str) -> dict[str, Any]:
        return await self.call(
            "GET",
            f"/internal/bookings/{quote(booking_id, safe='')}/items/{quote(item_id, safe='')}/cancel-quote",
        )
