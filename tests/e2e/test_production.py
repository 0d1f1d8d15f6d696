"""Whole processes at scale: `stories worker` and `stories dispatcher` on PostgreSQL, Kafka
(Tansu) and S3 (moto); a job submitted through the core comes out finished, stored and
announced, and survives a worker stopped or killed in the middle of it."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer
from prometheus_client.parser import text_string_to_metric_families

from stories.v1 import events_pb2
from stories_core.model import AssetKind, Job, JobState, SegmentState
from stories_core.services.submit import JobRequest
from stories_core.services.webhooks import SIGNATURE_HEADER, verify
from stories_core.telemetry import tracer
from tests.e2e.conftest import EXAMPLES
from tests.e2e.stack import (
    WEBHOOK_SECRET,
    ProductionStack,
    WebhookReceiver,
    sleepy_site,
    stack,
    webhook_receiver,
)
from tests.otlp import OtlpReceiver, Span, from_sdk, local_spans
from tests.services import free_port

__all__ = ["sleepy_site", "stack", "webhook_receiver"]  # fixtures
pytestmark = pytest.mark.slow
SLOW_TEXT = " ".join(f"Sentence number {n} of a slow story." for n in range(4))


def succeeded(job: Job) -> bool:
    return job.state is JobState.SUCCEEDED


def finished_segments(job: Job) -> set[int]:
    return {s.index for s in job.segments if s.state is SegmentState.SUCCEEDED}


def calls_by_process(log: Path) -> dict[int, Counter[tuple[str, str]]]:
    """pid -> (method, segment index) -> calls, from the sleepy backend's log."""
    calls: dict[int, Counter[tuple[str, str]]] = {}
    for line in log.read_text().splitlines():
        pid, method, index = line.split()
        calls.setdefault(int(pid), Counter())[(method, index)] += 1
    return calls


def event_kinds(stack: ProductionStack, job_id: str, timeout: float = 30) -> list[int]:
    """The kinds of the job's events on the events topic, up to its terminal one."""
    config = stack.application.messaging.kafka_config()
    reader = Consumer({**config.consumer("e2e-reader"), "group.id": f"{config.group_id}-r"})
    reader.subscribe([config.events_topic])
    kinds: list[int] = []
    deadline = time.monotonic() + timeout
    try:
        while events_pb2.JOB_EVENT_KIND_SUCCEEDED not in kinds and time.monotonic() < deadline:
            message = reader.poll(0.2)
            if message is not None and not message.error() and message.key() == job_id.encode():
                kinds.append(events_pb2.JobEvent.FromString(message.value()).kind)
    finally:
        reader.close()
    return kinds


def scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """A process's /metrics: each sample's value by name and sorted labels."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


def wait_until_ready(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def names(spans: list[Span]) -> set[str]:
    return {span.name for span in spans}


def test_a_job_runs_through_the_worker_and_dispatcher_processes(
    stack: ProductionStack, webhook_receiver: WebhookReceiver, otlp_receiver: OtlpReceiver
) -> None:
    ports = {"worker": free_port(), "dispatcher": free_port()}
    for name, port in ports.items():
        stack.start(
            name,
            name,
            STORIES_METRICS_PORT=str(port),
            STORIES_METRICS_HOST="127.0.0.1",
            OTEL_EXPORTER_OTLP_ENDPOINT=otlp_receiver.endpoint,
            OTEL_BSP_SCHEDULE_DELAY="200",  # ms: spans reach the receiver soon
            # The doorbell, not stealing, runs the job: its trace goes through Kafka.
            STORIES_WORKER_STEAL_AFTER_SECONDS="0",
        )
    for port in ports.values():
        wait_until_ready(port)
    text = (EXAMPLES / "solar-system.txt").read_text()[:1200]
    local = local_spans()
    with tracer.start_as_current_span("CreateJob"):  # the test process plays the API
        job = stack.application.use_cases.submit_job()(
            JobRequest(text, "educational", 2, backend="local", webhook_url=webhook_receiver.url)
        )
    done = stack.wait_for_job(job.id, succeeded)

    blobs = stack.application.storage.blobs()
    assets = [a for s in done.segments for a in s.assets]
    assert sorted(a.kind for a in assets) == [AssetKind.AUDIO] * 2 + [AssetKind.IMAGE] * 2
    for asset in assets:
        assert blobs.size(asset.key) == asset.size
        assert "sha256:" + blobs.checksum(asset.key) == asset.checksum

    deadline = time.monotonic() + 30
    while not webhook_receiver.received and time.monotonic() < deadline:
        time.sleep(0.1)
    [webhook] = webhook_receiver.received
    assert verify(WEBHOOK_SECRET, webhook.headers[SIGNATURE_HEADER], webhook.body, time.time())
    payload = json.loads(webhook.body)
    assert payload["type"] == "job.succeeded"
    assert payload["data"]["job_id"] == job.id and payload["data"]["trace_id"] == job.trace_id
    assert (webhook.header("traceparent") or "").split("-")[1] == job.trace_id

    [created] = [from_sdk(s) for s in local.get_finished_spans()]
    spans = otlp_receiver.wait_for(lambda spans: {"webhook POST", "render"} <= names(spans))
    assert {s.trace_id for s in spans} == {job.trace_id}, "one trace, across three processes"
    by_id = {s.span_id: s for s in [created, *spans]}

    def parent(span: Span) -> tuple[str, str]:
        return by_id[span.parent_id].service, by_id[span.parent_id].name

    named = {s.name: s for s in spans}
    jobs_topic = stack.kafka_config().jobs_topic
    publish = named[f"{jobs_topic} publish"]
    assert (publish.service, parent(publish)) == ("stories-dispatcher", ("tests", "CreateJob"))
    run = named["process job"]
    assert (run.service, parent(run)) == ("stories-worker", ("stories-dispatcher", publish.name))
    for stage in ("segment", "generate segment", "render"):
        assert parent(named[stage]) == ("stories-worker", "process job"), stage
    for stage in ("narrate", "speak", "image_prompt", "draw", "store"):
        assert parent(named[stage]) == ("stories-worker", "generate segment"), stage
    post = named["webhook POST"]
    assert (post.service, parent(post)) == ("stories-dispatcher", ("stories-worker", "process job"))

    kinds = event_kinds(stack, job.id)
    assert kinds[0] == events_pb2.JOB_EVENT_KIND_QUEUED
    assert kinds[-1] == events_pb2.JOB_EVENT_KIND_SUCCEEDED
    assert kinds.count(events_pb2.JOB_EVENT_KIND_SEGMENT_DONE) == 2

    worker, dispatcher = (scrape(ports[name]) for name in ("worker", "dispatcher"))
    finished = (("backend", "local"), ("state", "succeeded"), ("style", "educational"))
    assert worker["stories_jobs_finished_total"] == {finished: 1.0}
    assert worker["stories_segments_done_total"] == {(): 2.0}
    assert worker["stories_stage_seconds_count"][(("outcome", "ok"), ("stage", "draw"))] == 2.0
    assert worker["stories_stage_seconds_count"][(("outcome", "ok"), ("stage", "render"))] == 1.0
    calls = worker["stories_backend_calls_total"]
    assert calls[(("backend", "local"), ("kind", "narrate"), ("outcome", "ok"))] == 2.0
    assert worker["stories_jobs_running"] == {(): 0.0}
    deadline = time.monotonic() + 15  # librdkafka reports lag every 5 s
    while "stories_kafka_consumer_lag_messages" not in worker and time.monotonic() < deadline:
        time.sleep(0.5)
        worker = scrape(ports["worker"])
    lag = worker["stories_kafka_consumer_lag_messages"]
    assert lag and set(lag.values()) == {0.0}, "every doorbell consumed"
    assert dispatcher["stories_outbox_backlog_messages"] == {(): 0.0}
    assert dispatcher["stories_webhook_posts_total"] == {(("outcome", "2xx"),): 1.0}
    for port in ports.values():
        ready = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz").read())
        assert ready == {"ready": True, "unavailable": []}

    assert stack.stop("worker") == 0
    assert stack.stop("dispatcher") == 0
    assert "stopped" in stack.log("worker")


def slow_worker_settings(calls: Path, **extra: str) -> dict[str, str]:
    """A worker on the sleepy backend, one segment at a time, logging its calls."""
    return {
        "STORIES_SLEEPY_SECONDS": "0.5",
        "STORIES_SLEEPY_LOG": str(calls),
        "STORIES_MAX_CONCURRENT_SEGMENTS": "1",
        **extra,
    }


def start_slow_job(
    stack: ProductionStack, slow: dict[str, str]
) -> tuple[subprocess.Popen[bytes], Job]:
    """Start worker-1 and the dispatcher, submit a 4-segment job, and wait until the
    first segment is done."""
    first = stack.start("worker-1", "worker", **slow)
    stack.start("dispatcher", "dispatcher")
    job = stack.application.use_cases.submit_job()(
        JobRequest(SLOW_TEXT, "educational", 4, backend="sleepy")
    )
    stack.wait_for_job(job.id, lambda j: bool(finished_segments(j)))
    return first, job


def test_sigterm_releases_an_unfinished_job_to_the_next_worker(
    stack: ProductionStack, tmp_path: Path
) -> None:
    calls = tmp_path / "calls.log"
    slow = slow_worker_settings(calls, STORIES_WORKER_SHUTDOWN_GRACE_SECONDS="0.5")
    first, job = start_slow_job(stack, slow)

    started = time.monotonic()
    assert stack.stop("worker-1") == 0
    assert time.monotonic() - started < 15, "a released job does not hold the exit"
    assert "released at shutdown" in stack.log("worker-1")
    released = stack.job(job.id)
    kept = finished_segments(released)
    assert released.state is JobState.QUEUED and released.lease_owner is None
    assert 1 <= len(kept) < 4

    second = stack.start("worker-2", "worker", **slow)
    stack.wait_for_job(job.id, succeeded)
    by_process = calls_by_process(calls)
    redone = {index for method, index in by_process[second.pid] if method == "draw"}
    assert redone == {str(i) for i in range(4)} - {str(i) for i in kept}
    assert ("segment", "None") not in by_process[second.pid], "the plan is kept"
    assert first.pid in by_process


def test_a_killed_workers_job_is_resumed_without_redoing_or_duplicating_anything(
    stack: ProductionStack, tmp_path: Path
) -> None:
    calls = tmp_path / "calls.log"
    slow = slow_worker_settings(calls, STORIES_LEASE_SECONDS="3")
    first, job = start_slow_job(stack, slow)

    assert stack.stop("worker-1", signal.SIGKILL) == -signal.SIGKILL
    kept = finished_segments(stack.job(job.id))
    assert stack.job(job.id).state is JobState.RUNNING, "held by a dead worker's lease"

    second = stack.start("worker-2", "worker", **slow)
    done = stack.wait_for_job(job.id, succeeded)
    assert done.attempt == 2
    by_process = calls_by_process(calls)
    redone = {index for method, index in by_process[second.pid] if method == "draw"}
    assert not redone & {str(i) for i in kept}, "finished segments are not redone"
    assets = [a for s in done.segments for a in s.assets]
    assert len(assets) == len({a.id for a in assets}) == 8
    blobs = stack.application.storage.blobs()
    assert all(blobs.size(a.key) == a.size for a in assets)
    assert first.pid in by_process


def test_with_the_default_lease_a_killed_workers_job_runs_again_within_30_seconds(
    stack: ProductionStack, tmp_path: Path
) -> None:
    """The most common fault of a worker fleet (a node drain, the OOM killer), with the
    default lease and sweep: from the SIGKILL to the job claimed by another worker."""
    calls = tmp_path / "calls.log"
    slow = slow_worker_settings(calls, STORIES_SLEEPY_SECONDS="3")  # outlives the set-up
    _, job = start_slow_job(stack, slow)
    stack.start("worker-2", "worker", **slow)
    stack.wait_for_log("worker-2", "assigned partitions")
    killed = time.monotonic()
    assert stack.stop("worker-1", signal.SIGKILL) == -signal.SIGKILL
    assert stack.job(job.id).attempt == 1, "the job was still worker-1's when it died"
    kept = {str(i) for i in finished_segments(stack.job(job.id))}
    resumed = stack.wait_for_job(job.id, lambda j: j.attempt == 2, timeout=60)
    recovery = time.monotonic() - killed
    print(f"\nrecovery after a worker SIGKILL (default lease): {recovery:.1f} s")
    assert recovery < 30, f"the job ran again only {recovery:.1f} s after the SIGKILL"
    assert resumed.state is JobState.RUNNING
    done = stack.wait_for_job(job.id, succeeded)
    assets = [a for s in done.segments for a in s.assets]
    assert done.attempt == 2 and len(assets) == len({a.id for a in assets}) == 8
    second = calls_by_process(calls)[stack.processes["worker-2"].pid]
    assert kept and not kept & {index for method, index in second if method == "draw"}
