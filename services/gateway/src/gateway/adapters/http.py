"""A thin httpx client for one internal service: timeouts, and errors mapped to
UpstreamUnavailable (no answer, 5xx) or UpstreamRejected (4xx)."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from booking_shared.internal_auth import bearer
from gateway.domain.errors import UpstreamRejected, UpstreamUnavailable


class ServiceClient:
    def __init__(
        self,
        service: str,
        base_url: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        token: SecretStr | None = None,
    ):
        self.service = service
        self.http = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout,
            transport=transport,
            # The called service's own credential (its INTERNAL_API_TOKEN): it refuses calls without.
            headers={"user-agent": "booking-gateway", "accept": "application/json", **bearer(token)},
        )

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        timeout_s: float | None = None,
        none_on_404: bool = False,
    ) -> Any:
        kwargs: dict[str, Any] = {"json": json, "params": params}
        if timeout_s is not None:
            kwargs["timeout"] = timeout_s
        try:
            r = await self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(self.service, type(exc).__name__) from exc
        if r.status_code >= 500:
            raise UpstreamUnavailable(self.service, f"HTTP {r.status_code}")
        if r.status_code == 404 and none_on_404:
            return None
        if r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = {"detail": r.text[:500]}
            raise UpstreamRejected(
                self.service, r.status_code, body if isinstance(body, dict) else {"detail": body}
            )
        if not r.content:
            return None
        try:
            return r.json()
        except ValueError as exc:
            raise UpstreamUnavailable(self.service, "answer is not JSON") from exc

    async def close(self) -> None:
        await self.http.aclose()
