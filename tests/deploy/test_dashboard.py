"""The Grafana dashboard reads only metrics the processes export, under their real names."""

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

from stories_adapters import metrics

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "stories.json"
METRIC_NAME = re.compile(r"\b((?:stories|grpc_server)_[a-z0-9_]+)\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


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


def queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_every_query_names_only_exported_metrics() -> None:
    names = exported()
    used = {name for expr in queries() for name in METRIC_NAME.findall(expr)}
    assert used, "the dashboard reads metrics"
    assert sorted(used - names) == []


def test_the_dashboard_covers_jobs_stages_errors_lag_outbox_and_webhooks() -> None:
    text = " ".join(queries())
    for family in (
        "stories_jobs_finished_total",
        "stories_backend_call_seconds_bucket",
        "stories_kafka_consumer_lag_messages",
        "stories_outbox_oldest_age_seconds",
        "stories_webhook_posts_total",
        "grpc_server_handled_total",
    ):
        assert family in text, family


def test_a_misspelt_metric_would_be_caught() -> None:
    assert "stories_jobs_finishd_total" not in exported()
    assert "stories_jobs_finished_total" in exported()
