"""Start-up settings of the sandbox, read from EVENTBRITE_SANDBOX_* environment variables."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .faults import Faults

PREFIX = "EVENTBRITE_SANDBOX_"
# The fault fields that also have a variable (and a flag) of their own.
KNOBS = (
    "latency_ms",
    "error_rate",
    "ghost_rate",
    "ghost_mode",
    "ghost_timeout_seconds",
    "hold_ttl_seconds",
)


class SandboxSettings(BaseSettings):
    """EVENTBRITE_SANDBOX_FAULTS takes JSON, e.g. '{"error_rate": 0.1, "ghost_mode": "timeout"}';
    a knob's own variable (EVENTBRITE_SANDBOX_ERROR_RATE, ...) overrides the same field of it."""

    model_config = SettingsConfigDict(env_prefix=PREFIX)

    host: str = "127.0.0.1"
    port: int = Field(8104, ge=0, le=65535)
    seed: int = 42
    faults: Faults = Field(default_factory=Faults)
    log_level: str = "warning"
    latency_ms: float | None = None
    error_rate: float | None = None
    ghost_rate: float | None = None
    ghost_mode: Literal["5xx", "timeout"] | None = None
    ghost_timeout_seconds: float | None = None
    hold_ttl_seconds: float | None = None

    @classmethod
    def read(cls, env: Mapping[str, str] | None = None) -> SandboxSettings:
        """From the process environment, or from `env` (whose values win over it)."""
        if env is None:
            return cls()
        values: dict[str, Any] = {
            name[len(PREFIX) :].lower(): raw
            for name, raw in env.items()
            if name.startswith(PREFIX) and raw != ""
        }
        if "faults" in values:
            values["faults"] = json.loads(values["faults"])
        return cls(**values)

    def fault_fields(self) -> dict[str, Any]:
        """The fault fields set: FAULTS first, then each knob's own variable."""
        fields = self.faults.model_dump(exclude_unset=True)
        for name in KNOBS:
            if (value := getattr(self, name)) is not None:
                fields[name] = value
        return fields
