"""`make bench` itself keeps working: a short run on its own stack gives every figure and ends
with a clean invariant check (the full run is `make bench`; see docs/PERFORMANCE.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

BENCH = Path(__file__).with_name("bench.py")


@pytest.mark.timeout(
    330
)  # the run's own bound is 300 s (a stack start on a busy machine takes a minute)
def test_a_short_bench_run_reports_every_figure_and_a_clean_check(tmp_path):
    out = tmp_path / "bench.json"
    states_before = set(BENCH.parents[2].joinpath(".dev").glob("bench-*"))
    res = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--sequential",
            "4",
            "--latency-ms",
            "20",
            "--clients",
            "4",
            "--duration-s",
            "4",
            "--idle-s",
            "1",
            "--idle-settle-s",
            "0",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    r = json.loads(out.read_text())
    for phase in ("sequential_0ms", "sequential_20ms", "baseline_0ms", "baseline_20ms"):
        assert r[phase]["latency_ms"]["n"] == 4, phase
    assert sum(r["sequential_0ms"]["states"].values()) == 4
    assert r["sequential_20ms"]["critical_path_ms"] == 40
    assert r["concurrent_4"]["latency_ms"]["n"] >= 1 and r["concurrent_4"]["errors"] == 0
    assert r["sequential_0ms"]["cpu_ms_per_booking"] > 0
    assert {
        "gateway",
        "booking-orchestrator",
        "payment",
        "provider-opentable",
        "provider-eventbrite",
        "broker",
        "postgres",
    } <= set(r["peak_rss_mb"])
    assert r["idle"]["cpu_share_of_a_core"] >= 0
    assert r["invariants"]["violations"] == []
    assert "| sequential_0ms | 4 |" in res.stdout
    assert (
        set(BENCH.parents[2].joinpath(".dev").glob("bench-*")) == states_before
    )  # its stack's state is gone
