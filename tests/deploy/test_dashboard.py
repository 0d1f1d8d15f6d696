"""The Grafana dashboard reads only metrics the processes export, under their real names,
and groups or filters them only by labels those metrics have."""

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

from stories_adapters import metrics

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "stories.json"
METRIC_NAME = re.compile(r"\b((?:stories|grpc_server)_[a-z0-9_]+)\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
MATCHERS = re.compile(r"\{([^{}]*)\}")
MATCHER_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
LEGEND_LABEL = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


def exported() -> set[str]:
    """Every sample name the processes can export (the outbox's gauges come from its
    collector, which only the dispatcher registers)."""
    families = [*REGISTRY.collect(), *metrics.OutboxCollector(lambda: (0, 0.0)).collect()]
    return {
        family.name + suffix
        for family in families
        if family.name.startswith(("stories_", "grpc_server_"))
        for suffix in SUFFIXES.get(family.type, ("",))
    }


def labels() -> dict[str, set[str]]:
    """The label names of each sample name that stories_adapters.metrics defines (a
    histogram's buckets add `le`); the outbox's gauges have none."""
    found: dict[str, set[str]] = {}
    for metric in vars(metrics).values():
        if not isinstance(metric, MetricWrapperBase):
            continue
        [family] = metric.describe()
        for suffix in SUFFIXES[family.type]:
            extra = {"le"} if suffix == "_bucket" else set()
            found[family.name + suffix] = set(metric._labelnames) | extra
    return found


def targets() -> list[dict[str, Any]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target for panel in dashboard["panels"] for target in panel["targets"]]


def queries() -> list[str]:
    return [target["expr"] for target in targets()]


def labels_used(target: dict[str, Any]) -> set[str]:
    """Labels a target groups by, filters on or names in its legend."""
    expr = target["expr"]
    used = {name.strip() for group in GROUPING.findall(expr) for name in group.split(",") if name}
    used |= {name for group in MATCHERS.findall(expr) for name in MATCHER_LABEL.findall(group)}
    return used | set(LEGEND_LABEL.findall(target.get("legendFormat", "")))


def test_every_query_names_only_exported_metrics() -> None:
    names = exported()
    used = {name for expr in queries() for name in METRIC_NAME.findall(expr)}
    assert used, "the dashboard reads metrics"
    assert sorted(used - names) == []


def test_every_query_uses_only_labels_its_metrics_have() -> None:
    known = labels()
    wrong = {}
    for target in targets():
        have = set().union(*(known.get(n, set()) for n in METRIC_NAME.findall(target["expr"])))
        if labels_used(target) - have:
            wrong[target["expr"]] = sorted(labels_used(target) - have)
    assert wrong == {}


def test_the_dashboard_covers_jobs_stages_backends_leases_lag_outbox_and_webhooks() -> None:
    text = " ".join(queries())
    for family in (
        "stories_jobs_finished_total",
        "stories_jobs_running",
        "stories_stage_seconds_bucket",
        "stories_backend_calls_total",
        "stories_backend_retries_total",
        "stories_lease_renewals_total",
        "stories_kafka_consumer_lag_messages",
        "stories_outbox_oldest_age_seconds",
        "stories_webhook_posts_total",
        "grpc_server_handled_total",
    ):
        assert family in text, family


def test_a_misspelt_or_removed_metric_or_label_would_be_caught() -> None:
    assert "stories_jobs_finishd_total" not in exported()
    assert "stories_jobs_finished_total" in exported()
    assert "stories_backend_call_seconds_bucket" not in exported(), "removed"
    assert "stage" not in labels()["stories_backend_calls_total"], "its label is `kind`"
    assert labels_used(
        {"expr": 'sum by (le, stage) (x{outcome!="ok"})', "legendFormat": "{{kind}}"}
    ) == {"le", "stage", "outcome", "kind"}
