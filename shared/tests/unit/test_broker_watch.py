"""The broker watch's decision and loop, and the repeat limit on broker-client log lines."""

from __future__ import annotations

import asyncio
import logging

import pytest

from booking_shared import broker_watch
from booking_shared.broker_watch import BrokerState
from booking_shared.config import ServiceSettings
from booking_shared.logs import RepeatLimit

OURS = {"booking.requests.v1", "booking.events.v1"}


def test_a_broker_that_holds_our_topics_needs_nothing():
    state = BrokerState()
    assert state.observe(OURS | {"other.v1"}, OURS) is False
    assert state.lost is False


def test_a_broker_that_answers_without_some_of_our_topics_needs_rebuilding():
    assert BrokerState().observe({"booking.events.v1"}, OURS) is True
    assert BrokerState().observe(set(), OURS) is True


def test_a_broker_back_after_being_away_needs_rebuilding_even_with_its_topics_until_done():
    state = BrokerState()
    assert state.observe(None, OURS) is False  # away: nothing to rebuild against yet
    assert state.observe(None, OURS) is False
    assert state.observe(OURS, OURS) is True  # back, data kept or not: new consumer
    assert state.observe(OURS, OURS) is True  # the rebuild has not succeeded yet
    state.recovered()
    assert state.observe(OURS, OURS) is False


async def test_the_watch_rebuilds_once_when_the_broker_comes_back_and_again_if_that_failed():
    answers = iter([OURS, None, None, OURS, OURS, OURS, OURS])
    calls: list[str] = []
    done = asyncio.Event()

    async def lister() -> set[str] | None:
        try:
            return next(answers)
        except StopIteration:
            done.set()
            return OURS

    async def recover() -> None:
        calls.append("rebuild")
        if len(calls) == 1:
            raise ConnectionError("broker went away again")

    settings = ServiceSettings(service_name="watch-test", broker_watch_interval_s=0.01)
    task = asyncio.create_task(broker_watch.watch(settings, sorted(OURS), recover, lister=lister))
    await asyncio.wait_for(done.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert calls == ["rebuild", "rebuild"]  # the first failed, the second held; none after


def _record(name: str, msg: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_one_broker_error_repeating_is_let_through_once_per_window_with_a_count():
    now = [0.0]
    limit = RepeatLimit(window_s=30, clock=lambda: now[0])
    template = "OffsetCommit failed for group %s on partition %s: %s"
    first = _record(
        "aiokafka.consumer.group_coordinator",
        template,
        "gateway",
        0,
        "UnknownTopicOrPartitionError",
    )
    assert limit.filter(first)
    passed = 0
    for i in range(1000):  # every partition, every poll
        now[0] += 0.01
        passed += limit.filter(
            _record("aiokafka.consumer.group_coordinator", template, "gateway", i % 4, "x")
        )
    assert passed == 0
    now[0] = 31.0
    later = _record(
        "aiokafka.consumer.group_coordinator",
        template,
        "gateway",
        2,
        "UnknownTopicOrPartitionError",
    )
    assert limit.filter(later)
    assert later.repeated == 1000
    assert later.getMessage() == (
        "OffsetCommit failed for group gateway on partition 2: UnknownTopicOrPartitionError (and 1000 more like it since)"
    )


def test_other_templates_loggers_and_levels_are_not_held_back():
    now = [0.0]
    limit = RepeatLimit(window_s=30, clock=lambda: now[0])
    assert limit.filter(_record("aiokafka", "Unable to update metadata from [%s]", 111))
    assert limit.filter(
        _record("aiokafka", "Unable connect to node with id %s: %s", 111, "refused")
    )
    for _ in range(3):  # our own errors and the client's debug and info lines all pass
        assert limit.filter(_record("orchestrator.handlers", "saga state changed"))
        assert limit.filter(
            _record("aiokafka", "Unable to update metadata from [%s]", 111, level=logging.INFO)
        )
    assert not limit.filter(_record("aiokafka", "Unable to update metadata from [%s]", 111))


def test_the_routers_retries_are_held_back_but_its_handler_failures_are_not():
    """While the database is away, each record in flight is tried again every few seconds and
    offsets fail to commit every second: one line per window. A handler failing is about one
    message, and each is kept."""
    now = [0.0]
    limit = RepeatLimit(window_s=30, clock=lambda: now[0])
    retry = "booking_shared.messaging.retries"
    assert limit.filter(_record(retry, "record not handled; will try again", level=logging.WARNING))
    for _ in range(50):
        now[0] += 0.2
        assert not limit.filter(
            _record(retry, "record not handled; will try again", level=logging.WARNING)
        )
        assert limit.filter(
            _record("booking_shared.messaging", "handler failed", level=logging.WARNING)
        )
    assert limit.filter(
        _record(retry, "offset commit failed; will try again", level=logging.WARNING)
    )
