"""The real services the tests need, started by the tests themselves.

Each fixture starts (or finds) its service and FAILS when it cannot: a missing service is a
broken test environment, never a reason to skip. Heavy imports happen inside the fixtures,
so a unit-test run does not pay for them.
"""

from __future__ import annotations

import os
import shutil
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


# --- Kafka (Tansu) --------------------------------------------------------------------
# The broker fixture goes here.
