"""Fault knobs of the sandbox (latency, 5xx, ghost writes, short holds, stolen tables) and their dice."""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class LatencyDist(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dist: Literal["fixed", "uniform"] = Field("uniform", description="How latency is drawn.")
    ms: float = Field(0, ge=0, description="The latency when dist is 'fixed'.")
    min_ms: float = Field(0, ge=0)
    max_ms: float = Field(0, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> LatencyDist:
        if self.max_ms < self.min_ms:
            raise ValueError("max_ms must be >= min_ms")
        return self


class Faults(BaseModel):
    """What goes wrong on /v1 routes. PUT replaces the whole set; PATCH merges."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(0, ge=0, description="Fixed delay before every /v1 request.")
    latency: LatencyDist | None = Field(None, description="A drawn delay, added to latency_ms.")
    error_rate: float = Field(
        0, ge=0, le=1, description="Share of /v1 requests answered 5xx, no effect."
    )
    fail_next: int = Field(0, ge=0, description="The next N /v1 requests answer 503, no effect.")
    ghost_rate: float = Field(
        0,
        ge=0,
        le=1,
        description="Share of committed writes whose answer is lost (see ghost_mode).",
    )
    ghost_next: int = Field(0, ge=0, description="The next N committed writes are ghosts.")
    ghost_mode: Literal["5xx", "timeout"] = Field(
        "5xx",
        description="'5xx': answer 503 after the commit; 'timeout': sleep ghost_delay_ms first.",
    )
    ghost_delay_ms: float = Field(5000, ge=0, description="How long a 'timeout' ghost sleeps.")
    lock_ttl_seconds: float | None = Field(
        None, gt=0, description="Lifetime of new slot locks (default 180 s)."
    )
    steal_next_confirm: int = Field(
        0,
        ge=0,
        description="The next N reservations find their locked table taken: 409 slot_taken.",
    )
    confirm_reject_rate: float = Field(
        0,
        ge=0,
        le=1,
        description="Share of reservations refused 409 slot_taken (the lock is lost and no table "
        "is used): a steady partner rejection rate for load runs.",
    )

    @field_validator("steal_next_confirm", "fail_next", "ghost_next", mode="before")
    @classmethod
    def _bool_is_one(cls, value: object) -> object:
        if isinstance(value, bool):
            return int(value)
        return value


class FaultDice:
    """The current faults plus a seeded generator, so a run with the same seed fails the same way."""

    def __init__(self, faults: Faults, seed: int) -> None:
        self.reset(faults, seed)

    def reset(self, faults: Faults, seed: int) -> None:
        self.faults = faults
        self._rng = random.Random(seed ^ 0x5EED)

    def latency_seconds(self) -> float:
        f = self.faults
        ms = f.latency_ms
        if f.latency is not None:
            if f.latency.dist == "fixed":
                ms += f.latency.ms
            else:
                ms += self._rng.uniform(f.latency.min_ms, f.latency.max_ms)
        return ms / 1000

    def error_status(self) -> int | None:
        """A 5xx status to answer instead of running the request, or None."""
        f = self.faults
        if f.fail_next > 0:
            f.fail_next -= 1
            return 503
        if f.error_rate > 0 and self._rng.random() < f.error_rate:
            return self._rng.choice((500, 502, 503))
        return None

    def ghost(self) -> Literal["5xx", "timeout"] | None:
        f = self.faults
        if f.ghost_next > 0:
            f.ghost_next -= 1
            return f.ghost_mode
        if f.ghost_rate > 0 and self._rng.random() < f.ghost_rate:
            return f.ghost_mode
        return None

    def reject(self) -> bool:
        rate = self.faults.confirm_reject_rate
        return rate > 0 and self._rng.random() < rate

    def steal(self) -> bool:
        if self.faults.steal_next_confirm > 0:
            self.faults.steal_next_confirm -= 1
            return True
        return False
