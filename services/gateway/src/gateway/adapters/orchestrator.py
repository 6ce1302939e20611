"""The orchestrator's internal saga API: one saga, sagas by state, age and provider, the stuck
ones with their reasons, operator actions.
Every answer is parsed into the shared contract (booking_shared.contracts.internal.orchestrator)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from booking_shared.contracts.internal.orchestrator import (
    ACTIONS,
    ActionRequest,
    SagaList,
    SagaView,
    StuckSagaList,
)
from gateway.adapters.http import ServiceClient

__all__ = ["ACTIONS", "OrchestratorClient", "SagaList", "SagaView", "StuckSagaList"]


class OrchestratorClient(ServiceClient):
    def __init__(self, base_url: str, timeout: float, **kw: Any) -> None:
        super().__init__("orchestrator", base_url, timeout, **kw)

    async def get_saga(self, booking_id: str, timeout_s: float | None = None) -> SagaView | None:
        return await self.call_as(
            SagaView,
            "GET",
            f"/internal/sagas/{quote(booking_id, safe='')}",
            timeout_s=timeout_s,
            none_on_404=True,
        )

    async def list_sagas(self, params: dict[str, Any]) -> SagaList:
        clean = {k: v for k, v in params.items() if v is not None}
        return await self.call_as(SagaList, "GET", "/internal/sagas", params=clean)

    async def list_stuck(self, params: dict[str, Any]) -> StuckSagaList:
        clean = {k: v for k, v in params.items() if v is not None}
        return await self.call_as(StuckSagaList, "GET", "/internal/sagas/stuck", params=clean)

    async def act(self, booking_id: str, action: str, actor: str, reason: str) -> SagaView | None:
        if action not in ACTIONS:
            raise ValueError(f"unknown saga action {action}")
        return await self.call_as(
            SagaView,
            "POST",
            f"/internal/sagas/{quote(booking_id, safe='')}/{action}",
            json=ActionRequest(actor=actor, reason=reason).model_dump(mode="json"),
            none_on_404=True,
        )
