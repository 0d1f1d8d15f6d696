"""Configuration from STORIES_* environment variables, with embedded defaults.

One class per concern, each reading its own `STORIES_*` prefix; every setting is written
once, here, with its default, its bounds and its docstring. `Settings` composes them and
is what the container loads (`Configuration.from_pydantic`): the config tree is this one,
derived values (computed fields) included. The README's tables are checked against these
classes by tests/unit/test_settings.py.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, Self, Union, get_args, get_origin

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    computed_field,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)


def default_home() -> Path:
    return Path.home() / ".local" / "share" / "stories"


class Section(BaseSettings):
    """A concern's settings: field `x` is the variable `<env_prefix>X`."""

    model_config = SettingsConfigDict(
        env_prefix="STORIES_", extra="ignore", frozen=True, use_attribute_docstrings=True
    )


class S3Settings(Section):
    """S3 or MinIO: set `STORIES_S3_ENDPOINT` and assets go there."""

    model_config = SettingsConfigDict(env_prefix="STORIES_S3_")

    endpoint: str | None = None
    """http(s)://host:port of MinIO or S3."""
    bucket: str = "stories"
    access_key: str = ""
    secret_key: SecretStr = SecretStr("")
    region: str = "us-east-1"
    url_expiry_seconds: int = Field(900, ge=1, le=604_800)
    """How long the download URLs of GetAsset work (presigned; S3 allows up to 7 days)."""
    connect_timeout_seconds: float = Field(5.0, gt=0)
    """Longest wait to open a connection to the store; a refused one fails at once."""
    read_timeout_seconds: float = Field(30.0, gt=0)
    """Longest wait for the store to answer (each wait on the socket, not the whole
    transfer); a stuck store fails a call after this, as STORAGE_UNAVAILABLE."""
    max_connections: int = Field(32, ge=1)
    """Connections kept open to the store per process: at least the threads calling it.
    A worker runs `STORIES_WORKER_CONCURRENCY` jobs of 2 x `STORIES_MAX_CONCURRENT_SEGMENTS`
    + 1 threads each (2 x 11 = 22 with the defaults); `serve` reads assets on up to
    `STORIES_GRPC_MAX_WORKERS` threads, so raise it to that there if many stream."""


class DataSettings(Section):
    """Where jobs and assets are kept: unset, SQLite and a folder under `home`; at scale,
    PostgreSQL (`STORIES_DATABASE_URL`) and S3."""

    home: Path = Field(default_factory=default_home)
    database_url: str | None = None
    """SQLAlchemy URL; unset means SQLite at `home/stories.db`."""
    database_connect_timeout_seconds: int = Field(5, ge=2)
    """Longest wait to open a PostgreSQL connection (libpq counts whole seconds, at least
    2); then the call fails as DATABASE_UNAVAILABLE instead of hanging."""
    database_statement_timeout_seconds: float = Field(30.0, gt=0)
    """Longest a PostgreSQL statement may run before the server cancels it (then the call
    fails as DATABASE_UNAVAILABLE, retryable); every statement of the service takes
    milliseconds."""
    blob_dir: Path | None = None
    """Local blob folder; unset means `home/blobs`."""
    s3: S3Settings = Field(default_factory=S3Settings)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'stories.db'}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def auto_migrate(self) -> bool:
        """The embedded database is brought to the latest schema when opened; a configured
        one only by `stories migrate`."""
        return self.database_url is None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir or self.home / "blobs"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def storage_kind(self) -> Literal["local", "s3"]:
        return "s3" if self.s3.endpoint else "local"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def download_ttl_seconds(self) -> int | None:
        """How long GetAsset's download URLs work; None when assets have no URLs (local)."""
        return self.s3.url_expiry_seconds if self.storage_kind == "s3" else None


