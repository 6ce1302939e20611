"""Opaque, roughly time-ordered ids with a type prefix (usr_, qt_, bk_)."""

from __future__ import annotations

import secrets
import time

from booking_shared.pan import looks_like_pan


def new_id(prefix: str) -> str:
    stamp = f"{int(time.time() * 1000):011x}"
    while True:
        candidate = f"{prefix}_{stamp}{secrets.token_hex(6)}"
        # Hex can spell a digit run that passes Luhn: such an id would be refused as a card
        # number wherever it is sent back to us (a path, a body), so it is never handed out.
        if not looks_like_pan(candidate):
            return candidate
