"""Fault knobs of the sandbox (latency, 5xx, ghost writes, short holds, stolen tickets). A leaf:
the middleware that applies them is edge.py, the state that reads them is state.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class LatencyDist(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dist: Literal["fixed", "uniform"] = Field("uniform", description="Latency distribution.")
    ms: float | None = Field(None, ge=0, description="Fixed latency, for dist=fixed.")
    min_ms: float = Field(0, ge=0, description="Lower bound, for dist=uniform.")
    max_ms: float = Field(0, ge=0, description="Upper bound, for dist=uniform.")

    @model_validator(mode="after")
    def _bounds(self) -> LatencyDist:
        if self.dist == "uniform" and self.max_ms < self.min_ms:
            raise ValueError("max_ms must be >= min_ms")
        return self


class Faults(BaseModel):
    """What goes wrong, on /v3 and /partner routes only (never /_admin)."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(0, ge=0, description="Fixed extra latency per request.")
    latency: LatencyDist | None = Field(
        None, description="A latency distribution (wins over latency_ms)."
    )
    error_rate: float = Field(
        0, ge=0, le=1, description="Share of requests answered 5xx, with no effect."
    )
    error_status: int = Field(503, ge=500, le=599, description="The status those errors carry.")
    fail_next: int = Field(
        0, ge=0, description="The next N requests fail with error_status, no effect."
    )
    ghost_rate: float = Field(
        0, ge=0, le=1, description="Share of writes that commit but lose the answer."
    )
    ghost_mode: Literal["5xx", "timeout"] = Field(
        "5xx", description="5xx: answer 503 after committing; timeout: sleep, then answer late."
    )
    ghost_timeout_seconds: float = Field(
        30, ge=0, description="How long timeout-mode ghosts sleep."
    )
    hold_ttl_seconds: float | None = Field(None, gt=0, description="Hold lifetime (default 900 s).")
    steal_next_confirm: bool = Field(
        False, description="The next order finds its tickets bought by someone else: 409 SOLD_OUT."
    )
    confirm_reject_rate: float = Field(
        0,
        ge=0,
        le=1,
        description="Share of orders refused 409 SOLD_OUT (the hold is lost, its tickets return "
        "to sale): a steady partner rejection rate for load runs.",
    )
    seed: int | None = Field(
        None, description="Seed of the fault dice (default: the sandbox seed)."
    )

    def delay_seconds(self, rng: Any) -> float:
        if self.latency is not None:
            if self.latency.dist == "fixed":
                return (self.latency.ms or 0) / 1000
            return rng.uniform(self.latency.min_ms, self.latency.max_ms) / 1000
        return self.latency_ms / 1000
