"""Which provider books which booking type: what each provider declares (GET
/internal/capabilities, `booking_types`), the same declaration the orchestrator reads from
provider.registry.v1. The gateway keeps no table of its own."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from gateway.domain.errors import UpstreamRejected, UpstreamUnavailable
from gateway.handlers.deps import Deps

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Routes:
    by_type: dict[str, str]  # booking type -> provider name
    unheard: list[str]  # providers never heard (down since start): they may serve any type

    def provider_for(self, booking_type: str) -> str | None:
        return self.by_type.get(booking_type)


async def routes(deps: Deps, timeout_s: float | None = None) -> Routes:
    """Ask every provider what it books (cached by each client); a provider that does not answer
    now keeps the types it declared last, or, never heard, is reported in `unheard`."""

    async def declared(name: str) -> list[str] | None:
        provider = deps.providers[name]
        try:
            answer = provider.declared()
            found = await (asyncio.wait_for(answer, timeout_s) if timeout_s else answer)
        except (UpstreamUnavailable, UpstreamRejected, TimeoutError):
            return provider.known_booking_types()
        return list(found.booking_types)

    names = sorted(deps.providers)
    answers = await asyncio.gather(*(declared(n) for n in names))
    by_type: dict[str, str] = {}
    unheard: list[str] = []
    for name, types in zip(names, answers, strict=True):
        if types is None:
            unheard.append(name)
            continue
        for booking_type in types:
            if by_type.setdefault(booking_type, name) != name:
                log.warning(
                    "two providers declare one booking type; the first by name books it",
                    extra={
                        "booking_type": booking_type,
                        "provider": name,
                        "kept": by_type[booking_type],
                    },
                )
    return Routes(by_type, unheard)
