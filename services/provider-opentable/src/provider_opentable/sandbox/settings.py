"""Start-up settings of the sandbox, read from OPENTABLE_SANDBOX_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .faults import Faults


class SandboxSettings(BaseSettings):
    """OPENTABLE_SANDBOX_FAULTS takes JSON, e.g. '{"error_rate": 0.1, "ghost_mode": "timeout"}'."""

    model_config = SettingsConfigDict(env_prefix="OPENTABLE_SANDBOX_")

    host: str = "127.0.0.1"
    port: int = Field(8103, ge=0, le=65535)
    seed: int = 42
    faults: Faults = Field(default_factory=Faults)
    log_level: str = "info"
