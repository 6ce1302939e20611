"""Opaque, roughly time-ordered ids with a type prefix (usr_, qt_, bk_)."""

from __future__ import annotations

import secrets
import time


def new_id(prefix: str) -> str:
    return f"{prefix}_{int(time.time() * 1000):011x}{secrets.token_hex(6)}"
