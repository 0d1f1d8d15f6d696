"""The production stack for end-to-end tests: `stories worker` and `stories dispatcher`
processes on PostgreSQL, Tansu (Kafka protocol) and moto (S3), as a deployment runs them.

The test process uses the same settings to submit jobs through the core and to look at
the database and the bucket.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stories_adapters.containers import Application, build_application
from stories_adapters.settings import Settings
from stories_core.model import Job
from tests.e2e.conftest import STORIES
from tests.services import KafkaBroker, PostgresServer, S3Server

SLEEPY_PLUGIN = Path(__file__).parent / "stories-sleepy"
WEBHOOK_SECRET = "whsec-e2e"


@dataclass
class Webhook:
    body: bytes
    headers: dict[str, str]


@dataclass
class WebhookReceiver:
    """An HTTP endpoint on 127.0.0.1 that accepts every POST and keeps it."""

    url: str = ""
    received: list[Webhook] = field(default_factory=list)

    def serve(self) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(Webhook(body, dict(self.headers)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}/stories-hook"
        return server


@dataclass
class ProductionStack:
    env: dict[str, str]
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @cached_property
    def application(self) -> Application:
        """The test process's own view: same database, bucket and topics."""
        return build_application(Settings.from_variables(self.env))

    def start(self, name: str, command: str, **env: str) -> subprocess.Popen[bytes]:
        """Run `stories COMMAND` in the background; its output goes to logs/NAME.log."""
        with (self.logs / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                [str(STORIES), command],
                env={**self.env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def wait_for_log(self, name: str, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log(name):
            process = self.processes[name]
            if process.poll() is not None:
                raise AssertionError(f"{name} exited ({process.returncode}):\n{self.log(name)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} never logged {text!r}:\n{self.log(name)[-3000:]}")
            time.sleep(0.1)

    def stop(self, name: str, how: signal.Signals = signal.SIGTERM, timeout: float = 60) -> int:
        """Signal the process by its PID and wait for it to exit; its exit status."""
        process = self.processes[name]
        os.kill(process.pid, how)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            raise AssertionError(f"{name} did not stop:\n{self.log(name)[-3000:]}") from None

    def job(self, job_id: str) -> Job:
        return self.application.use_cases.queries().get(job_id)

    def wait_for_job(self, job_id: str, done: Callable[[Job], bool], timeout: float = 120) -> Job:
        deadline = time.monotonic() + timeout
        while not done(job := self.job(job_id)):
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {n}\n{self.log(n)[-2000:]}" for n in self.processes)
                raise AssertionError(f"job {job_id} is {self.job(job_id).state}:\n{logs}")
            time.sleep(0.1)
        return job

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        if "application" in self.__dict__:
            self.application.persistence.engine().dispose()


@pytest.fixture(scope="module")
def sleepy_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test-only `sleepy` backend plugin, pip-installed (offline) into a folder."""
    source = tmp_path_factory.mktemp("sleepy-src") / "stories-sleepy"
    shutil.copytree(SLEEPY_PLUGIN, source)  # building in place would leave build/ behind
    target = tmp_path_factory.mktemp("sleepy-site")
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
            "--no-build-isolation", "--no-index", "--target", str(target), str(source),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return target


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    server = receiver.serve()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def stack(
    tmp_path: Path,
    postgres_server: PostgresServer,
    s3_server: S3Server,
    kafka_broker: KafkaBroker,
    sleepy_site: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[ProductionStack]:
    """Fresh database (migrated by `stories migrate`), bucket, topics and consumer group;
    the sleepy backend is installed for the processes and for the test process alike."""
    monkeypatch.syspath_prepend(str(sleepy_site))
    kafka = kafka_broker.fresh_config()
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STORIES_")},
        "PYTHONPATH": str(sleepy_site),
        "STORIES_HOME": str(tmp_path / "home"),
        "STORIES_LOG_LEVEL": "INFO",
        "STORIES_DATABASE_URL": postgres_server.create_database("stories_e2e"),
        "STORIES_S3_ENDPOINT": s3_server.endpoint,
        "STORIES_S3_BUCKET": f"stories-e2e-{uuid.uuid4().hex[:12]}",
        "STORIES_S3_ACCESS_KEY": s3_server.access_key,
        "STORIES_S3_SECRET_KEY": s3_server.secret_key,
        "STORIES_KAFKA_BROKERS": kafka.brokers,
        "STORIES_KAFKA_JOBS_TOPIC": kafka.jobs_topic,
        "STORIES_KAFKA_EVENTS_TOPIC": kafka.events_topic,
        "STORIES_KAFKA_DLQ_TOPIC": kafka.dlq_topic,
        "STORIES_KAFKA_JOBS_PARTITIONS": "2",
        "STORIES_KAFKA_EVENTS_PARTITIONS": "2",
        "STORIES_KAFKA_GROUP_ID": kafka.group_id,
        "STORIES_KAFKA_SESSION_TIMEOUT_MS": str(kafka.session_timeout_ms),
        "STORIES_KAFKA_HEARTBEAT_INTERVAL_MS": str(kafka.heartbeat_interval_ms),
        "STORIES_KAFKA_FETCH_WAIT_MAX_MS": str(kafka.fetch_wait_max_ms),
        "STORIES_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STORIES_WEBHOOK_ALLOW_PRIVATE": "loopback",
        "STORIES_WEBHOOK_BACKOFF_SECONDS": "0.2",
        "STORIES_DISPATCHER_POLL_SECONDS": "0.05",
        "STORIES_SWEEP_INTERVAL_SECONDS": "1",
        "STORIES_SWEEP_QUEUED_AFTER_SECONDS": "1",
        "STORIES_LOCAL_IMAGE_WIDTH": "320",
        "STORIES_LOCAL_IMAGE_HEIGHT": "180",
    }
    migrated = subprocess.run(
        [str(STORIES), "migrate"], env=env, capture_output=True, text=True, timeout=120
    )
    assert migrated.returncode == 0, migrated.stderr
    stack = ProductionStack(env, logs)
    try:
        yield stack
    finally:
        stack.close()
