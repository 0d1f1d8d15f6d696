"""The metrics every process exports, and its probes, read back as Prometheus reads them."""

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from stories_adapters import metrics
from stories_core.events import EventKind, JobEvent
from stories_core.states import JobState
from stories_core.telemetry import StageTiming

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def event(kind: EventKind, state: JobState) -> JobEvent:
    return JobEvent(
        kind=kind,
        job_id="j",
        tenant="t",
        state=state,
        progress=0.0,
        occurred_at=NOW,
        content_type="educational",
        backend="local",
    )


def test_job_events_count_jobs_queued_finished_and_segments_done() -> None:
    labels = {"style": "educational", "backend": "local"}
    before = (
        sample("stories_jobs_queued_total", **labels),
        sample("stories_jobs_finished_total", state="failed", **labels),
        sample("stories_segments_done_total"),
    )
    metrics.count_job_event(event(EventKind.JOB_QUEUED, JobState.QUEUED))
    metrics.count_job_event(event(EventKind.JOB_STARTED, JobState.RUNNING))
    metrics.count_job_event(event(EventKind.SEGMENT_DONE, JobState.RUNNING))
    metrics.count_job_event(event(EventKind.JOB_FAILED, JobState.FAILED))
    after = (
        sample("stories_jobs_queued_total", **labels),
        sample("stories_jobs_finished_total", state="failed", **labels),
        sample("stories_segments_done_total"),
    )
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 1]


def test_stage_timings_become_stage_durations_backend_calls_and_retries() -> None:
    telemetry = metrics.PrometheusTelemetry()
    drawn = {"stage": "draw", "outcome": "BACKEND_UNAVAILABLE"}
    call = {"backend": "gemini", "kind": "draw", "outcome": "BACKEND_UNAVAILABLE"}
    before = (
        sample("stories_stage_seconds_count", **drawn),
        sample("stories_stage_seconds_sum", **drawn),
        sample("stories_backend_calls_total", **call),
        sample("stories_backend_retries_total", backend="gemini", kind="draw"),
        sample("stories_stage_seconds_count", stage="store", outcome="ok"),
    )
    telemetry.stage_finished(
        StageTiming("draw", 2.5, "BACKEND_UNAVAILABLE", "gemini", "fictional", retries=3)
    )
    telemetry.stage_finished(StageTiming("store", 0.01, "ok", "gemini", "fictional"))
    after = (
        sample("stories_stage_seconds_count", **drawn),
        sample("stories_stage_seconds_sum", **drawn),
        sample("stories_backend_calls_total", **call),
        sample("stories_backend_retries_total", backend="gemini", kind="draw"),
        sample("stories_stage_seconds_count", stage="store", outcome="ok"),
    )
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 2.5, 1, 3, 1]
    stored = {"backend": "gemini", "kind": "store", "outcome": "ok"}
    assert REGISTRY.get_sample_value("stories_backend_calls_total", stored) is None, (
        "storing is no backend call"
    )


def test_leases_running_and_created_jobs_are_counted() -> None:
    telemetry = metrics.PrometheusTelemetry()
    created = sample("stories_jobs_created_total", style="financial", backend="gemini")
    telemetry.job_created("financial", "gemini")
    assert sample("stories_jobs_created_total", style="financial", backend="gemini") == created + 1
    renewed, lost = (sample("stories_lease_renewals_total", outcome=o) for o in ("renewed", "lost"))
    running = sample("stories_jobs_running")
    telemetry.running(+1)
    assert sample("stories_jobs_running") == running + 1
    telemetry.lease("renewed")
    telemetry.lease("lost")
    telemetry.running(-1)
    assert sample("stories_jobs_running") == running
    assert sample("stories_lease_renewals_total", outcome="renewed") == renewed + 1
    assert sample("stories_lease_renewals_total", outcome="lost") == lost + 1


def test_librdkafka_statistics_give_the_lag_of_each_assigned_partition() -> None:
    stats = {
        "topics": {
            "stories.jobs.v1": {
                "partitions": {
                    "0": {"consumer_lag": 7},
                    "1": {"consumer_lag": -1},  # not assigned here: no figure
                    "-1": {"consumer_lag": 0},  # librdkafka's internal partition
                }
            }
        }
    }
    metrics.record_consumer_stats(json.dumps(stats))
    lag = "stories_kafka_consumer_lag_messages"
    assert sample(lag, topic="stories.jobs.v1", partition="0") == 7
    assert REGISTRY.get_sample_value(lag, {"topic": "stories.jobs.v1", "partition": "1"}) is None


def test_the_probe_server_answers_health_readiness_and_metrics() -> None:
    up = {"database": True, "broker": True}
    server = metrics.serve_metrics("127.0.0.1", 0, lambda: dict(up))
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        assert urllib.request.urlopen(f"{base}/healthz").read() == b"ok\n"
        assert json.loads(urllib.request.urlopen(f"{base}/readyz").read()) == {
            "ready": True,
            "unavailable": [],
        }
        up["broker"] = False
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/readyz")
        assert refused.value.code == 503
        assert json.loads(refused.value.read())["unavailable"] == ["broker"]
        text = urllib.request.urlopen(f"{base}/metrics").read().decode()
        names = {family.name for family in text_string_to_metric_families(text)}
        assert {"stories_jobs_queued", "stories_stage_seconds", "stories_jobs_running"} <= names
    finally:
        server.shutdown()
        server.server_close()


def test_the_outbox_backlog_is_read_at_scrape_and_left_out_when_unreadable() -> None:
    collector = metrics.OutboxCollector(lambda: (3, 12.5))
    figures = {f.name: f.samples[0].value for f in collector.collect()}
    assert figures == {
        "stories_outbox_backlog_messages": 3,
        "stories_outbox_oldest_age_seconds": 12.5,
    }

    def down() -> tuple[int, float]:
        raise ConnectionError("the database is away")

    assert list(metrics.OutboxCollector(down).collect()) == []


def test_grpc_calls_are_counted_by_method_and_code_and_unary_ones_timed() -> None:
    import grpc

    from stories.v1 import stories_pb2, stories_pb2_grpc
    from tests.grpc_stub_server import stub_with

    class Servicer(stories_pb2_grpc.StoryServiceServicer):
        async def GetJob(self, request, context):
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such job")

    service = {"grpc_service": "stories.v1.StoryService", "grpc_method": "GetJob"}
    before = sample("grpc_server_handled_total", **service, grpc_code="NOT_FOUND")
    timed = sample("grpc_server_handling_seconds_count", **service)
    with stub_with(Servicer(), metrics.GrpcMetrics()) as stub, pytest.raises(grpc.RpcError):
        stub.GetJob(stories_pb2.GetJobRequest(job_id="x"))
    assert sample("grpc_server_handled_total", **service, grpc_code="NOT_FOUND") == before + 1
    assert sample("grpc_server_handling_seconds_count", **service) == timed + 1


def test_every_error_the_api_answers_is_counted_by_its_reason() -> None:
    from stories_adapters.grpc.errors import to_status
    from stories_core.errors import NotFound

    before = sample("stories_api_errors_total", reason="NOT_FOUND")
    internal = sample("stories_api_errors_total", reason="INTERNAL")
    to_status(NotFound("no such job"))
    to_status(KeyError("a bug"))
    assert sample("stories_api_errors_total", reason="NOT_FOUND") == before + 1
    assert sample("stories_api_errors_total", reason="INTERNAL") == internal + 1
