"""The one composition root: the only module that knows the core, adapters and plugins.

Sub-containers per concern, each reading its sections of one config, loaded once from
`Settings` (whose tree it is). Embedded and production adapters are chosen by
configuration (Selectors), never by ifs elsewhere.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid

from dependency_injector import containers, providers
from pydantic import SecretStr

from stories_adapters.dispatcher import Dispatcher
from stories_adapters.embedded import EmbeddedRuntime, InProcessPublisher
from stories_adapters.grpc.gate import CachedAuthenticator, Gate, StreamSlots, TokenBuckets
from stories_adapters.grpc.server import ApiServer
from stories_adapters.grpc.servicer import StoryServicer
from stories_adapters.kafka.config import KafkaConfig
from stories_adapters.kafka.consumer import JobConsumer
from stories_adapters.kafka.dlq import DeadLetters
from stories_adapters.kafka.producer import KafkaJobQueue, KafkaProducer, KafkaPublisher
from stories_adapters.language import FastTextLanguageDetector
from stories_adapters.runtime import EventBus, InProcessQueue, SystemClock
from stories_adapters.settings import Settings
from stories_adapters.sql.engine import open_database
from stories_adapters.sql.repository import SqlUnitOfWork
from stories_adapters.storage.local import LocalBlobStore
from stories_adapters.storage.s3 import open_bucket
from stories_adapters.webhooks import HttpWebhookSender
from stories_core.plugins import PluginCatalog, build_registry, make_plugin_manager
from stories_core.services.access import Authenticator, QuotaPolicy
from stories_core.services.control import CancelJob, RetryJob
from stories_core.services.dispatch import relay_outbox
from stories_core.services.process import ProcessingSettings, ProcessJob
from stories_core.services.query import JobQueries
from stories_core.services.steal import stealable
from stories_core.services.submit import Limits, SubmitJob
from stories_core.services.sweep import sweep
from stories_core.services.watch import WatchJob
from stories_core.services.webhooks import DeliverWebhooks, WebhookPolicy


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


class Core(containers.DeclarativeContainer):
    clock = providers.Singleton(SystemClock)
    events = providers.Singleton(EventBus)
    # Names this process's leases and Kafka client. A provider, not a setting: it is minted
    # once per application when first asked for, never while reading configuration.
    worker_id = providers.Singleton(new_worker_id)


class Persistence(containers.DeclarativeContainer):
    config = providers.Configuration()
    engine = providers.Singleton(
        open_database, config.resolved_database_url, auto_migrate=config.auto_migrate
    )
    unit_of_work = providers.Factory(SqlUnitOfWork, engine)
    unit_of_work_factory = unit_of_work.provider
    reading_unit_of_work = providers.Factory(SqlUnitOfWork, engine, read_only=True)
    reading_unit_of_work_factory = reading_unit_of_work.provider


class Storage(containers.DeclarativeContainer):
    config = providers.Configuration()
    blobs = providers.Selector(
        config.storage_kind,
        local=providers.Singleton(LocalBlobStore, config.resolved_blob_dir),
        s3=providers.Singleton(
            open_bucket,
            endpoint=config.s3.endpoint,
            bucket=config.s3.bucket,
            access_key=config.s3.access_key,
            secret_key=config.s3.secret_key.as_(_reveal),
            region=config.s3.region,
            url_expiry_seconds=config.s3.url_expiry_seconds,
        ),
    )


class Messaging(containers.DeclarativeContainer):
    config = providers.Configuration()
    in_process_queue = providers.Singleton(InProcessQueue)
    kafka_config = providers.Singleton(KafkaConfig.model_validate, config.kafka)
    kafka_producer = providers.Singleton(KafkaProducer, kafka_config)
    queue = providers.Selector(
        config.messaging_kind,
        in_process=in_process_queue,
        kafka=providers.Singleton(KafkaJobQueue, kafka_producer, kafka_config),
    )
    publisher = providers.Selector(
        config.messaging_kind,
        in_process=providers.Singleton(InProcessPublisher, in_process_queue),
        kafka=providers.Singleton(KafkaPublisher, kafka_producer, kafka_config),
    )


class Generation(containers.DeclarativeContainer):
    """Plugins are loaded when the registry is first asked for, never at import time."""

    environ = providers.Object(os.environ)
    plugin_manager = providers.Singleton(make_plugin_manager)
    registry = providers.Singleton(build_registry, plugin_manager)
    catalog = providers.Singleton(PluginCatalog, registry, environ)
    language_detector = providers.Singleton(FastTextLanguageDetector)


class UseCases(containers.DeclarativeContainer):
    config = providers.Configuration()
    core = providers.DependenciesContainer()
    persistence = providers.DependenciesContainer()
    storage = providers.DependenciesContainer()
    messaging = providers.DependenciesContainer()
    generation = providers.DependenciesContainer()

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
        events=core.events,
        limits=limits,
        detector=generation.language_detector,
        quota=quota,
    )
    queries = providers.Factory(JobQueries, uow_factory=persistence.reading_unit_of_work_factory)
    cancel_job = providers.Factory(
        CancelJob,
        uow_factory=persistence.unit_of_work_factory,
        clock=core.clock,
        events=core.events,
    )
    retry_job = providers.Factory(
        RetryJob, uow_factory=persistence.unit_of_work_factory, clock=core.clock, events=core.events
    )
    watch_job = providers.Factory(
        WatchJob,
        uow_factory=persistence.reading_unit_of_work_factory,
        clock=core.clock,
        notifier=core.events,
        poll_seconds=config.api.watch_poll_seconds,
    )
    relay_outbox = providers.Factory(
        functools.partial,
        relay_outbox,
        persistence.unit_of_work_factory,
        messaging.publisher,
        core.clock,
    )
    sweep = providers.Factory(
        functools.partial,
        sweep,
        persistence.unit_of_work_factory,
        core.clock,
        messaging.queue,
        queued_for_seconds=config.dispatcher.sweep_interval_seconds,
    )
    process_job = providers.Singleton(
        ProcessJob,
        uow_factory=persistence.unit_of_work_factory,
        blobs=storage.blobs,
        catalog=generation.catalog,
        clock=core.clock,
        events=core.events,
        settings=processing_settings,
        owner=core.worker_id,
    )


class Api(containers.DeclarativeContainer):
    """The gRPC API, and in the embedded service the threads that do the work beside it."""

    config = providers.Configuration()
    core = providers.DependenciesContainer()
    persistence = providers.DependenciesContainer()
    storage = providers.DependenciesContainer()
    messaging = providers.DependenciesContainer()
    generation = providers.DependenciesContainer()
    use_cases = providers.DependenciesContainer()

    gate = providers.Singleton(
        Gate,
        authenticate=providers.Factory(
            CachedAuthenticator,
            providers.Factory(Authenticator, persistence.reading_unit_of_work_factory),
            ttl_seconds=config.api.auth_cache_seconds,
        ),
        limits=providers.Singleton(
            TokenBuckets, rate=config.api.rate_limit_per_second, burst=config.api.rate_limit_burst
        ),
        streams=providers.Singleton(
            StreamSlots,
            total=config.grpc.resolved_max_streams,
            per_key=config.grpc.max_streams_per_key,
        ),
    )
    servicer = providers.Singleton(
        StoryServicer,
        gate=gate,
        submit=use_cases.submit_job,
        queries=use_cases.queries,
        cancel=use_cases.cancel_job,
        retry=use_cases.retry_job,
        watch=use_cases.watch_job,
        blobs=storage.blobs,
        registry=generation.registry,
        limits=use_cases.limits,
        clock=core.clock,
        default_backend=config.jobs.default_backend,
        download_ttl_seconds=config.data.download_ttl_seconds,
        max_response_bytes=config.grpc.max_message_bytes,
    )
    server = providers.Singleton(
        ApiServer,
        servicer,
        host=config.grpc.host,
        port=config.grpc.port,
        max_workers=config.grpc.max_workers,
        max_message_bytes=config.grpc.max_message_bytes,
        drain_seconds=config.api.shutdown_drain_seconds,
    )
    embedded_runtime = providers.Singleton(
        EmbeddedRuntime,
        queue=messaging.in_process_queue,
        process_job=use_cases.process_job,
        relay=use_cases.relay_outbox,
        sweep=use_cases.sweep,
        workers=config.api.embedded_workers,
        poll_seconds=config.dispatcher.dispatcher_poll_seconds,
        sweep_interval_seconds=config.dispatcher.sweep_interval_seconds,
    )


class Workers(containers.DeclarativeContainer):
    """The production processes beside the API: Kafka workers (`stories worker`) and the
    dispatcher (`stories dispatcher`: outbox relay, webhook deliveries, sweeper)."""

    config = providers.Configuration()
    core = providers.DependenciesContainer()
    persistence = providers.DependenciesContainer()
    messaging = providers.DependenciesContainer()
    use_cases = providers.DependenciesContainer()

    job_consumer = providers.Factory(
        JobConsumer,
        config=messaging.kafka_config,
        process_job=use_cases.process_job,
        dead_letters=providers.Singleton(
            DeadLetters, messaging.kafka_producer, messaging.kafka_config, core.worker_id
        ),
        client_id=core.worker_id,
        concurrency=config.worker.concurrency,
        shutdown_grace_seconds=config.worker.shutdown_grace_seconds,
        steal=providers.Factory(
            functools.partial,
            stealable,
            persistence.unit_of_work_factory,
            core.clock,
            queued_for_seconds=config.worker.steal_after_seconds,
        ),
        steal_interval_seconds=config.worker.steal_interval_seconds,
    )
    deliver_webhooks = providers.Factory(
        DeliverWebhooks,
        uow_factory=persistence.unit_of_work_factory,
        sender=providers.Singleton(
            HttpWebhookSender,
            timeout_seconds=config.webhook.timeout_seconds,
            allow=config.webhook.allow_private,
        ),
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
        deliver_webhooks=deliver_webhooks,
        poll_seconds=config.dispatcher.dispatcher_poll_seconds,
        sweep_interval_seconds=config.dispatcher.sweep_interval_seconds,
        webhook_threads=config.webhook.concurrency,
    )


class Application(containers.DeclarativeContainer):
    config = providers.Configuration()

    core = providers.Container(Core)
    persistence = providers.Container(Persistence, config=config.data)
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
