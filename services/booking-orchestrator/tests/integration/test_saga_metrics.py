"""The orchestrator's /metrics moves with its sagas: sagas by state (read from the saga table,
so right after a restart), step durations, compensations."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from orchestrator.metrics import SAGAS

from .conftest import Harness
from .fakes import Act


async def scrape(h: Harness) -> dict[tuple[str, tuple], float]:
    r = await h.http.get("/metrics")
    assert r.status_code == 200
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def sagas(m, state: str) -> float:
    return m.get(("booking_sagas", (("state", state),)), 0.0)


def steps(m, kind: str, phase: str, outcome: str) -> float:
    key = (
        "booking_saga_step_duration_seconds_count",
        (("kind", kind), ("outcome", outcome), ("phase", phase)),
    )
    return m.get(key, 0.0)


def compensations(m, outcome: str) -> float:
    return m.get(("booking_saga_compensations_total", (("outcome", outcome),)), 0.0)


async def test_a_confirmed_booking_moves_the_state_gauge_and_times_its_steps(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    before = await scrape(h)
    bid = await h.book()
    assert await h.settles(bid) == "CONFIRMED"
    after = await scrape(h)
    assert sagas(after, "CONFIRMED") == sagas(before, "CONFIRMED") + 1
    for kind in ("hold", "authorize", "confirm", "capture"):
        assert steps(after, kind, "forward", "done") > steps(before, kind, "forward", "done"), kind
    assert after[("booking_saga_oldest_in_state_seconds", (("state", "HOLDING"),))] >= 0


async def test_the_state_gauge_is_read_from_the_saga_table_not_remembered(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    expected = await h.pool.fetchval("SELECT count(*) FROM sagas WHERE state = 'CONFIRMED'")
    SAGAS.labels("CONFIRMED").set(0)  # as after a restart
    assert sagas(await scrape(h), "CONFIRMED") == expected > 0


async def test_a_failed_booking_counts_a_compensation_started_and_completed(
    orchestrator: Harness,
) -> None:
    h = orchestrator
    before = await scrape(h)
    bid = await h.book({"ConfirmItem:item-2": Act("reject", "slot_taken")})
    assert await h.settles(bid) == "FAILED"
    after = await scrape(h)
    assert compensations(after, "started") == compensations(before, "started") + 1
    assert compensations(after, "completed") == compensations(before, "completed") + 1
    assert sagas(after, "FAILED") == sagas(before, "FAILED") + 1
    assert steps(after, "confirm", "forward", "failed") > steps(
        before, "confirm", "forward", "failed"
    )
    assert steps(after, "void", "compensation", "done") > steps(
        before, "void", "compensation", "done"
    )
