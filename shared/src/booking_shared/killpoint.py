"""Named kill points: a process that reaches an armed point SIGKILLs itself there, so that a
chaos run can stop a service exactly between an outside call and the commit that records it.
Dev and test only: the settings refuse an armed point in production (ServiceSettings)."""

from __future__ import annotations

import logging
import os
import random
import signal

from booking_shared.config import ServiceSettings

log = logging.getLogger(__name__)

_armed: tuple[str, float] | None = None


def configure(settings: ServiceSettings) -> None:
    """Arm the point the settings name (KILL_POINT, KILL_POINT_RATE), or disarm."""
    global _armed
    _armed = (
        (settings.kill_point, settings.kill_point_rate)
        if settings.kill_point and settings.kill_point_rate > 0
        else None
    )
    if _armed:
        log.warning("kill point armed", extra={"kill_point": _armed[0], "rate": _armed[1]})


def reached(name: str) -> None:
    """Die here (SIGKILL: no cleanup, no commit) when this point is armed and the dice say so."""
    if _armed is None or _armed[0] != name or random.random() >= _armed[1]:
        return
    log.warning("kill point reached; killing the process", extra={"kill_point": name})
    for handler in logging.getLogger().handlers:
        handler.flush()
    os.kill(os.getpid(), signal.SIGKILL)