class JobSettings(Section):
    """What one job may ask for, and how its segments are run."""

    max_input_chars: int = Field(50_000, ge=1)
    max_pictures: int = Field(20, ge=1)
    max_concurrent_segments: int = Field(5, ge=1, le=64)
    lease_seconds: float = Field(15.0, gt=0)
    """How long a worker's claim on a job lasts without renewal. A running job renews it
    every third of it (and with every write), so a dead worker's jobs are claimable this
    long after its last renewal: at most one lease after it died, plus a steal or sweep."""
    outage_patience_seconds: float = Field(300.0, gt=0)
    """How long a running job's step waits out an outage of the database or the object
    store (trying again with backoff) before the job gives up on it."""
    default_backend: str = "local"


class GrpcSettings(Section):
    """Where and how the gRPC API (`stories serve`) listens."""

    model_config = SettingsConfigDict(env_prefix="STORIES_GRPC_")

    host: str = "127.0.0.1"
    """Interface to listen on; use 0.0.0.0 or [::] in a container."""
    port: int = Field(50051, ge=0, le=65535)
    max_workers: int = Field(64, ge=2)
    """Threads for the calls' blocking work (database reads and writes, a chunk of an
    asset); the server itself runs on one event loop (grpc.aio), where an open WatchJob
    stream waits without a thread."""
    max_streams: int = Field(20_000, ge=1)
    """WatchJob and ReadAsset streams open at once (a few kilobytes each); a stream over
    the cap is RESOURCE_EXHAUSTED."""
    max_streams_per_key: int = Field(1_000, ge=1)
    max_message_bytes: int = Field(4 * 1024 * 1024, ge=64 * 1024)


class ApiSettings(Section):
    """How the API treats its callers, stops, and (embedded) runs workers beside it."""

    shutdown_drain_seconds: float = Field(2.0, ge=0)
    """On SIGTERM, how long health reports NOT_SERVING while calls are still served, so
    load balancers stop routing here before the server stops accepting calls."""
    shutdown_grace_seconds: float = Field(10.0, ge=0)
    """Then, how long calls in flight get to finish."""
    health_probe_seconds: float = Field(2.0, gt=0)
    """How often the API checks its database; while it does not answer, grpc.health.v1
    says NOT_SERVING (and calls that need it fail UNAVAILABLE)."""
    rate_limit_per_second: float = Field(20.0, ge=0)
    """Calls per second per API key (0 turns the limit off)."""
    rate_limit_burst: int = Field(40, ge=1)
    auth_cache_seconds: float = Field(2.0, ge=0)
    """How long an authenticated key is remembered; a revocation takes effect within it."""
    quota_chars_per_period: int = Field(2_000_000, ge=0)
    """Characters of text each API key may submit per quota period (0: unlimited)."""
    quota_period_seconds: int = Field(86_400, ge=1)
    watch_poll_seconds: float = Field(0.25, gt=0)
    """How often each API process reads the newly recorded job events for all its watchers
    (one query, however many streams; at once for events the process recorded itself)."""
    page_token_secret: SecretStr | None = Field(None, min_length=1)
    """Signs ListJobs page tokens; every API process of a deployment needs the same one.
    Unset: a random key per process (tokens then work only with the process that issued
    them, which is all an embedded server needs)."""
    embedded_workers: int = Field(2, ge=0)
    """Worker threads inside `stories serve` when running embedded; 0 serves the API
    alone (jobs wait, recorded, for a later run with workers)."""


