"""Token bucket maths."""

from __future__ import annotations

from gateway.domain.ratelimit import BucketRule, take

RULE = BucketRule(capacity=3, per_minute=6)  # one token every 10 s


def test_a_new_bucket_is_full():
    t = take(RULE, None, 0)
    assert t.allowed and t.tokens == 2


def test_an_empty_bucket_refuses_and_says_when_to_retry():
    t = take(RULE, 0.0, 0)
    assert not t.allowed and t.retry_after_s == 10
    t = take(RULE, 0.5, 0)
    assert not t.allowed and t.retry_after_s == 5


def test_the_bucket_refills_with_time_up_to_its_capacity():
    assert take(RULE, 0.0, 10).allowed
    assert take(RULE, 0.0, 3600).tokens == 2  # capped at capacity, minus the one taken
