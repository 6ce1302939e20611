"""Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): key syntax and request fingerprints."""

from __future__ import annotations

import hashlib
import json
from typing import Any

MAX_KEY_LENGTH = 255
# The header as sent: a key of printable ASCII (no space, no quote), bare or as an sf-string.
KEY_PATTERN = r'^(?:"[!#-~]{1,255}"|[!#-~]{1,255})$'


def normalize(key: str | None) -> str | None:
    """The draft sends the key as a structured-field string ("..."); plain tokens are accepted too."""
    if key is None:
        return None
    key = key.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    return key


def key_problem(key: str | None) -> str | None:
    """Why a (normalized) key is unusable, or None."""
    if key is None or key == "":
        return "the Idempotency-Key header is required on this request"
    if len(key) > MAX_KEY_LENGTH:
        return f"the Idempotency-Key header is longer than {MAX_KEY_LENGTH} characters"
    if not all(33 <= ord(c) <= 126 and c != '"' for c in key):
        return "the Idempotency-Key header must be printable ASCII without spaces or quotes"
    return None


def fingerprint(method: str, path: str, body: Any) -> str:
    """The same request (whatever its JSON formatting) gives the same fingerprint."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method.upper()} {path}\n{canonical}".encode()).hexdigest()
