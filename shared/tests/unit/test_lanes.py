"""Lanes (per-key order, keys at once, a bound) and the offset book (what may be committed)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition

from booking_shared.config import ServiceSettings
from booking_shared.lanes import Lanes, OffsetBook
from booking_shared.messaging import MessageRouter


async def test_one_keys_work_runs_in_order_and_another_key_does_not_wait_for_it() -> None:
    lanes = Lanes(limit=8)
    gate = asyncio.Event()
    done: list[str] = []

    def work(name: str, wait: bool = False):  # type: ignore[no-untyped-def]
        async def run() -> None:
            if wait:
                await gate.wait()
            done.append(name)

        return run

    await lanes.submit("a", work("a1", wait=True))
    await lanes.submit("a", work("a2"))
    await lanes.submit("b", work("b1"))
    await lanes.submit("b", work("b2"))
    await asyncio.sleep(0.05)
    assert done == ["b1", "b2"]  # a1 is held; a2 waits behind it; b ran
    gate.set()
    assert await lanes.drain(1)
    assert done == ["b1", "b2", "a1", "a2"]
    assert len(lanes) == 0


async def test_a_failing_work_does_not_stop_its_key() -> None:
    lanes = Lanes(limit=2)
    done: list[str] = []

    async def boom() -> None:
        raise RuntimeError("x")

    async def after() -> None:
        done.append("after")

    await lanes.submit("k", boom)
    await lanes.submit("k", after)
    await lanes.drain(1)
    assert done == ["after"]


async def test_submit_waits_while_the_limit_is_reached() -> None:
    lanes = Lanes(limit=2)
    gate = asyncio.Event()

    async def held() -> None:
        await gate.wait()

    await lanes.submit("a", held)
    await lanes.submit("b", held)
    third = asyncio.create_task(lanes.submit("c", held))
    await asyncio.sleep(0.05)
    assert not third.done()
    gate.set()
    await asyncio.wait_for(third, 1)
    assert await lanes.drain(1)


async def test_drain_reports_what_did_not_finish_and_cancel_stops_it() -> None:
    lanes = Lanes(limit=2)
    await lanes.submit("a", asyncio.Event().wait)
    assert not await lanes.drain(0.05)
    await lanes.cancel()
    assert len(lanes) == 0


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        Lanes(limit=0)


def test_the_commit_point_is_the_lowest_unfinished_offset_then_the_one_after_the_last() -> None:
    book: OffsetBook[str] = OffsetBook()
    s = [book.read("p0", n) for n in (10, 11, 12)]
    assert book.due() == {"p0": 10}
    s[1].done(11)
    assert book.due() == {"p0": 10}  # 10 is still running
    s[0].done(10)
    assert book.due() == {"p0": 12}
    book.committed({"p0": 12})
    assert book.due() == {}  # nothing moved since
    s[2].done(12)
    assert book.due() == {"p0": 13}
    assert book.in_flight() == 0


def test_only_the_partitions_held_now_are_due() -> None:
    book: OffsetBook[str] = OffsetBook()
    book.read("p0", 1).done(1)
    book.read("p1", 5).done(5)
    assert book.due(["p1"]) == {"p1": 6}


def test_reading_back_starts_a_new_stretch_and_the_old_one_no_longer_holds_the_point() -> None:
    book: OffsetBook[str] = OffsetBook()
    old = book.read("p0", 40)
    book.read("p0", 41).done(41)
    # the partition came back from its committed offset (or the broker lost its log)
    again = book.read("p0", 3)
    assert book.due() == {"p0": 3}
    again.done(3)
    assert book.due() == {"p0": 4}
    old.done(40)  # finishing a record of the old stretch changes nothing
    assert book.due() == {"p0": 4}


def test_dropped_partitions_are_never_committed_and_start_over() -> None:
    book: OffsetBook[str] = OffsetBook()
    old = book.read("p0", 200)
    book.read("p1", 7).done(7)
    book.drop(["p0"])  # revoked, or assigned anew
    old.done(200)
    assert book.due() == {"p1": 8}
    book.read("p0", 3)
    assert book.due() == {"p0": 3, "p1": 8}


class _Consumer:
    """The few calls MessageRouter.commit makes of aiokafka's consumer."""

    def __init__(self, highwater: dict[Any, int]) -> None:
        self._highwater = highwater
        self.commits: list[dict[Any, int]] = []

    def assignment(self) -> set[Any]:
        return set(self._highwater)

    def highwater(self, tp: Any) -> int | None:
        return self._highwater.get(tp)

    async def commit(self, offsets: dict[Any, int]) -> None:
        self.commits.append(dict(offsets))


async def test_a_point_past_the_logs_end_is_stale_and_not_committed() -> None:
    """After a broker lost its log, the consumer's old offsets are past the new log's end:
    committing them would make the next consumer skip what the new log holds."""
    router = MessageRouter(settings=ServiceSettings(), pool=None, consumer="c")  # type: ignore[arg-type]
    p0, p1 = TopicPartition("t", 0), TopicPartition("t", 1)
    router.offsets.read(p0, 212).done(212)  # read from the lost log
    router.offsets.read(p1, 4).done(4)
    consumer = _Consumer({p0: 193, p1: 9})  # the new log holds 193 records on p0
    router._subscriber = type("Sub", (), {"consumer": consumer})()
    assert await router.commit()
    assert consumer.commits == [{p1: 5}]
    assert router.offsets.due([p0, p1]) == {}  # p0 dropped: read again from the group's offset


async def test_the_count_admitted_is_reported_as_it_changes() -> None:
    seen: list[int] = []
    lanes = Lanes(limit=4, on_change=seen.append)
    gate = asyncio.Event()
    await lanes.submit("a", gate.wait)
    await lanes.submit("b", gate.wait)
    assert seen == [1, 2]
    gate.set()
    assert await lanes.drain(1)
    assert seen[-1] == 0 and len(seen) == 4


@pytest.mark.parametrize(
    ("concurrency", "pool_max", "reserve", "lanes"),
    [(7, 10, 3, 7), (16, 10, 3, 7), (6, 2, 0, 2), (8, 3, 3, 1), (4, 20, 3, 4)],
)
def test_the_lanes_leave_the_pools_reserve_to_the_rest(
    concurrency: int, pool_max: int, reserve: int, lanes: int
) -> None:
    settings = ServiceSettings(
        consumer_concurrency=concurrency, db_pool_max=pool_max, db_pool_reserve=reserve
    )
    assert settings.consumer_lanes == lanes
    router = MessageRouter(settings=settings, pool=None, consumer="c")  # type: ignore[arg-type]
    assert router.lanes.limit == lanes
