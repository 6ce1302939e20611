"""A provider service's internal API (search, quote, booking items, cancel quotes)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from booking_shared.contracts import Capabilities
from booking_shared.contracts.items import BookingItem
from gateway.adapters.http import ServiceClient
from gateway.domain.errors import UpstreamUnavailable


class ProviderClient(ServiceClient):
    def __init__(
        self,
        name: str,
        base_url: str,
        timeout: float,
        *,
        capabilities_ttl_s: float = 300.0,
        **kw: Any,
    ) -> None:
        super().__init__(f"provider-{name}", base_url, timeout, **kw)
        self.name = name
        self._capabilities_ttl_s = capabilities_ttl_s
        self._capabilities: tuple[float, Capabilities] | None = None

    async def capabilities(self) -> Capabilities:
        """What the provider declares (hold, guest requirements...), cached: they change only
        with a deploy of the provider."""
        cached = self._capabilities
        if cached is not None and time.monotonic() - cached[0] < self._capabilities_ttl_s:
            return cached[1]
        body = await self.call("GET", "/internal/capabilities")
        try:
            caps = Capabilities.model_validate((body or {}).get("capabilities"))
        except ValidationError as exc:
            raise UpstreamUnavailable(self.service, "capabilities unreadable") from exc
        self._capabilities = (time.monotonic(), caps)
        return caps

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
