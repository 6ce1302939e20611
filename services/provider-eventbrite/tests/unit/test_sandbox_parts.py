"""Pure parts of the sandbox: the seeded catalogue, policies, CLI faults (the token bucket is
shared: see shared/tests/unit/test_partner_http.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from provider_eventbrite.sandbox.__main__ import parse_args
from provider_eventbrite.sandbox.catalogue import FLEXIBLE, NO_REFUNDS, STANDARD, build_catalogue


def test_the_same_seed_and_day_build_the_same_catalogue():
    a, b = build_catalogue(42, date(2030, 3, 1)), build_catalogue(42, date(2030, 3, 1))
    assert list(a.events) == list(b.events) and list(a.ticket_classes) == list(b.ticket_classes)
    assert [e.start_utc for e in a.events.values()] == [e.start_utc for e in b.events.values()]
    assert list(build_catalogue(7, date(2030, 3, 1)).events) != list(a.events)
    assert len(a.events) == 30 and len(a.venues) == 8


def test_event_times_are_lisbon_wall_times_across_summer_time():
    cat = build_catalogue(42, date(2030, 3, 20))  # spans the end-of-March clock change
    offsets = {
        e.start_utc.hour - e.start_local.hour
        for e in cat.events.values()
        if e.start_local.day == e.start_utc.day
    }
    assert offsets == {0, -1}  # WET in winter, WEST (UTC+1) in summer


@pytest.mark.parametrize(
    ("policy", "hours", "percent"),
    [
        (STANDARD, 168, 100),
        (STANDARD, 167.9, 50),
        (STANDARD, 48, 50),
        (STANDARD, 47.9, 0),
        (FLEXIBLE, 24, 100),
        (FLEXIBLE, 23, 0),
        (NO_REFUNDS, 1000, 0),
    ],
)
def test_refund_policy_bands(policy, hours, percent):
    assert policy.percent_at(hours) == percent


def test_faults_come_from_env_then_flags():
    env = {
        "EVENTBRITE_SANDBOX_ERROR_RATE": "0.2",
        "EVENTBRITE_SANDBOX_GHOST_MODE": "timeout",
        "EVENTBRITE_SANDBOX_FAULTS": '{"hold_ttl_seconds": 30}',
        "EVENTBRITE_SANDBOX_PORT": "9999",
    }
    args, faults = parse_args(["--error-rate", "0.5", "--latency-uniform", "10,20"], env=env)
    assert args.port == 9999 and args.host == "127.0.0.1"
    assert (
        faults.error_rate == 0.5
        and faults.ghost_mode == "timeout"
        and faults.hold_ttl_seconds == 30
    )
    assert faults.latency is not None and (faults.latency.min_ms, faults.latency.max_ms) == (10, 20)


def test_a_fixed_clock_makes_the_sandbox_deterministic():
    from provider_eventbrite.sandbox.state import Sandbox

    fixed = datetime(2030, 3, 1, 12, tzinfo=UTC)
    a, b = Sandbox(seed=1, clock=lambda: fixed), Sandbox(seed=1, clock=lambda: fixed)
    assert list(a.catalogue.events) == list(b.catalogue.events) and a.now() == fixed
