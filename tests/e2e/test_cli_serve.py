"""`stories serve`, embedded, as a newcomer runs it: the API with the dispatcher and workers
inside. A client's job comes back finished (and `stories get` shows it on standard output);
SIGTERM stops the process cleanly, and a job left queued by a server without workers is run
by the next server that has them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stories.v1 import common_pb2, events_pb2, stories_pb2
from stories_adapters.client import StoriesClient
from tests.e2e.conftest import EXAMPLES, STORIES

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
