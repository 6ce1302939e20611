"""Every request to a partner is timed, by partner, operation and outcome."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import REGISTRY

from booking_shared.partner_http import PartnerTransport, RetriesExhausted


class Tables(PartnerTransport):
    partner = "tables-test"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def count(operation: str, outcome: str) -> float:
    return sample(
        "booking_partner_call_duration_seconds_count",
        provider="tables-test",
        operation=operation,
        outcome=outcome,
    )


def client(handler) -> Tables:  # type: ignore[no-untyped-def]
    return Tables(
        "http://partner.test",
        transport=httpx.MockTransport(handler),
        max_retries=2,
        rate_per_second=None,
        backoff_base=0.001,
        backoff_max=0.002,
    )


async def test_answers_are_timed_as_ok_or_rejected() -> None:
    codes = iter([200, 409])
    async with client(lambda req: httpx.Response(next(codes))) as c:
        before = count("lock", "ok"), count("lock", "rejected")
        await c._call("lock", "POST", "/locks")
        await c._call("lock", "POST", "/locks")
    assert (count("lock", "ok"), count("lock", "rejected")) == (before[0] + 1, before[1] + 1)
    assert (
        sample(
            "booking_partner_call_duration_seconds_sum",
            provider="tables-test",
            operation="lock",
            outcome="ok",
        )
        > 0
    )


async def test_each_failed_attempt_is_timed_as_error_or_timeout() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/slow":
            raise httpx.ReadTimeout("no answer", request=req)
        return httpx.Response(503)

    async with client(handler) as c:
        errors, timeouts = count("reserve", "error"), count("cancel", "timeout")
        with pytest.raises(RetriesExhausted):
            await c._call("reserve", "POST", "/reserve")
        with pytest.raises(RetriesExhausted):
            await c._call("cancel", "POST", "/slow")
    assert count("reserve", "error") == errors + 3  # three attempts, each timed
    assert count("cancel", "timeout") == timeouts + 3


async def test_a_direct_attempt_without_an_operation_is_named_by_its_method() -> None:
    async with client(lambda req: httpx.Response(200)) as c:
        before = count("get", "ok")
        await c._attempt("GET", "/x")
    assert count("get", "ok") == before + 1
