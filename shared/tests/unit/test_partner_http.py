"""The partner HTTP plumbing: the token bucket, request ids, backoff, and the transport's retry
rules (5xx, timeouts and connection errors are retried; a 4xx is an answer), without a server."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable

import httpx
import pytest

from booking_shared.partner_http import (
    RETRYABLE_ERRORS,
    Ambiguous,
    PartnerTransport,
    RetriesExhausted,
    backoff_delay,
    deterministic_request_id,
    rate_limiter,
)

# -- the rate limiter (aiolimiter, on the loop's own clock) ---------------------------------


async def _start_times(limiter, n: int, spawn: bool = False) -> list[float]:
    """When each of n callers got through, in seconds from the first call."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    starts: list[float] = []

    async def go() -> None:
        await limiter.acquire()
        starts.append(loop.time() - t0)

    if spawn:
        await asyncio.gather(*(go() for _ in range(n)))
    else:
        for _ in range(n):
            await go()
    return starts


async def test_the_limiter_lets_a_burst_through_then_spaces_callers_out():
    limiter = rate_limiter(rate=20, burst=3)
    starts = await _start_times(limiter, 5)
    assert all(s < 0.04 for s in starts[:3])  # the burst, at once
    assert starts[3] >= 0.05 * 0.9 and starts[4] >= 0.10 * 0.9  # then one every 1/rate


async def test_the_limiter_refills_with_time_up_to_its_burst():
    limiter = rate_limiter(rate=20, burst=2)
    await _start_times(limiter, 2)
    await asyncio.sleep(0.3)  # long enough to refill far more than the burst
    starts = await _start_times(limiter, 3)
    assert all(s < 0.04 for s in starts[:2]) and starts[2] >= 0.05 * 0.9


async def test_no_rate_means_no_limiter_and_no_waiting():
    assert rate_limiter(rate=None) is None
    async with PartnerTransport("http://partner.test", rate_per_second=None) as t:
        assert t._limiter is None


async def test_the_limiter_spaces_concurrent_callers_at_the_rate():
    limiter = rate_limiter(rate=20, burst=2)
    starts = await _start_times(limiter, 6, spawn=True)
    assert starts[1] < 0.04  # the burst
    gaps = [b - a for a, b in zip(starts[1:], starts[2:], strict=False)]
    assert len(gaps) == 4 and starts[-1] - starts[1] >= 4 * 0.05 * 0.9


async def test_a_zero_rate_means_no_waiting_too():
    assert rate_limiter(rate=0) is None


async def test_the_burst_defaults_to_one_seconds_worth_and_at_least_one():
    assert rate_limiter(rate=20).max_rate == 20
    assert rate_limiter(rate=0.5).max_rate == 1
    limiter = rate_limiter(rate=20)
    assert limiter.max_rate / limiter.time_period == pytest.approx(20)
    starts = await _start_times(rate_limiter(rate=10), 11)
    assert all(s < 0.04 for s in starts[:10]) and starts[10] >= 0.1 * 0.9


def test_a_negative_rate_or_a_burst_below_one_is_refused():
    with pytest.raises(ValueError):
        rate_limiter(rate=-1)
    with pytest.raises(ValueError):
        rate_limiter(rate=10, burst=0.5)
    with pytest.raises(ValueError):
        rate_limiter(rate=10, burst=0)


async def test_a_caller_cancelled_while_waiting_takes_no_capacity():
    loop = asyncio.get_running_loop()
    limiter = rate_limiter(rate=4, burst=1)  # one every 0.25 s
    await limiter.acquire()  # the burst
    t0 = loop.time()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await limiter.acquire()  # waits for the second slot only, not a third
    waited = loop.time() - t0
    assert 0.25 * 0.9 <= waited < 0.45


# -- request ids and backoff ------------------------------------------------------------------

NAMESPACE = uuid.UUID("6f1d3c2e-0a53-5b7e-9a1c-0e7a0b1e5a11")


