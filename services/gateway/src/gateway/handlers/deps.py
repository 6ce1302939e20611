"""What the use cases need, built once by bootstrap (or by a test with fakes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg

from gateway.adapters.passwords import Passwords
from gateway.adapters.signals import BookingSignals
from gateway.config import Settings
from gateway.ports import OrchestratorPort, PaymentPort, ProviderPort


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Deps:
    settings: Settings
    pool: asyncpg.Pool | None
    payment: PaymentPort
    providers: Mapping[str, ProviderPort]
    orchestrator: OrchestratorPort
    signals: BookingSignals = field(default_factory=lambda: BookingSignals(None, "none"))
    clock: Callable[[], datetime] = utcnow
    passwords: Passwords = field(default_factory=Passwords)

    def db(self) -> asyncpg.Pool:
        if self.pool is None:
            raise RuntimeError("this use case needs the database")
        return self.pool


@dataclass(frozen=True)
class ClientInfo:
    """Who is asking, as consent evidence: user agent and IP."""

    user_agent: str | None
    ip: str | None
