"""The one composition root: the only module that knows the core, adapters and plugins.

Sub-containers per concern, each reading its sections of one config, loaded once from
`Settings` (whose tree it is). Embedded and production adapters are chosen by
configuration (Selectors), never by ifs elsewhere. Singletons are thread-safe: the API's
threads, the workers and the dispatcher may each be first to ask for one (the database
engine migrates an embedded database when it is made).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import uuid
from collections.abc import Callable
from typing import TypeVar

from dependency_injector import containers, providers
from pydantic import SecretStr

from stories_adapters.dispatcher import Dispatcher
from stories_adapters.embedded import EmbeddedRuntime, InProcessPublisher
from stories_adapters.event_feed import OutboxEventFeed
from stories_adapters.grpc.gate import CachedAuthenticator, Gate, StreamSlots, TokenBuckets
from stories_adapters.grpc.limits import RequestLimits
from stories_adapters.grpc.server import ApiServer
from stories_adapters.grpc.servicer import StoryServicer
from stories_adapters.kafka.config import KafkaConfig
from stories_adapters.kafka.consumer import JobConsumer
from stories_adapters.kafka.dlq import DeadLetters
from stories_adapters.kafka.producer import KafkaJobQueue, KafkaProducer, KafkaPublisher
from stories_adapters.language import FastTextLanguageDetector
from stories_adapters.metrics import GrpcMetrics, PrometheusTelemetry
from stories_adapters.runtime import EventBus, InProcessQueue, SystemClock
from stories_adapters.settings import Settings
from stories_adapters.sql.engine import open_database, reachable
from stories_adapters.sql.repository import SqlUnitOfWork
from stories_adapters.storage.local import LocalBlobStore
from stories_adapters.storage.s3 import open_bucket
from stories_adapters.tracing import GrpcTracing
from stories_adapters.video import CaptionPainter
from stories_adapters.webhooks import HttpWebhookSender
from stories_core.plugins import PluginCatalog, build_registry, make_plugin_manager
from stories_core.ports import NoTelemetry, Telemetry, UnitOfWorkFactory
from stories_core.services.access import Authenticator, IssueKey, QuotaPolicy, RevokeKey
from stories_core.services.control import CancelJob, RetryJob
from stories_core.services.dispatch import RelayOutbox
from stories_core.services.process import ProcessingSettings, ProcessJob
from stories_core.services.query import JobQueries, PageTokens
from stories_core.services.steal import FindStealable
from stories_core.services.submit import Limits, SubmitJob
from stories_core.services.sweep import Sweep
from stories_core.services.watch import WatchJob
from stories_core.services.webhooks import DeliverWebhooks, WebhookPolicy

T = TypeVar("T")


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def _if_enabled(enabled: bool, make: Callable[[], T]) -> T | None:
    """Webhooks are delivered only where a secret signs them."""
    return make() if enabled else None


def _page_token_key(secret: SecretStr | None) -> bytes:
    if secret is None:
        return secrets.token_bytes(32)
    return hashlib.sha256(secret.get_secret_value().encode()).digest()


def _event_feed(
    uow_factory: UnitOfWorkFactory, events: EventBus, poll_seconds: float
) -> OutboxEventFeed:
    """The feed reads at once when this process records an event, else every poll."""
    feed = OutboxEventFeed(uow_factory, poll_seconds)
    events.subscribe(feed.wake)
    return feed


def _telemetry(metrics_port: int | None) -> Telemetry:
    return PrometheusTelemetry() if metrics_port is not None else NoTelemetry()


class Core(containers.DeclarativeContainer):
    clock = providers.ThreadSafeSingleton(SystemClock)
    events = providers.ThreadSafeSingleton(EventBus)
    # Names this process's leases and Kafka client. A provider, not a setting: it is minted
    # once per application when first asked for, never while reading configuration.
    worker_id = providers.ThreadSafeSingleton(new_worker_id)


class Persistence(containers.DeclarativeContainer):
    config = providers.Configuration()
    events = providers.Dependency()
    """Hears of the job events a unit of work commits."""
    engine = providers.ThreadSafeSingleton(
        open_database,
        config.resolved_database_url,
        auto_migrate=config.auto_migrate,
        connect_timeout_seconds=config.database_connect_timeout_seconds,
        statement_timeout_seconds=config.database_statement_timeout_seconds,
    )
    unit_of_work = providers.Factory(SqlUnitOfWork, engine, events=events)
    unit_of_work_factory = unit_of_work.provider
    reading_unit_of_work = providers.Factory(SqlUnitOfWork, engine, read_only=True)
    reading_unit_of_work_factory = reading_unit_of_work.provider
    database_reachable = providers.Factory(reachable, engine)


class Storage(containers.DeclarativeContainer):
    config = providers.Configuration()
    blobs = providers.Selector(
        config.storage_kind,
        local=providers.ThreadSafeSingleton(LocalBlobStore, config.resolved_blob_dir),
        s3=providers.ThreadSafeSingleton(
            open_bucket,
            endpoint=config.s3.endpoint,
            bucket=config.s3.bucket,
            access_key=config.s3.access_key,
            secret_key=config.s3.secret_key.as_(_reveal),
            region=config.s3.region,
            url_expiry_seconds=config.s3.url_expiry_seconds,
            connect_timeout_seconds=config.s3.connect_timeout_seconds,
            read_timeout_seconds=config.s3.read_timeout_seconds,
            max_connections=config.s3.max_connections,
        ),
    )


class Messaging(containers.DeclarativeContainer):
    config = providers.Configuration()
    in_process_queue = providers.ThreadSafeSingleton(InProcessQueue)
    kafka_config = providers.ThreadSafeSingleton(KafkaConfig.model_validate, config.kafka)
    kafka_producer = providers.ThreadSafeSingleton(KafkaProducer, kafka_config)
    queue = providers.Selector(
        config.messaging_kind,
        in_process=in_process_queue,
        kafka=providers.ThreadSafeSingleton(KafkaJobQueue, kafka_producer, kafka_config),
    )
    publisher = providers.Selector(
        config.messaging_kind,
        in_process=providers.ThreadSafeSingleton(InProcessPublisher, in_process_queue),
        kafka=providers.ThreadSafeSingleton(KafkaPublisher, kafka_producer, kafka_config),
    )


def _caption_painter() -> CaptionPainter:
    """Burned-in video captions are set by the local plugin's typesetter, the pictures'
    own; imported when a video is made, not by every process that builds the container."""
    from stories_local.captions import caption_band

    return caption_band


class Generation(containers.DeclarativeContainer):
    """Plugins are loaded when the registry is first asked for, never at import time."""

    environ = providers.Object(os.environ)
    plugin_manager = providers.ThreadSafeSingleton(make_plugin_manager)
    registry = providers.ThreadSafeSingleton(build_registry, plugin_manager)
    catalog = providers.ThreadSafeSingleton(PluginCatalog, registry, environ)
    language_detector = providers.ThreadSafeSingleton(FastTextLanguageDetector)
    caption_painter = providers.Callable(_caption_painter)


class UseCases(containers.DeclarativeContainer):
    config = providers.Configuration()
    core = providers.DependenciesContainer()
    persistence = providers.DependenciesContainer()
    storage = providers.DependenciesContainer()
    messaging = providers.DependenciesContainer()
    generation = providers.DependenciesContainer()
    # Figures of the work are kept only where they are served.
    telemetry = providers.ThreadSafeSingleton(_telemetry, config.metrics.port)
    # Checks a webhook URL at CreateJob, and calls it at delivery (the dispatcher's).
    webhook_sender = providers.ThreadSafeSingleton(
        HttpWebhookSender,
        timeout_seconds=config.webhook.timeout_seconds,
        allow=config.webhook.allow_private,
    )

    limits = providers.Factory(
        Limits,
        max_input_chars=config.jobs.max_input_chars,
        max_pictures=config.jobs.max_pictures,
        webhooks_enabled=config.webhook.enabled,
    )
    processing_settings = providers.Factory(
        ProcessingSettings,
        max_concurrent_segments=config.jobs.max_concurrent_segments,
        lease_seconds=config.jobs.lease_seconds,
        outage_patience_seconds=config.jobs.outage_patience_seconds,
    )
    quota = providers.Factory(
        QuotaPolicy,
        chars_per_period=config.api.quota_chars_per_period,
        period_seconds=config.api.quota_period_seconds,
    )
    submit_job = providers.Factory(
        SubmitJob,
        uow_factory=persistence.unit_of_work_factory,
        catalog=generation.catalog,
        clock=core.clock,
        limits=limits,
        detector=generation.language_detector,
        quota=quota,
        telemetry=telemetry,
        webhook_destinations=webhook_sender,
    )
    issue_key = providers.Factory(
        IssueKey, uow_factory=persistence.unit_of_work_factory, clock=core.clock
    )
    revoke_key = providers.Factory(
        RevokeKey, uow_factory=persistence.unit_of_work_factory, clock=core.clock
    )
    page_tokens = providers.ThreadSafeSingleton(
        PageTokens, providers.Callable(_page_token_key, config.api.page_token_secret)
    )
    queries = providers.Factory(
        JobQueries,
        uow_factory=persistence.reading_unit_of_work_factory,
        page_tokens=page_tokens,
    )
    cancel_job = providers.Factory(
        CancelJob, uow_factory=persistence.unit_of_work_factory, clock=core.clock
    )
    retry_job = providers.Factory(
        RetryJob, uow_factory=persistence.unit_of_work_factory, clock=core.clock
    )
    # One reader of recorded events per process, for every watcher in it.
    event_feed = providers.ThreadSafeSingleton(
        _event_feed,
        persistence.reading_unit_of_work_factory,
        core.events,
        config.api.watch_poll_seconds,
    )
    watch_job = providers.Factory(
        WatchJob,
        uow_factory=persistence.reading_unit_of_work_factory,
        clock=core.clock,
        feed=event_feed,
    )
    relay_outbox = providers.Factory(
        RelayOutbox, persistence.unit_of_work_factory, messaging.publisher, core.clock
    )
    sweep = providers.Factory(
        Sweep,
        persistence.unit_of_work_factory,
        core.clock,
        messaging.queue,
        queued_for_seconds=config.dispatcher.sweep_queued_after_seconds,
    )
    process_job = providers.ThreadSafeSingleton(
        ProcessJob,
        uow_factory=persistence.unit_of_work_factory,
        blobs=storage.blobs,
        catalog=generation.catalog,
        clock=core.clock,
        settings=processing_settings,
        owner=core.worker_id,
        telemetry=telemetry,
    )


class Api(containers.DeclarativeContainer):
    """The gRPC API."""

    config = providers.Configuration()
    core = providers.DependenciesContainer()
    persistence = providers.DependenciesContainer()
    storage = providers.DependenciesContainer()
    messaging = providers.DependenciesContainer()
    generation = providers.DependenciesContainer()
    use_cases = providers.DependenciesContainer()

    gate = providers.ThreadSafeSingleton(
        Gate,
        authenticate=providers.Factory(
            CachedAuthenticator,
            providers.Factory(Authenticator, persistence.reading_unit_of_work_factory),
            ttl_seconds=config.api.auth_cache_seconds,
        ),
        limits=providers.ThreadSafeSingleton(
            TokenBuckets, rate=config.api.rate_limit_per_second, burst=config.api.rate_limit_burst
        ),
        streams=providers.ThreadSafeSingleton(
            StreamSlots,
            total=config.grpc.max_streams,
            per_key=config.grpc.max_streams_per_key,
        ),
    )
    servicer = providers.ThreadSafeSingleton(
        StoryServicer,
        gate=gate,
        submit=use_cases.submit_job,
        queries=use_cases.queries,
        cancel=use_cases.cancel_job,
        retry=use_cases.retry_job,
        watch=use_cases.watch_job,
        feed=use_cases.event_feed,
        blobs=storage.blobs,
        registry=generation.registry,
        limits=use_cases.limits,
        clock=core.clock,
        default_backend=config.jobs.default_backend,
        download_ttl_seconds=config.data.download_ttl_seconds,
        max_response_bytes=config.grpc.max_message_bytes,
    )
    server = providers.ThreadSafeSingleton(
        ApiServer,
        servicer,
        host=config.grpc.host,
        port=config.grpc.port,
        max_workers=config.grpc.max_workers,
        max_message_bytes=config.grpc.max_message_bytes,
        # Never fewer than gRPC's own default (3,000).
        max_pending_calls=providers.Callable(max, config.grpc.max_streams, 3000),
        drain_seconds=config.api.shutdown_drain_seconds,
        probe=persistence.database_reachable.provider,
        probe_seconds=config.api.health_probe_seconds,
        # Outermost first: every call is counted, even one refused at the door.
        interceptors=providers.List(
            providers.Factory(GrpcMetrics),
            providers.Factory(RequestLimits, config.grpc.max_message_bytes),
            providers.Factory(GrpcTracing),
        ),
    )


class Workers(containers.DeclarativeContainer):
    """The work beside the API: Kafka workers (`stories worker`), the dispatcher (`stories
    dispatcher`: outbox relay, webhook deliveries, sweeper), and in the embedded service
    the same dispatcher with in-process workers, as threads."""

    config = providers.Configuration()
    core = providers.DependenciesContainer()
    persistence = providers.DependenciesContainer()
    messaging = providers.DependenciesContainer()
    use_cases = providers.DependenciesContainer()

    job_consumer = providers.Factory(
        JobConsumer,
        config=messaging.kafka_config,
        process_job=use_cases.process_job,
        dead_letters=providers.ThreadSafeSingleton(
            DeadLetters, messaging.kafka_producer, messaging.kafka_config, core.worker_id
        ),
        client_id=core.worker_id,
        concurrency=config.worker.concurrency,
        shutdown_grace_seconds=config.worker.shutdown_grace_seconds,
        steal=providers.Factory(
            FindStealable,
            persistence.unit_of_work_factory,
            core.clock,
            queued_for_seconds=config.worker.steal_after_seconds,
        ),
        steal_interval_seconds=config.worker.steal_interval_seconds,
    )
    deliver_webhooks = providers.Factory(
        DeliverWebhooks,
        uow_factory=persistence.unit_of_work_factory,
        sender=use_cases.webhook_sender,
        clock=core.clock,
        policy=providers.Factory(
            WebhookPolicy,
            secret=config.webhook.secret.as_(_reveal),
            max_attempts=config.webhook.max_attempts,
            backoff_seconds=config.webhook.backoff_seconds,
            max_backoff_seconds=config.webhook.max_backoff_seconds,
            claim_seconds=config.webhook.claim_seconds,
        ),
    )
    dispatcher = providers.Factory(
        Dispatcher,
        relay=use_cases.relay_outbox,
        sweep=use_cases.sweep,
        deliver_webhooks=providers.Callable(
            _if_enabled, config.webhook.enabled, deliver_webhooks.provider
        ),
        poll_seconds=config.dispatcher.dispatcher_poll_seconds,
        sweep_interval_seconds=config.dispatcher.sweep_interval_seconds,
        webhook_threads=config.webhook.concurrency,
    )
    embedded_runtime = providers.ThreadSafeSingleton(
        EmbeddedRuntime,
        queue=messaging.in_process_queue,
        process_job=use_cases.process_job,
        dispatcher=dispatcher,
        workers=config.api.embedded_workers,
        poll_seconds=config.dispatcher.dispatcher_poll_seconds,
    )


class Application(containers.DeclarativeContainer):
    config = providers.Configuration()

    core = providers.Container(Core)
    persistence = providers.Container(Persistence, config=config.data, events=core.events)
    storage = providers.Container(Storage, config=config.data)
    messaging = providers.Container(Messaging, config=config)
    generation = providers.Container(Generation)
    use_cases = providers.Container(
        UseCases,
        config=config,
        core=core,
        persistence=persistence,
        storage=storage,
        messaging=messaging,
        generation=generation,
    )
    workers = providers.Container(
        Workers,
        config=config,
        core=core,
        persistence=persistence,
        messaging=messaging,
        use_cases=use_cases,
    )
    api = providers.Container(
        Api,
        config=config,
        core=core,
        persistence=persistence,
        storage=storage,
        messaging=messaging,
        generation=generation,
        use_cases=use_cases,
    )


def build_application(settings: Settings | None = None) -> Application:
    settings = settings or Settings()
    settings.data.home.mkdir(parents=True, exist_ok=True)
    application = Application()
    application.config.from_pydantic(settings)
    return application