def test_request_ids_are_uuid5_of_the_operation_and_the_key():
    same = deterministic_request_id(NAMESPACE, "hold", "cmd-1")
    assert same == str(uuid.uuid5(NAMESPACE, "hold:cmd-1"))
    assert same == deterministic_request_id(NAMESPACE, "hold", "cmd-1")
    assert same != deterministic_request_id(NAMESPACE, "hold", "cmd-2")
    assert same != deterministic_request_id(NAMESPACE, "confirm", "cmd-1")
    assert same != deterministic_request_id(uuid.uuid4(), "hold", "cmd-1")


class EdgeRng(random.Random):
    """uniform(a, b) at one end of the range."""

    def __init__(self, high: bool) -> None:
        super().__init__()
        self.high = high

    def uniform(self, a: float, b: float) -> float:
        return b if self.high else a


@pytest.mark.parametrize(
    ("retry", "low", "high"),
    [(1, 0.05, 0.1), (2, 0.1, 0.2), (3, 0.2, 0.4), (4, 0.25, 0.5), (10, 0.5, 1.0)],
)
def test_backoff_doubles_up_to_the_cap_with_half_of_it_random(retry, low, high):
    cap = 1.0 if retry == 10 else 0.5
    assert backoff_delay(retry, 0.1, cap, EdgeRng(high=False)) == pytest.approx(low)
    assert backoff_delay(retry, 0.1, cap, EdgeRng(high=True)) == pytest.approx(high)
    delay = backoff_delay(retry, 0.1, cap, random.Random(7))
    assert low <= delay <= high
    assert delay == backoff_delay(retry, 0.1, cap, random.Random(7))


# -- the transport ----------------------------------------------------------------------------


class Script:
    """A transport that answers from a list of handlers, one per request, and records requests."""

    def __init__(self, *answers: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)(request)


def answer(status: int) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json={"status": status})


def fails(exc: type[httpx.RequestError]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("no answer", request=request)

    return handler


def transport_for(script: Script | httpx.MockTransport, **kw) -> PartnerTransport:
    opts = {
        "timeout": 1.0,
        "max_retries": 3,
        "max_concurrency": 4,
        "rate_per_second": None,
        "backoff_base": 0.001,
        "backoff_max": 0.002,
    }
    opts.update(kw)
    mock = script if isinstance(script, httpx.MockTransport) else httpx.MockTransport(script)
    return PartnerTransport("http://partner.test", transport=mock, **opts)


@pytest.mark.parametrize(
    "failure",
    [
        answer(500),
        answer(502),
        answer(503),
        fails(httpx.ReadTimeout),
        fails(httpx.ConnectTimeout),
        fails(httpx.ConnectError),
        fails(httpx.ReadError),
        fails(httpx.RemoteProtocolError),
    ],
)
async def test_5xx_timeouts_and_connection_errors_are_retried(failure):
    script = Script(failure, failure, answer(200))
    async with transport_for(script) as t:
        resp = await t._call("read", "GET", "/thing", params={"q": "x"})
    assert resp.status_code == 200 and len(script.requests) == 3
    assert {str(r.url) for r in script.requests} == {"http://partner.test/thing?q=x"}


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422, 429])
async def test_a_4xx_is_an_answer_and_is_never_retried(status):
    script = Script(answer(status))
    async with transport_for(script) as t:
        resp = await t._call("write", "POST", "/thing", json={})
    assert resp.status_code == status and len(script.requests) == 1


async def test_an_error_that_is_not_an_outage_is_raised_at_once():
    script = Script(fails(httpx.UnsupportedProtocol))
    async with transport_for(script) as t:
        with pytest.raises(httpx.UnsupportedProtocol):
            await t._call("read", "GET", "/thing")
    assert len(script.requests) == 1
    assert not issubclass(httpx.UnsupportedProtocol, RETRYABLE_ERRORS)


async def test_one_attempt_raises_ambiguous_with_the_status_or_the_error():
    script = Script(answer(503), fails(httpx.ConnectError), answer(404))
    async with transport_for(script) as t:
        with pytest.raises(Ambiguous) as first:
            await t._attempt("GET", "/thing")
        with pytest.raises(Ambiguous) as second:
            await t._attempt("GET", "/thing")
        assert (await t._attempt("GET", "/thing")).status_code == 404
    assert first.value.last == 503
    assert isinstance(second.value.last, httpx.ConnectError)
    assert second.value.__cause__ is second.value.last


