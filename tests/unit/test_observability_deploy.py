"""The Grafana dashboard and the Prometheus alert rules in deploy/ name only metrics the code
registers (so the two cannot drift apart), and both files have the structure their tools read."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy/grafana/dashboards/booking.json"
ALERTS = REPO / "deploy/prometheus/alerts.yml"
# Our metrics' names start so; PromQL functions, labels and Grafana variables never do.
OURS = re.compile(r"\b((?:booking|gateway)_[a-zA-Z0-9_:]*)\b")
DURATION = re.compile(r"^\d+[smhdw]$")


def metric_modules() -> list[str]:
    """Every module that defines metrics: the shared plumbing's and each service's metrics.py."""
    mods = ["booking_shared.metrics"]
    for path in sorted(REPO.glob("services/*/src/*/metrics.py")):
        mods.append(f"{path.parent.name}.metrics")
    return mods


def registered() -> set[str]:
    """Every series name the code can expose (a histogram's _bucket/_count/_sum, a counter's _total)."""
    for mod in metric_modules():
        importlib.import_module(mod)
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(s.name for s in family.samples)
        if family.type == "counter":
            names.update({f"{family.name}_total", f"{family.name}_created"})
        elif family.type == "histogram":
            names.update(
                f"{family.name}_{suffix}" for suffix in ("bucket", "count", "sum", "created")
            )
    return names


def dashboard_queries(dash: dict) -> list[str]:
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    for var in dash["templating"]["list"]:
        q = var.get("query")
        if isinstance(q, dict):
            exprs.append(q["query"])
    return exprs


def alert_rules(doc: dict) -> list[dict]:
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_the_scan_finds_metric_names_and_ignores_promql_words() -> None:
    expr = 'histogram_quantile(0.95, sum by (le) (rate(booking_x_bucket{job=~"$job"}[$__rate_interval]))) + gateway_y_total'
    assert OURS.findall(expr) == ["booking_x_bucket", "gateway_y_total"]
    assert (
        "booking_sagas" in registered()
        and "booking_partner_call_duration_seconds_bucket" in registered()
    )
    assert "booking_no_such_metric" not in registered()


def test_every_metric_on_the_dashboard_exists_in_the_code() -> None:
    dash = json.loads(DASHBOARD.read_text())
    known = registered()
    exprs = dashboard_queries(dash)
    assert exprs
    for expr in exprs:
        names = OURS.findall(expr)
        assert names, f"no metric of ours in {expr!r}"
        missing = [n for n in names if n not in known]
        assert not missing, f"{missing} on the dashboard but not in the code ({expr})"


def test_every_metric_in_the_alert_rules_exists_in_the_code() -> None:
    known = registered()
    for rule in alert_rules(yaml.safe_load(ALERTS.read_text())):
        names = OURS.findall(rule["expr"])
        assert names, f"{rule['alert']}: no metric of ours"
        missing = [n for n in names if n not in known]
        assert not missing, f"{rule['alert']}: {missing} not in the code"


def test_the_dashboard_is_a_grafana_dashboard_on_a_prometheus_datasource_variable() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["title"] and dash["uid"] and isinstance(dash["schemaVersion"], int)
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for p in dash["panels"]:
        assert {"h", "w", "x", "y"} <= set(p["gridPos"]) and p["gridPos"]["x"] + p["gridPos"][
            "w"
        ] <= 24, p["title"]
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"] and all(t["refId"] and t["expr"] for t in p["targets"]), p["title"]


def test_the_alert_rules_file_has_the_structure_prometheus_reads() -> None:
    doc = yaml.safe_load(ALERTS.read_text())
    assert set(doc) == {"groups"}
    group_names = [g["name"] for g in doc["groups"]]
    assert len(group_names) == len(set(group_names))
    alerts = []
    for group in doc["groups"]:
        assert set(group) <= {"name", "interval", "rules", "limit"} and group["rules"], group[
            "name"
        ]
        for rule in group["rules"]:
            assert set(rule) <= {
                "alert",
                "expr",
                "for",
                "labels",
                "annotations",
                "keep_firing_for",
            }, rule
            assert (
                isinstance(rule["alert"], str)
                and isinstance(rule["expr"], str)
                and rule["expr"].strip()
            )
            assert "for" not in rule or DURATION.match(rule["for"]), rule["alert"]
            assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
            assert rule["annotations"]["summary"], rule["alert"]
            assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
            alerts.append(rule["alert"])
    assert len(alerts) == len(set(alerts))


@pytest.mark.parametrize(
    ("what", "metric"),
    [
        ("stuck sagas", "booking_saga_oldest_in_state_seconds"),
        ("a growing outbox", "booking_outbox_lag_seconds"),
        ("a DLQ that is not empty", "booking_dlq_messages"),
        ("COMPENSATION_FAILED", 'booking_sagas{state="COMPENSATION_FAILED"}'),
    ],
)
def test_the_rules_cover(what: str, metric: str) -> None:
    exprs = [r["expr"] for r in alert_rules(yaml.safe_load(ALERTS.read_text()))]
    assert any(metric in e for e in exprs), f"no alert on {what}"
