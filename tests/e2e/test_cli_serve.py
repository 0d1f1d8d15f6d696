"""`stories serve`, embedded, as a newcomer runs it: the API with the dispatcher and workers
inside. A client's job comes back finished (and `stories get` shows it on standard output);
SIGTERM stops the process cleanly, and a job left queued by a server without workers is run
by the next server that has them. With metrics and traces on, the one process exposes
every family and joins the caller's trace."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
from prometheus_client.parser import text_string_to_metric_families

from stories.v1 import common_pb2, events_pb2, stories_pb2
from stories_adapters.client import StoriesClient
from stories_core.telemetry import tracer
from tests.e2e.conftest import EXAMPLES, STORIES
from tests.otlp import OtlpReceiver, from_sdk, local_spans
from tests.services import free_port

LISTENING = re.compile(
    r"stories API listening on 127\.0\.0\.1:(\d+)( \(embedded: worker inside\))?"
)


def environment(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "STORIES_HOME": str(home), "STORIES_LOG_LEVEL": "INFO", **extra}


def create_key(home: Path) -> str:
    result = subprocess.run(
        [str(STORIES), "keys", "create", "--tenant", "acme"],
        capture_output=True, text=True, env=environment(home), timeout=120, check=True,
    )  # fmt: skip
    return result.stdout.strip()


@contextmanager
def serving(home: Path, **extra: str) -> Iterator[tuple[subprocess.Popen[str], str, bool]]:
    """`stories serve --port 0`; yields the process, its address and whether workers run
    inside. Leaving the block sends SIGTERM if it still runs."""
    process = subprocess.Popen(
        [str(STORIES), "serve", "--port", "0"],
        stderr=subprocess.PIPE, text=True, env=environment(home, **extra),
    )  # fmt: skip
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 120
        for line in process.stderr:
            found = LISTENING.search(line)
            if found:
                yield process, f"127.0.0.1:{found[1]}", bool(found[2])
                break
            assert time.monotonic() < deadline, "the server never said it was listening"
        else:
            raise AssertionError(f"the server exited with {process.wait()} before listening")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


def create(client: StoriesClient) -> str:
    request = stories_pb2.CreateJobRequest(
        text=(EXAMPLES / "the-lighthouse.txt").read_text(encoding="utf-8"),
        content_type="fictional",
        pictures=2,
        audio_type=common_pb2.AUDIO_TYPE_NONE,
    )
    return client.create_job(request).id


def watched_to_the_end(client: StoriesClient, job_id: str) -> stories_pb2.Job:
    kinds = [response.event.kind for response in client.watch_job(job_id)]
    assert kinds[-1] == events_pb2.JOB_EVENT_KIND_SUCCEEDED, kinds
    return client.get_job(job_id)


def test_an_embedded_server_runs_a_clients_job_and_stops_on_sigterm(tmp_path: Path) -> None:
    key = create_key(tmp_path)
    with serving(tmp_path) as (process, target, with_worker):
        assert with_worker
        with StoriesClient(target, key) as client:
            job = watched_to_the_end(client, create(client))
        assert job.state == common_pb2.JOB_STATE_SUCCEEDED
        assert len(job.segments) == 2 and all(s.assets for s in job.segments)
        shown = subprocess.run(
            [str(STORIES), "get", job.id, "--server", target, "--key", key],
            capture_output=True, text=True, env=environment(tmp_path), timeout=60,
        )  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.split() == [job.id, "succeeded", "fictional", "2", "segments", "100%"]
        fetched = subprocess.run(
            [str(STORIES), "fetch", job.id, "--out", str(tmp_path / "fetched"), "--server",
             target, "--key", key, "--video", "--aspect", "1:1"],
            capture_output=True, text=True, env=environment(tmp_path), timeout=300,
        )  # fmt: skip
        assert fetched.returncode == 0, fetched.stderr
        with av.open(str(tmp_path / "fetched" / "story.mp4")) as video:
            frames = video.streams.video[0].codec_context
            assert (frames.width, frames.height) == (1080, 1080)
            titles = [chapter["metadata"]["title"] for chapter in video.chapters()]
        assert titles == [segment.title for segment in job.segments]
        assert "story.mp4" in (tmp_path / "fetched" / "story.html").read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert process.stderr is not None
        assert "SIGTERM: stopping gracefully" in process.stderr.read()


def test_a_job_left_queued_runs_when_a_server_with_workers_starts(tmp_path: Path) -> None:
    key = create_key(tmp_path)
    with serving(tmp_path, STORIES_EMBEDDED_WORKERS="0") as (process, target, with_worker):
        assert not with_worker
        with StoriesClient(target, key) as client:
            job_id = create(client)
            assert client.get_job(job_id).state == common_pb2.JOB_STATE_QUEUED
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    with serving(tmp_path) as (_, target, with_worker), StoriesClient(target, key) as client:
        assert with_worker
        assert watched_to_the_end(client, job_id).state == common_pb2.JOB_STATE_SUCCEEDED


def test_an_embedded_server_exposes_every_metric_and_traces_the_job_in_the_callers_trace(
    tmp_path: Path,
) -> None:
    key = create_key(tmp_path)
    receiver = OtlpReceiver()
    port = free_port()
    try:
        settings = {
            "STORIES_METRICS_PORT": str(port),
            "STORIES_METRICS_HOST": "127.0.0.1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
        with serving(tmp_path, **settings) as (_, target, _):
            local = local_spans()
            with StoriesClient(target, key) as client:
                with tracer.start_as_current_span("caller"):
                    job_id = create(client)
                job = watched_to_the_end(client, job_id)
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
            # The job's own span ends last, after render: wait for both, whichever batch.
            spans = receiver.wait_for(
                lambda spans: {"render", "process job"} <= {s.name for s in spans}
            )
    finally:
        receiver.close()

    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    created = ("grpc_method", "CreateJob"), ("grpc_service", "stories.v1.StoryService")
    assert samples["grpc_server_handled_total", (("grpc_code", "OK"), *created)] == 1
    style = ("backend", "local"), ("style", "fictional")
    assert samples["stories_jobs_created_total", style] == 1
    finished = ("backend", "local"), ("state", "succeeded"), ("style", "fictional")
    assert samples["stories_jobs_finished_total", finished] == 1
    assert samples["stories_stage_seconds_count", (("outcome", "ok"), ("stage", "draw"))] == 2
    assert ("stories_outbox_backlog_messages", ()) in samples, "the dispatcher runs inside"

    [caller] = [from_sdk(s) for s in local.get_finished_spans()]
    assert job.trace_id == caller.trace_id, "the job joined the caller's trace"
    named = {s.name: s for s in spans}
    create_span = named["stories.v1.StoryService/CreateJob"]
    assert (create_span.service, create_span.parent_id) == ("stories-serve", caller.span_id)
    assert named["process job"].parent_id == create_span.span_id
    assert {s.trace_id for s in spans} == {job.trace_id}
