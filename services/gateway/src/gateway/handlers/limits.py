"""Per-user token buckets (in Postgres, so that every gateway instance shares them)."""

from __future__ import annotations

from booking_shared.db import Connection
from gateway.adapters import postgres as db
from gateway.domain.errors import RateLimited
from gateway.domain.ratelimit import BucketRule
from gateway.handlers.deps import Deps
from gateway.metrics import RATE_LIMITED

QUOTES = "quotes"
BOOKINGS = "bookings"


def rule(deps: Deps, bucket: str) -> BucketRule:
    s = deps.settings
    if bucket == QUOTES:
        return BucketRule(s.rate_quotes_capacity, s.rate_quotes_per_minute)
    return BucketRule(s.rate_bookings_capacity, s.rate_bookings_per_minute)


async def take_or_refuse(deps: Deps, conn: Connection, user_id: str, bucket: str) -> None:
    """Take a token inside the caller's transaction, or raise RateLimited (429 + Retry-After)."""
    taken = await db.take_token(conn, user_id, bucket, rule(deps, bucket))
    if not taken.allowed:
        RATE_LIMITED.labels(bucket).inc()
        raise RateLimited(
            f"too many {bucket} requests; try again in {taken.retry_after_s} s", taken.retry_after_s
        )
