"""A thin httpx client for one internal service: timeouts, errors mapped to UpstreamUnavailable
(no answer, 5xx, an answer that breaks the contract) or UpstreamRejected (4xx), and answers
parsed into the shared contract models (booking_shared.contracts.internal)."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from booking_shared.internal_auth import bearer
from gateway.domain.errors import UpstreamRejected, UpstreamUnavailable

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


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
            headers={
                "user-agent": "booking-gateway",
                "accept": "application/json",
                **bearer(token),
            },
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

    async def call_as(self, model: type[M], method: str, path: str, **kwargs: Any) -> Any:
        """`call()`, its answer parsed into the contract `model` (None stays None). An answer
        that does not fit the contract is the other side's bug: logged, and an outage for us."""
        body = await self.call(method, path, **kwargs)
        if body is None and kwargs.get("none_on_404"):
            return None
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            log.error(
                "answer breaks the contract",
                extra={
                    "service": self.service,
                    "path": path,
                    "contract": model.__name__,
                    "error": str(exc)[:500],
                },
            )
            raise UpstreamUnavailable(
                self.service, f"answer breaks the {model.__name__} contract"
            ) from exc

    async def close(self) -> None:
        await self.http.aclose()
