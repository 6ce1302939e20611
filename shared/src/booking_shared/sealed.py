"""Sealed guest contact: the gateway seals it, only services holding GUEST_DATA_KEY open it,
so name, email and phone never stand readable on a topic (public or not)."""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken
from pydantic import BaseModel, ConfigDict, Field


class GuestContact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field("", max_length=100)
    email: str = Field(min_length=3, max_length=254)
    phone: str = Field("", max_length=32)


class SealError(ValueError):
    pass


def _fernet(key: str) -> Fernet:
    # Any passphrase works: it is stretched to a Fernet key (32 url-safe base64 bytes).
    digest = hashlib.sha256(key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(guest: GuestContact, key: str) -> str:
    return _fernet(key).encrypt(guest.model_dump_json().encode()).decode()


def unseal(token: str, key: str) -> GuestContact:
    try:
        raw = _fernet(key).decrypt(token.encode())
    except (InvalidToken, ValueError) as exc:
        raise SealError("guest data cannot be opened with this key") from exc
    return GuestContact.model_validate(json.loads(raw))


__all__ = ["GuestContact", "SealError", "seal", "unseal"]