async def test_only_an_outage_past_the_retries_raises():
    script = Script(answer(500), fails(httpx.ReadTimeout), answer(502))
    async with transport_for(script, max_retries=2) as t:
        with pytest.raises(RetriesExhausted) as err:
            await t._call("search", "GET", "/thing")
    assert (err.value.operation, err.value.attempts, err.value.last) == ("search", 3, 502)


async def test_no_retries_means_one_attempt():
    script = Script(answer(503))
    async with transport_for(script, max_retries=0) as t:
        with pytest.raises(RetriesExhausted) as err:
            await t._call("search", "GET", "/thing")
    assert err.value.attempts == 1 and len(script.requests) == 1


class Reporting(PartnerTransport):
    """A client that says how its outages read."""

    failures: list[tuple[str, str, int, int, object]]

    def _attempt_failed(self, operation, path, attempt, attempts, last) -> None:
        self.failures.append((operation, path, attempt, attempts, last))

    def _unavailable(self, operation, attempts, last) -> Exception:
        return LookupError(f"{operation} {attempts} {last}")


async def test_a_client_says_how_failed_attempts_and_outages_read():
    script = Script(answer(500), answer(503))
    t = Reporting(
        "http://partner.test",
        max_retries=1,
        rate_per_second=None,
        backoff_base=0.001,
        transport=httpx.MockTransport(script),
    )
    t.failures = []
    async with t:
        with pytest.raises(LookupError, match="^cancel 2 503$"):
            await t._call("cancel", "POST", "/orders/1/cancel")
    assert t.failures == [
        ("cancel", "/orders/1/cancel", 1, 2, 500),
        ("cancel", "/orders/1/cancel", 2, 2, 503),
    ]


async def test_the_backoff_before_each_retry_follows_the_rng():
    t = transport_for(Script(), rng=random.Random(3), backoff_base=0.1, backoff_max=2.0)
    try:
        expected = random.Random(3)
        for retry in (1, 2, 3, 4):
            assert t._backoff(retry) == backoff_delay(retry, 0.1, 2.0, expected)
    finally:
        await t.aclose()


async def test_headers_and_base_url_go_with_every_request():
    script = Script(answer(200))
    t = PartnerTransport(
        "http://partner.test/api/",
        headers={"Authorization": "Bearer k"},
        transport=httpx.MockTransport(script),
    )
    async with t:
        await t._call("read", "GET", "v1/things")
    [request] = script.requests
    assert str(request.url) == "http://partner.test/api/v1/things"
    assert request.headers["Authorization"] == "Bearer k"


async def test_the_concurrency_limit_caps_requests_in_flight():
    in_flight, peak = 0, 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200)

    async with transport_for(httpx.MockTransport(slow), max_concurrency=3) as t:
        await asyncio.gather(*(t._call("read", "GET", "/thing") for _ in range(10)))
    assert peak == 3


async def test_the_rate_limit_queues_requests_instead_of_failing_them():
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    def record(request: httpx.Request) -> httpx.Response:
        starts.append(loop.time())
        return httpx.Response(200)

    async with transport_for(httpx.MockTransport(record), rate_per_second=50, burst=1) as t:
        await asyncio.gather(*(t._call("read", "GET", "/thing") for _ in range(6)))
    assert len(starts) == 6
    assert starts[-1] - starts[0] >= 5 / 50 * 0.9  # one at once, then one every 20 ms


def test_nonsense_limits_are_refused():
    with pytest.raises(ValueError):
        PartnerTransport("http://partner.test", max_retries=-1)
    with pytest.raises(ValueError):
        PartnerTransport("http://partner.test", max_concurrency=0)


async def test_leaving_the_context_closes_the_pool():
    t = transport_for(Script())
    async with t as same:
        assert same is t
    assert t._http.is_closed
