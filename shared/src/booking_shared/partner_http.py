"""The HTTP plumbing every partner client needs, whichever the partner.

- rate_limiter(): requests a second with a burst (aiolimiter); callers over the rate wait, none fail.
- deterministic_request_id(): the X-Request-Id of a write, uuid5 of (operation, idempotency key),
  so a retry, here or by the caller later with the same key, is the same request to the partner.
- backoff_delay(): exponential backoff with "equal jitter" (half the step fixed, half random).
- PartnerTransport: the base of a partner client. It owns the httpx.AsyncClient, the concurrency
  cap and the rate limiter; `_attempt()` sends one request under those limits and raises
  Ambiguous on a 5xx, a timeout or a connection error; `_call()` retries ambiguous attempts with
  backoff (tenacity, policy in `_retrying()`) and returns the first real answer. A 4xx is an
  answer and is never retried.

What stays with each client: its partner's paths and shapes, what an outage is called
(`_unavailable()`), how a failed attempt is logged (`_attempt_failed()`), and any write that
must look for its own ghost before it is sent again (built on `_attempt()` and `_retrying()`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Self

import httpx
from aiolimiter import AsyncLimiter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
)

from booking_shared.metrics import time_call

logger = logging.getLogger(__name__)

# What a request may fail with and still be retried: no answer came (or only half of one).
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


def rate_limiter(rate: float | None, burst: float | None = None) -> AsyncLimiter | None:
    """`rate` requests a second, at most `burst` at once after a quiet spell (aiolimiter's leaky
    bucket: capacity `burst`, draining at `rate` a second); callers over the rate wait, none fail.

    A rate of None or 0 means no limit (None is returned). The burst defaults to one second's
    worth (at least 1). A caller cancelled while it waits takes no capacity.
    """
    if rate is not None and rate < 0:
        raise ValueError("rate must not be negative (None or 0 means no limit)")
    size = float(burst) if burst is not None else max(1.0, float(rate or 1))
    if size < 1:
        raise ValueError("burst must be at least 1")
    if not rate:
        return None
    return AsyncLimiter(size, size / float(rate))


def deterministic_request_id(namespace: uuid.UUID, operation: str, idempotency_key: str) -> str:
    """uuid5(namespace, "<operation>:<idempotency key>"): stable across retries and restarts,
    distinct per operation, so one command id can drive a hold and a confirm."""
    return str(uuid.uuid5(namespace, f"{operation}:{idempotency_key}"))


def backoff_delay(retry: int, base: float, cap: float, rng: random.Random) -> float:
    """The wait before the `retry`-th retry (1 for the first): base * 2**(retry - 1), at most
    `cap`, with equal jitter (half of it fixed, half uniformly random)."""
    step = min(cap, base * (2 ** (retry - 1)))
    return step / 2 + rng.uniform(0, step / 2)


class Ambiguous(Exception):
    """One attempt ended without an answer (5xx, timeout, connection error): a write may or may
    not have happened. `last` is the exception or the HTTP status."""

    def __init__(self, last: BaseException | int) -> None:
        super().__init__(str(last))
        self.last = last


class RetriesExhausted(Exception):
    """Every attempt was ambiguous (what PartnerTransport raises unless a client says otherwise)."""

    def __init__(self, operation: str, attempts: int, last: BaseException | int | None) -> None:
        super().__init__(f"{operation}: no answer after {attempts} attempt(s): {last!r}")
        self.operation, self.attempts, self.last = operation, attempts, last


class PartnerTransport:
    """Base of a partner client, one per partner account: it owns the pool and the limits.

    At most `max_concurrency` requests are in flight and `rate_per_second` start (None or 0: no
    limit); the rest queue. Use as `async with Client(...) as c:` or call aclose().
    """

    partner = "partner"  # its name in the call-latency metric (each client sets its own)

    def __init__(
        self,
        base_url: str,
        timeout: float = 5.0,
        max_retries: int = 3,
        max_concurrency: int = 10,
        rate_per_second: float | None = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        burst: float | None = None,
        backoff_base: float = 0.1,
        backoff_max: float = 2.0,
        headers: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if max_retries < 0 or max_concurrency < 1:
            raise ValueError("max_retries must be >= 0 and max_concurrency >= 1")
        self.max_retries = max_retries
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self._rng = rng or random.Random()
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._limiter = rate_limiter(rate_per_second, burst)
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers=dict(headers or {}),
            limits=httpx.Limits(
                max_connections=max_concurrency, max_keepalive_connections=max_concurrency
            ),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- what a client may say differently ---------------------------------------------------

    def _attempt_failed(
        self, operation: str, path: str, attempt: int, attempts: int, last: BaseException | int
    ) -> None:
        """Called after each ambiguous attempt of `_call()` (attempt counts from 1)."""
        logger.warning(
            "partner %s attempt %d/%d failed: %r",
            operation,
            attempt,
            attempts,
            last,
            extra={"operation": operation, "path": path},
        )

    def _unavailable(
        self, operation: str, attempts: int, last: BaseException | int | None
    ) -> Exception:
        """The exception `_call()` raises when every attempt was ambiguous."""
        return RetriesExhausted(operation, attempts, last)

    # -- limits, one attempt, retries ----------------------------------------------------------

    def _backoff(self, retry: int) -> float:
        """The wait before the `retry`-th retry (1 for the first)."""
        return backoff_delay(retry, self.backoff_base, self.backoff_max, self._rng)

    async def _attempt(
        self, method: str, path: str, *, operation: str = "", **kwargs: Any
    ) -> httpx.Response:
        """One request under the concurrency and rate limits; raises Ambiguous on 5xx/timeouts.
        Its time (the request alone, not the wait for a turn) goes to the call-latency metric."""
        async with self._semaphore:
            if self._limiter is not None:
                await self._limiter.acquire()
            with time_call(self.partner, operation or method.lower()) as call:
                try:
                    resp = await self._http.request(method, path, **kwargs)
                except RETRYABLE_ERRORS as exc:
                    call["outcome"] = (
                        "timeout" if isinstance(exc, httpx.TimeoutException) else "network"
                    )
                    raise Ambiguous(exc) from exc
                code = resp.status_code
                call["outcome"] = "error" if code >= 500 else "rejected" if code >= 400 else "ok"
        if resp.status_code >= 500:
            raise Ambiguous(resp.status_code)
        return resp

    def _retrying(
        self,
        operation: str,
        path: str,
        on_failure: Callable[[int, BaseException | int], None] | None = None,
    ) -> AsyncRetrying:
        """The retry policy of every partner call: up to max_retries + 1 attempts, only on
        Ambiguous, the backoff of `_backoff()` between them, each failed attempt reported to
        `on_failure(attempt, last)` (by default `_attempt_failed()`). Exhausted, it raises
        tenacity's RetryError; `_call()` turns that into `_unavailable()`."""
        attempts = self.max_retries + 1

        def report(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            last: BaseException | int = exc.last if isinstance(exc, Ambiguous) else exc or 0
            if on_failure is not None:
                on_failure(state.attempt_number, last)
            else:
                self._attempt_failed(operation, path, state.attempt_number, attempts, last)

        return AsyncRetrying(
            stop=stop_after_attempt(attempts),
            retry=retry_if_exception_type(Ambiguous),
            wait=lambda state: self._backoff(state.attempt_number),
            after=report,
        )

    async def _call(self, operation: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Retry ambiguous attempts with backoff; return the first real answer (below 500)."""
        try:
            return await self._retrying(operation, path)(
                self._attempt, method, path, operation=operation, **kwargs
            )
        except RetryError as gave_up:
            last = gave_up.last_attempt.exception()
            attempts = gave_up.last_attempt.attempt_number
            raise self._unavailable(operation, attempts, getattr(last, "last", last)) from last