class KafkaSettings(Section):
    """Where the brokers are, what the topics are called, and how clients are tuned. Set
    `STORIES_KAFKA_BROKERS` and the Kafka adapters are used. (`KafkaConfig` adds the
    client configurations to these fields.)"""

    model_config = SettingsConfigDict(env_prefix="STORIES_KAFKA_")

    brokers: str | None = None
    """Comma-separated host:port bootstrap list."""
    jobs_topic: str = "stories.jobs.v1"
    events_topic: str = "stories.events.v1"
    dlq_topic: str = "stories.jobs.dlq.v1"
    jobs_partitions: int = Field(12, ge=1)
    """The most worker processes that can share the work (a partition has one reader)."""
    events_partitions: int = Field(12, ge=1)
    dlq_partitions: int = Field(1, ge=1)
    replication_factor: int = Field(-1, ge=-1)
    """-1: the brokers' default (3 on a production cluster)."""
    group_id: str = "stories-workers"
    session_timeout_ms: int = Field(45_000, ge=1_000)
    heartbeat_interval_ms: int = Field(3_000, ge=100)
    fetch_wait_max_ms: int = Field(500, ge=1)
    """How long the broker may hold a fetch that has nothing to return. Kafka answers as
    soon as a message arrives; a broker that always waits this long (Tansu) adds it to
    every doorbell's latency, so tests and benchmarks set it low."""
    delivery_timeout_ms: int = Field(10_000, ge=1_000)
    """How long a produced message may go unacknowledged before it counts as failed. The
    relay tries a failed batch again at once with a new producer (which a broker that lost
    its state needs), so this bounds how long the outbox waits after the broker is back."""


class WorkerSettings(Section):
    """A `stories worker` process."""

    model_config = SettingsConfigDict(env_prefix="STORIES_WORKER_")

    concurrency: int = Field(2, ge=1, le=32)
    """Jobs one `stories worker` runs at once (each runs its segments concurrently too)."""
    shutdown_grace_seconds: float = Field(20.0, ge=0)
    """On SIGTERM, how long in-flight jobs may take to finish before they are released."""
    steal_after_seconds: float = Field(1.0, ge=0)
    """A worker with a free slot and no doorbell waiting runs a job queued this long
    whose doorbell sits on another worker's partitions (0: never steals)."""
    steal_interval_seconds: float = Field(0.5, gt=0)
    """How often an idle worker asks the database for jobs to steal."""


class MetricsSettings(Section):
    """Prometheus metrics and HTTP probes (`/metrics`, `/healthz`, `/readyz`) of a process."""

    model_config = SettingsConfigDict(env_prefix="STORIES_METRICS_")

    port: int | None = Field(None, ge=0, le=65535)
    """Where the process serves them; unset, it serves none. 0 picks a free port."""
    host: str = "0.0.0.0"
    """The address to bind (all interfaces: the pod's probes and Prometheus reach it)."""


class DispatcherSettings(Section):
    """The outbox relay and the sweeper (`stories dispatcher`, or inside embedded `serve`)."""

    dispatcher_poll_seconds: float = Field(0.1, gt=0)
    """Idle pause of the outbox relay and webhook loops."""
    sweep_interval_seconds: float = Field(5.0, gt=0)
    """How often the sweeper re-publishes the doorbells of jobs under an expired lease."""
    sweep_queued_after_seconds: float = Field(60.0, gt=0)
    """A queued job's doorbell is re-published once it waited this long (its first one
    may be lost); shorter would flood a backlog with repeated doorbells."""


