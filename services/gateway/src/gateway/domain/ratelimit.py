"""Token bucket maths: a bucket of `capacity` tokens refilled at `per_minute`; a request takes one."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class BucketRule:
    capacity: int
    per_minute: float

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


@dataclass(frozen=True)
class Take:
    allowed: bool
    tokens: float
    retry_after_s: int


def take(rule: BucketRule, tokens: float | None, elapsed_s: float) -> Take:
    """Refill for the time elapsed since the last take, then take one token if there is one.
    `tokens=None` is a bucket never used (full)."""
    level = (
        float(rule.capacity)
        if tokens is None
        else min(rule.capacity, tokens + max(0.0, elapsed_s) * rule.per_second)
    )
    if level >= 1.0:
        return Take(True, level - 1.0, 0)
    wait = (1.0 - level) / rule.per_second
    return Take(False, level, max(1, math.ceil(wait)))
