"""The orchestrator's internal saga API: one saga, sagas by state and age, operator actions."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from gateway.adapters.http import ServiceClient

ACTIONS = ("retry", "compensate", "pause", "resume")


class OrchestratorClient(ServiceClient):
    def __init__(self, base_url: str, timeout: float, **kw: Any) -> None:
        super().__init__("orchestrator", base_url, timeout, **kw)

    async def get_saga(
        self, booking_id: str, timeout_s: float | None = None
    ) -> dict[str, Any] | None:
        return await self.call(
            "GET",
            f"/internal/sagas/{quote(booking_id, safe='')}",
            timeout_s=timeout_s,
            none_on_404=True,
        )

    async def list_sagas(self, params: dict[str, Any]) -> dict[str, Any]:
        clean = {k: v for k, v in params.items() if v is not None}
        return await self.call("GET", "/internal/sagas", params=clean)

    async def act(
        self, booking_id: str, action: str, actor: str, reason: str
    ) -> dict[str, Any] | None:
        if action not in ACTIONS:
            raise ValueError(f"unknown saga action {action}")
        return await self.call(
            "POST",
            f"/internal/sagas/{quote(booking_id, safe='')}/{action}",
            json={"actor": actor, "reason": reason},
            none_on_404=True,
        )
