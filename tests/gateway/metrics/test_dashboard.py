"""The Grafana dashboard under deploy/ only asks for metrics the gateway (or vLLM) exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from gateway.limits.metrics import LimiterMetrics
from gateway.metrics import GatewayMetrics

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "tollgate.json"
_NAME = re.compile(r"\b(tollgate_[a-z_]+|vllm:[a-z_:]+)")


def _exported() -> set[str]:
    """Every sample name the gateway can export (histogram buckets, counters' _total...)."""
    registry = CollectorRegistry()
    groups = (GatewayMetrics(registry), LimiterMetrics(registry))
    # Children appear once a label set was used; touch one of each labelled metric.
    for metric in (m for group in groups for m in vars(group).values()):
        labels = getattr(metric, "_labelnames", ())
        if labels:
            metric.labels(*["x"] * len(labels))
    from prometheus_client import generate_latest

    text = generate_latest(registry).decode()
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


def test_the_dashboard_is_valid_json_with_panels() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] == "Tollgate"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(panels) >= 15
    assert all(p["targets"] and all(t["expr"] for t in p["targets"]) for p in panels)


def test_every_tollgate_metric_in_the_dashboard_exists() -> None:
    dashboard = DASHBOARD.read_text()
    wanted = {name for name in _NAME.findall(dashboard) if name.startswith("tollgate_")}
    missing = sorted(wanted - _exported())
    assert missing == []
    assert any(name.startswith("vllm:") for name in _NAME.findall(dashboard))
