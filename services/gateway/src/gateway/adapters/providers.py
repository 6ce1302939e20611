"""A provider service's internal API (what it books, search, quote, booking items, cancel quotes).
Every answer is parsed into the shared contract (booking_shared.contracts.internal.provider)."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from booking_shared.contracts import Capabilities
from booking_shared.contracts.internal.provider import (
    BookedItem,
    BookedItems,
    CancelQuote,
    Offer,
    ProviderCapabilities,
    QuoteAnswer,
    QuoteRequest,
    QuoteResult,
    SearchResult,
)
from booking_shared.contracts.items import BookingItem
from gateway.adapters.http import ServiceClient
from gateway.domain.errors import UpstreamUnavailable

log = logging.getLogger(__name__)


class ProviderClient(ServiceClient):
    def __init__(
        self,
        name: str,
        base_url: str,
        timeout: float,
        *,
        capabilities_ttl_s: float = 300.0,
        quote_timeout_s: float | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(f"provider-{name}", base_url, timeout, **kw)
        self.name = name
        self._quote_timeout_s = quote_timeout_s
        self._capabilities_ttl_s = capabilities_ttl_s
        self._declared: tuple[float, ProviderCapabilities] | None = None

    async def declared(self) -> ProviderCapabilities:
        """What the provider declares: the booking types it serves (the one source of truth for
        routing items to providers) and its capabilities. Cached: they change only with a deploy
        of the provider."""
        cached = self._declared
        if cached is not None and time.monotonic() - cached[0] < self._capabilities_ttl_s:
            return cached[1]
        declared = await self.call_as(ProviderCapabilities, "GET", "/internal/capabilities")
        self._declared = (time.monotonic(), declared)
        return declared

    def known_booking_types(self) -> list[str] | None:
        """The booking types last heard (even if stale), or None if never heard."""
        return list(self._declared[1].booking_types) if self._declared is not None else None

    async def capabilities(self) -> Capabilities:
        return (await self.declared()).capabilities

    async def search(self, params: dict[str, Any], timeout_s: float) -> SearchResult:
        """The provider's offers; one that breaks the contract is skipped (logged), the rest kept."""
        clean = {k: v for k, v in params.items() if v is not None}
        raw = await self.call("GET", "/internal/search", params=clean, timeout_s=timeout_s)
        entries = raw.get("items") if isinstance(raw, dict) else None
        offers = []
        for entry in entries if isinstance(entries, list) else []:
            try:
                offers.append(Offer.model_validate(entry))
            except ValidationError:
                log.warning(
                    "provider returned an item that is not a BookingItem; skipped",
                    extra={"provider": self.name},
                )
        try:
            return SearchResult.model_validate({**raw, "items": []}).model_copy(
                update={"items": offers}
            )
        except (ValidationError, TypeError) as exc:
            raise UpstreamUnavailable(
                self.service, "answer breaks the SearchResult contract"
            ) from exc

    async def quote(self, items: list[BookingItem]) -> list[QuoteAnswer]:
        # Built, not validated: the provider's own 422 names what is wrong with the items.
        body = QuoteRequest.model_construct(items=items).model_dump(mode="json")
        return (
            await self.call_as(
                QuoteResult, "POST", "/internal/quote", json=body, timeout_s=self._quote_timeout_s
            )
        ).items

    async def booking_items(self, booking_id: str) -> list[BookedItem]:
        found = await self.call_as(
            BookedItems,
            "GET",
            f"/internal/bookings/{quote(booking_id, safe='')}/items",
            none_on_404=True,
        )
        return found.items if found is not None else []

    async def cancel_quote(self, booking_id: str, item_id: str) -> CancelQuote:
        return await self.call_as(
            CancelQuote,
            "GET",
            f"/internal/bookings/{quote(booking_id, safe='')}/items/{quote(item_id, safe='')}/cancel-quote",
        )