class WebhookSettings(Section):
    """Signed webhook deliveries."""

    model_config = SettingsConfigDict(env_prefix="STORIES_WEBHOOK_")

    secret: SecretStr | None = Field(None, min_length=1)
    """Signs webhook requests (HMAC-SHA256); `stories dispatcher` refuses to start without."""
    max_attempts: int = Field(8, ge=1)
    backoff_seconds: float = Field(10.0, gt=0)
    """Delay after the first failed attempt; it doubles after each further one."""
    max_backoff_seconds: float = Field(3_600.0, gt=0)
    timeout_seconds: float = Field(10.0, gt=0)
    concurrency: int = Field(4, ge=1)
    allow_private: str = ""
    """Internal addresses webhooks may call, comma-separated: loopback, link_local,
    private. Empty (refuse them all) in production."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def enabled(self) -> bool:
        """Without a secret, CreateJob refuses a webhook_url."""
        return self.secret is not None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def claim_seconds(self) -> float:
        """A claimed delivery stays hidden from other dispatchers well past a timeout."""
        return self.timeout_seconds + 30


class CliSettings(Section):
    """The command line: where its client commands connect, with which key, and the
    tenant `stories make` records its jobs under."""

    server: str = "127.0.0.1:50051"
    api_key: str | None = None
    tenant: str = "default"


class Settings(Section):
    """Every setting the adapters read. Unset, `stories` runs embedded in `data.home`."""

    log_level: str = "WARNING"
    data: DataSettings = Field(default_factory=DataSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    grpc: GrpcSettings = Field(default_factory=GrpcSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    dispatcher: DispatcherSettings = Field(default_factory=DispatcherSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    cli: CliSettings = Field(default_factory=CliSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Each section reads its own variables: `STORIES_API` or `STORIES_KAFKA` set in
        the environment is not a section's JSON, it is nothing."""
        return init_settings, _OwnVariables(settings_cls)

    @field_validator("log_level")
    @classmethod
    def _a_known_log_level(cls, value: str) -> str:
        levels = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        if value.upper() not in levels:
            raise ValueError(f"must be one of {', '.join(levels)}")
        return value.upper()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def messaging_kind(self) -> Literal["in_process", "kafka"]:
        return "kafka" if self.kafka.brokers else "in_process"

    @classmethod
    def from_variables(cls, variables: Mapping[str, object]) -> Self:
        """Settings from `STORIES_*` variables given here (as a process would see them in
        its environment); the ones not given are read from the environment as usual."""
        return cls(**_nested_values(cls, variables))


class _OwnVariables(EnvSettingsSource):
    """The environment, for a composite's own fields only (not its sections)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if _section_of(field.annotation) is not None:
            return None, field_name, False
        return super().get_field_value(field, field_name)


def _section_of(annotation: Any) -> type[BaseSettings] | None:
    """The settings class a field holds, if it holds one (`X` or `X | None`)."""
    candidates = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else ()
    for candidate in (annotation, *candidates):
        if isinstance(candidate, type) and issubclass(candidate, BaseSettings):
            return candidate
    return None


def _nested_values(model: type[BaseSettings], variables: Mapping[str, object]) -> dict[str, Any]:
    prefix = model.model_config.get("env_prefix", "")
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        section = _section_of(field.annotation)
        if section is not None:
            inner = _nested_values(section, variables)
            if inner:
                values[name] = section(**inner)
        elif (variable := f"{prefix}{name}".upper()) in variables:
            values[name] = variables[variable]
    return values


def variables(model: type[BaseSettings] = Settings) -> Iterator[tuple[str, FieldInfo]]:
    """Every environment variable `model` reads, with its field, nested sections included."""
    prefix = model.model_config.get("env_prefix", "")
    for name, field in model.model_fields.items():
        section = _section_of(field.annotation)
        if section is not None:
            yield from variables(section)
        else:
            yield f"{prefix}{name}".upper(), field


def _sections(model: type[BaseSettings] = Settings) -> Iterator[type[BaseSettings]]:
    yield model
    for field in model.model_fields.values():
        if (section := _section_of(field.annotation)) is not None:
            yield from _sections(section)


def problems(error: ValidationError) -> list[str]:
    """`STORIES_X: message` for each error of a settings class (`Settings` or a section
    of it); never the value, which may be a secret."""
    model = next((s for s in _sections() if s.__name__ == error.title), Settings)
    found = []
    for each in error.errors(include_input=False, include_url=False):
        where: type[BaseSettings] = model
        variable = ""
        for part in each["loc"]:
            variable = f"{where.model_config.get('env_prefix', '')}{part}".upper()
            field = where.model_fields.get(str(part))
            section = _section_of(field.annotation) if field else None
            if section is None:
                break
            where = section
        found.append(f"{variable}: {each['msg']}")
    return found
