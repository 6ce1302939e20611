"""Password hashing with Argon2id (argon2-cffi): hashes are PHC strings that carry their own
parameters and salt, so a change of parameters takes effect as people sign in (rehash). Hashing
costs tens of milliseconds and its memory cost (64 MiB by default), so it runs in a thread, a
few at a time, never on the event loop."""

from __future__ import annotations

import asyncio
import secrets
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Passwords:
    def __init__(self, *, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4):
        # The defaults are argon2-cffi's (RFC 9106's low-memory choice).
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        # Each hash holds its memory cost while it runs: bound how many run at once.
        self._slots = asyncio.Semaphore(2)

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    @cached_property
    def _stand_in(self) -> str:
        """A hash no password matches, verified when the account is unknown or has no password,
        so that the answer takes as long as for a wrong password (no account enumeration by
        time)."""
        return self._hasher.hash(secrets.token_urlsafe(32))

    def _verify(self, stored: str | None, password: str) -> tuple[bool, bool]:
        try:
            ok = self._hasher.verify(stored or self._stand_in, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False, False
        if stored is None or not ok:
            return False, False
        return True, self._hasher.check_needs_rehash(stored)

    async def verify(self, stored: str | None, password: str) -> tuple[bool, bool]:
        """(matches, needs a new hash with today's parameters). `stored` None never matches, at
        the same cost as a wrong password."""
        async with self._slots:
            return await asyncio.to_thread(self._verify, stored, password)
