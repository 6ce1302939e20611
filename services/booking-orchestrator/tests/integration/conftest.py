"""One orchestrator for this folder's tests (a consumer group join costs seconds on Tansu),
with fake participants on the real broker and the real Postgres."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from booking_shared.contracts import (
    BookingCancellationRequested,
    BookingItem,
    BookingRequested,
    Capabilities,
    PaymentSource,
)
from booking_shared.contracts.topics import (
    BOOKING_EVENTS,
    all_topics,
    provider_commands,
    provider_replies,
)
from booking_shared.internal_auth import bearer
from booking_shared.messaging import ensure_topics
from booking_shared.money import Money
from booking_shared.testing.plugin import wait_for
from booking_shared.testing.servers import serve_app
from orchestrator.bootstrap import create_app
from orchestrator.config import Settings

from .fakes import Act, Fakes, ProviderSpec

FINAL = ("CONFIRMED", "FAILED", "CANCELLED", "PARTIALLY_CANCELLED", "COMPENSATION_FAILED")


@dataclass
class Harness:
    url: str
    http: httpx.AsyncClient
    settings: Settings
    pool: asyncpg.Pool
    fakes: Fakes
    prefix: str
    app: Any
    counter: itertools.count
    late: ProviderSpec  # a provider not announced at start, whose commands topic does not exist

    def new_id(self) -> str:
        return f"{self.prefix}{next(self.counter):03d}"

    def items(self, n: int = 3) -> list[BookingItem]:
        """Alternating restaurant (partner holds) and event (no hold capability) items."""
        when = datetime.now(UTC) + timedelta(days=5)
        out = []
        for i in range(1, n + 1):
            if i % 2:
                out.append(
                    BookingItem(
                        id=f"item-{i}",
                        title=f"Dinner {i}",
                        category="dinner",
                        start_time=when,
                        cost=Money(amount_minor=1000 * i, currency="EUR"),
                        venue_id=f"rest_{i}",
                        party_size=2,
                    )
                )
            else:
                out.append(
                    BookingItem(
                        id=f"item-{i}",
                        title=f"Concert {i}",
                        category="concert",
                        start_time=when,
                        cost=Money(amount_minor=2500, currency="EUR"),
                        event_id=f"evt_{i}",
                        ticket_class_id=f"tc_{i}",
                        quantity=2,
                    )
                )
        return out

    async def book(
        self,
        acts: dict[str, Act] | None = None,
        n: int = 3,
        mode: str = "all_or_nothing",
        items: list[BookingItem] | None = None,
    ) -> str:
        bid = self.new_id()
        if acts:
            self.fakes.script(bid, acts)
        items = items or self.items(n)
        total = sum(i.line_total().amount_minor for i in items)
        await self.fakes.inject(
            BOOKING_EVENTS,
            BookingRequested(
                booking_id=bid,
                user_id=f"usr_{bid}",
                quote_id=f"qt_{bid}",
                items=items,
                total=Money(amount_minor=total, currency="EUR"),
                payment=PaymentSource(customer_id="cus_test", payment_method_id="pm_test"),
                mode=mode,
                guest="gAAAA-sealed-guest",
                requested_at=datetime.now(UTC),  # type: ignore[arg-type]
            ),
        )
        return bid

    async def cancel(self, bid: str) -> None:
        await self.fakes.inject(
            BOOKING_EVENTS,
            BookingCancellationRequested(
                booking_id=bid, requested_by=f"usr_{bid}", reason="plans changed"
            ),
        )

    async def state(self, bid: str) -> str | None:
        return await self.pool.fetchval("SELECT state FROM sagas WHERE booking_id = $1", bid)

    async def reaches(self, bid: str, *states: str, within: float = 20.0) -> str:
        async def check() -> str | None:
            s = await self.state(bid)
            return s if s in states else None

        return await wait_for(check, timeout=within, interval=0.05, what=f"{bid} in {states}")

    async def settles(self, bid: str, within: float = 20.0) -> str:
        """A final state, and nothing of the saga's left in the outbox or the broker's way."""
        state = await self.reaches(bid, *FINAL, within=within)
        await wait_for(
            lambda: self._drained(bid),
            timeout=within,
            what=f"{bid}'s messages relayed and answered",
        )
        return state

    async def _drained(self, bid: str) -> bool:
        unsent = await self.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE msg_key = $1 AND sent_at IS NULL", bid
        )
        open_steps = await self.pool.fetchval(
            "SELECT count(*) FROM saga_steps WHERE booking_id = $1 AND status = 'SENT'", bid
        )
        return unsent == 0 and open_steps == 0

    async def saga(self, bid: str) -> dict[str, Any]:
        r = await self.http.get(f"/internal/sagas/{bid}")
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="session")
async def orchestrator(settings_for):  # type: ignore[no-untyped-def]
    u = secrets.token_hex(3)
    settings = settings_for(
        Settings,
        consumer_retry_backoff_ms=10,
        step_timeout_s=0.8,
        step_backoff=1.5,
        step_max_attempts=3,
        compensation_max_attempts=3,
        max_step_timeout_s=5,
        action_window_s=4,
        route_wait_s=1,
        deadline_poll_interval_s=0.1,
    )
    providers = [
        ProviderSpec(
            f"ftables{u}",
            ["restaurant"],
            Capabilities(hold=True, api_book=True, cancel=True, hold_ttl_seconds=180),
        ),
        ProviderSpec(
            f"ftickets{u}", ["event"], Capabilities(hold=False, api_book=True, cancel=True)
        ),
    ]
    late = ProviderSpec(
        f"flate{u}",
        ["restaurant"],
        Capabilities(hold=True, api_book=True, cancel=True, hold_ttl_seconds=180),
    )
    # The provider topics exist before the orchestrator subscribes by pattern, as they would
    # when a provider service has started (its first metadata fetch sees them). The late
    # provider's commands topic is left for whoever produces to it to create.
    extra = [t for p in providers for t in (provider_commands(p.name), provider_replies(p.name))]
    extra.append(provider_replies(late.name))
    await ensure_topics(settings, all_topics() + extra)
    fakes = Fakes(settings.kafka_bootstrap_servers, providers, prefix=f"bk{u}-")
    await fakes.start()
    await fakes.announce()
    app = create_app(settings)
    async with (
        serve_app(app) as url,
        httpx.AsyncClient(
            base_url=url, timeout=10, headers=bearer(settings.internal_api_token)
        ) as http,
    ):
        rt = app.state.runtime
        h = Harness(url, http, settings, rt.pool, fakes, f"bk{u}-", app, itertools.count(1), late)
        names = {p.name for p in providers}
        await wait_for(
            lambda: _known(rt.pool, names), timeout=60, what="the fake providers' announcements"
        )
        # Warm up: one booking all the way, so every consumer has joined before the tests time anything.
        warm = await h.book()
        await h.reaches(warm, "CONFIRMED", "FAILED", within=60)
        yield h
    await fakes.stop()


async def _known(pool: asyncpg.Pool, names: set[str]) -> bool:
    rows = await pool.fetch("SELECT name FROM providers")
    return names <= {r["name"] for r in rows}
