"""Configuration from STORIES_* environment variables, with embedded defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_home() -> Path:
    return Path.home() / ".local" / "share" / "stories"


class Settings(BaseSettings):
    """Every setting the adapters read. Unset, `stories` runs embedded in `home`."""

    model_config = SettingsConfigDict(env_prefix="STORIES_", extra="ignore")

    home: Path = Field(default_factory=default_home)
    database_url: str | None = None
    """SQLAlchemy URL; unset means SQLite at `home/stories.db`."""
    blob_dir: Path | None = None
    """Local blob folder; unset means `home/blobs`."""

    max_input_chars: int = Field(50_000, ge=1)
    max_pictures: int = Field(20, ge=1)
    max_concurrent_segments: int = Field(5, ge=1, le=64)
    lease_seconds: float = Field(300.0, gt=0)
    default_backend: str = "local"
    tenant: str = "default"
    log_level: str = "WARNING"

    # The gRPC API (`stories serve`).
    grpc_host: str = "127.0.0.1"
    """Interface to listen on; use 0.0.0.0 or [::] in a container."""
    grpc_port: int = Field(50051, ge=0, le=65535)
    grpc_max_workers: int = Field(128, ge=2)
    """Threads serving calls; each open WatchJob or ReadAsset stream holds one."""
    grpc_max_streams: int | None = Field(None, ge=1)
    """Streams open at once (default: three quarters of grpc_max_workers); the other
    threads stay free for unary calls and health checks. A stream over the cap is
    RESOURCE_EXHAUSTED."""
    grpc_max_streams_per_key: int = Field(32, ge=1)
    grpc_max_message_bytes: int = Field(4 * 1024 * 1024, ge=64 * 1024)
    shutdown_drain_seconds: float = Field(2.0, ge=0)
    """On SIGTERM, how long health reports NOT_SERVING while calls are still served, so
    load balancers stop routing here before the server stops accepting calls."""
    shutdown_grace_seconds: float = Field(10.0, ge=0)
    """Then, how long calls in flight get to finish."""
    rate_limit_per_second: float = Field(20.0, ge=0)
    """Calls per second per API key (0 turns the limit off)."""
    rate_limit_burst: int = Field(40, ge=1)
    auth_cache_seconds: float = Field(2.0, ge=0)
    """How long an authenticated key is remembered; a revocation takes effect within it."""
    quota_chars_per_period: int = Field(2_000_000, ge=0)
    """Characters of text each API key may submit per quota period (0: unlimited)."""
    quota_period_seconds: int = Field(86_400, ge=1)
    watch_poll_seconds: float = Field(1.0, gt=0)
    """How often a watch re-reads a job it got no in-process news of."""
    embedded_workers: int = Field(2, ge=0)
    """Worker threads inside `stories serve` when running embedded; 0 serves the API
    alone (jobs wait, recorded, for a later run with workers)."""
    dispatcher_poll_seconds: float = Field(0.1, gt=0)
    sweep_interval_seconds: float = Field(30.0, gt=0)

    # The client side of the CLI.
    server: str = "127.0.0.1:50051"
    api_key: str | None = None

    # Production adapters: Kafka is used when STORIES_KAFKA_BROKERS is set, S3 when
    # STORIES_S3_ENDPOINT is set (PostgreSQL when STORIES_DATABASE_URL names it).
    kafka_brokers: str | None = None
    """Comma-separated host:port bootstrap list."""
    kafka_jobs_topic: str = "stories.jobs.v1"
    kafka_events_topic: str = "stories.events.v1"
    kafka_dlq_topic: str = "stories.jobs.dlq.v1"
    kafka_jobs_partitions: int = Field(12, ge=1)
    """The most worker processes that can share the work (a partition has one reader)."""
    kafka_events_partitions: int = Field(12, ge=1)
    kafka_dlq_partitions: int = Field(1, ge=1)
    kafka_replication_factor: int = Field(-1, ge=-1)
    """-1: the brokers' default."""
    kafka_group_id: str = "stories-workers"
    kafka_session_timeout_ms: int = Field(45_000, ge=1_000)
    kafka_heartbeat_interval_ms: int = Field(3_000, ge=100)
    kafka_fetch_wait_max_ms: int = Field(500, ge=1)
    """How long the broker may hold an empty fetch (lower it for brokers that always
    wait this long before answering, such as Tansu)."""
    kafka_delivery_timeout_ms: int = Field(30_000, ge=1_000)
    """How long a produced message may go unacknowledged before it counts as failed."""
    worker_concurrency: int = Field(2, ge=1, le=32)
    """Jobs one `stories worker` runs at once (each runs its segments concurrently too)."""
    worker_shutdown_grace_seconds: float = Field(20.0, ge=0)
    """On SIGTERM, how long in-flight jobs may take to finish before they are released."""
    worker_steal_after_seconds: float = Field(1.0, ge=0)
    """A worker with a free slot and no doorbell waiting runs a job queued this long
    whose doorbell sits on another worker's partitions (0: never steals)."""
    worker_steal_interval_seconds: float = Field(0.5, gt=0)
    """How often an idle worker asks the database for jobs to steal."""
    s3_endpoint: str | None = None
    """http(s)://host:port of MinIO or S3."""
    s3_bucket: str = "stories"
    s3_access_key: str = ""
    s3_secret_key: SecretStr = SecretStr("")
    s3_region: str = "us-east-1"
    s3_url_expiry_seconds: int = Field(900, ge=1, le=604_800)
    """How long the download URLs of GetAsset work (presigned; S3 allows up to 7 days)."""
    webhook_secret: SecretStr | None = Field(None, min_length=1)
    """Signs webhook requests (HMAC-SHA256); `stories dispatcher` refuses to start without."""
    webhook_max_attempts: int = Field(8, ge=1)
    webhook_backoff_seconds: float = Field(10.0, gt=0)
    """Delay after the first failed attempt; it doubles after each further one."""
    webhook_max_backoff_seconds: float = Field(3_600.0, gt=0)
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    webhook_concurrency: int = Field(4, ge=1)
    webhook_allow_private: str = ""
    """Internal addresses webhooks may call, comma-separated: loopback, link_local,
    private. Empty (refuse them all) in production."""

    @field_validator("log_level")
    @classmethod
    def _a_known_log_level(cls, value: str) -> str:
        levels = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        if value.upper() not in levels:
            raise ValueError(f"must be one of {', '.join(levels)}")
        return value.upper()

    @field_validator("grpc_max_streams")
    @classmethod
    def _threads_left_for_unary_calls(cls, value: int | None, info: ValidationInfo) -> int | None:
        workers = info.data.get("grpc_max_workers")
        if value is not None and workers is not None and value >= workers:
            raise ValueError(
                f"must be below STORIES_GRPC_MAX_WORKERS ({workers}): the threads beyond "
                "the streams serve unary calls and health checks"
            )
        return value

    @property
    def resolved_grpc_max_streams(self) -> int:
        return self.grpc_max_streams or max(1, self.grpc_max_workers * 3 // 4)

    @property
    def messaging_kind(self) -> str:
        return "kafka" if self.kafka_brokers else "in_process"

    @property
    def storage_kind(self) -> str:
        return "s3" if self.s3_endpoint else "local"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'stories.db'}"

    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir or self.home / "blobs"
