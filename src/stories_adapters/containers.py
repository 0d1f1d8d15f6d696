"""The one composition root: the only module that knows the core, adapters and plugins.

Sub-containers per concern, each fed its own config section. Embedded and production
adapters are chosen by configuration (Selectors), never by ifs elsewhere.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid
from typing import Any

from dependency_injector import containers, providers

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


class Core(containers.DeclarativeContainer):
    clock = providers.Singleton(SystemClock)
    events = providers.Singleton(EventBus)


class Persistence(containers.DeclarativeContainer):
    config = providers.Configuration()
    engine = providers.Singleton(open_database, config.url, auto_migrate=config.auto_migrate)
    unit_of_work = providers.Factory(SqlUnitOfWork, engine)
    unit_of_work_factory = unit_of_work.provider
    reading_unit_of_work = providers.Factory(SqlUnitOfWork, engine, read_only=True)
    reading_unit_of_work_factory = reading_unit_of_work.provider


class Storage(containers.DeclarativeContainer):
    config = providers.Configuration()
    blobs = providers.Selector(
        config.kind,
        local=providers.Singleton(LocalBlobStore, config.local_dir),
        s3=providers.Singleton(
            open_bucket,
            endpoint=config.s3.endpoint,
            bucket=config.s3.bucket,
            access_key=config.s3.access_key,
            secret_key=config.s3.secret_key,
            region=config.s3.region,
            url_expiry_seconds=config.s3.url_expiry_seconds,
        ),
    )


class Messaging(containers.DeclarativeContainer):
    config = providers.Configuration()
    in_process_queue = providers.Singleton(InProcessQueue)
    kafka_config = providers.Singleton(
        KafkaConfig,
        brokers=config.kafka.brokers,
        jobs_topic=config.kafka.jobs_topic,
        events_topic=config.kafka.events_topic,
        dlq_topic=config.kafka.dlq_topic,
        jobs_partitions=config.kafka.jobs_partitions,
        events_partitions=config.kafka.events_partitions,
        dlq_partitions=config.kafka.dlq_partitions,
        replication_factor=config.kafka.replication_factor,
        group_id=config.kafka.group_id,
        session_timeout_ms=config.kafka.session_timeout_ms,
        heartbeat_interval_ms=config.kafka.heartbeat_interval_ms,
        fetch_wait_max_ms=config.kafka.fetch_wait_max_ms,
        delivery_timeout_ms=config.kafka.delivery_timeout_ms,
    )
    kafka_producer = providers.Singleton(KafkaProducer, kafka_config)
    queue = providers.Selector(
        config.kind,
        in_process=in_process_queue,
        kafka=providers.Singleton(KafkaJobQueue, kafka_producer, kafka_config),
    )
    publisher = providers.Selector(
        config.kind,
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
        max_input_chars=config.max_input_chars,
        max_pictures=config.max_pictures,
        webhooks_enabled=config.webhooks_enabled,
    )
    processing_settings = providers.Factory(
        ProcessingSettings,
        max_concurrent_segments=config.max_concurrent_segments,
        lease_seconds=config.lease_seconds,
    )
    quota = providers.Factory(
        QuotaPolicy,
        chars_per_period=config.quota_chars_per_period,
        period_seconds=config.quota_period_seconds,
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
        poll_seconds=config.watch_poll_seconds,
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
        queued_for_seconds=config.sweep_interval_seconds,
    )
    process_job = providers.Singleton(
        ProcessJob,
        uow_factory=persistence.unit_of_work_factory,
        blobs=storage.blobs,
        catalog=generation.catalog,
        clock=core.clock,
        events=core.events,
        settings=processing_settings,
        owner=config.worker_id,
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
            ttl_seconds=config.auth_cache_seconds,
        ),
        limits=providers.Singleton(
            TokenBuckets, rate=config.rate_limit_per_second, burst=config.rate_limit_burst
        ),
        streams=providers.Singleton(
            StreamSlots, total=config.max_streams, per_key=config.max_streams_per_key
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
        default_backend=config.default_backend,
        download_ttl_seconds=config.download_ttl_seconds,
        max_response_bytes=config.max_message_bytes,
    )
    server = providers.Singleton(
        ApiServer,
        servicer,
        host=config.host,
        port=config.port,
        max_workers=config.max_workers,
        max_message_bytes=config.max_message_bytes,
        drain_seconds=config.drain_seconds,
    )
    embedded_runtime = providers.Singleton(
        EmbeddedRuntime,
        queue=messaging.in_process_queue,
        process_job=use_cases.process_job,
        relay=use_cases.relay_outbox,
        sweep=use_cases.sweep,
        workers=config.embedded_workers,
        poll_seconds=config.dispatcher_poll_seconds,
        sweep_interval_seconds=config.sweep_interval_seconds,
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
            DeadLetters, messaging.kafka_producer, messaging.kafka_config, config.worker_id
        ),
        client_id=config.worker_id,
        concurrency=config.concurrency,
        shutdown_grace_seconds=config.shutdown_grace_seconds,
        steal=providers.Factory(
            functools.partial,
            stealable,
            persistence.unit_of_work_factory,
            core.clock,
            queued_for_seconds=config.steal_after_seconds,
        ),
        steal_interval_seconds=config.steal_interval_seconds,
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
            secret=config.webhook.secret,
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
        poll_seconds=config.poll_seconds,
        sweep_interval_seconds=config.sweep_interval_seconds,
        webhook_threads=config.webhook.concurrency,
    )


class Application(containers.DeclarativeContainer):
    config = providers.Configuration()

    core = providers.Container(Core)
    persistence = providers.Container(Persistence, config=config.persistence)
    storage = providers.Container(Storage, config=config.storage)
    messaging = providers.Container(Messaging, config=config.messaging)
    generation = providers.Container(Generation)
    use_cases = providers.Container(
        UseCases,
        config=config.use_cases,
        core=core,
        persistence=persistence,
        storage=storage,
        messaging=messaging,
        generation=generation,
    )
    workers = providers.Container(
        Workers,
        config=config.workers,
        core=core,
        persistence=persistence,
        messaging=messaging,
        use_cases=use_cases,
    )
    api = providers.Container(
        Api,
        config=config.api,
        core=core,
        persistence=persistence,
        storage=storage,
        messaging=messaging,
        generation=generation,
        use_cases=use_cases,
    )


def config_from(settings: Settings) -> dict[str, Any]:
    """Map flat STORIES_* settings onto the container's config sections."""
    worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    webhook_secret = settings.webhook_secret
    return {
        "persistence": {
            "url": settings.resolved_database_url,
            "auto_migrate": settings.database_url is None,
        },
        "storage": {
            "kind": settings.storage_kind,
            "local_dir": settings.resolved_blob_dir,
            "s3": {
                "endpoint": settings.s3_endpoint,
                "bucket": settings.s3_bucket,
                "access_key": settings.s3_access_key,
                "secret_key": settings.s3_secret_key.get_secret_value(),
                "region": settings.s3_region,
                "url_expiry_seconds": settings.s3_url_expiry_seconds,
            },
        },
        "messaging": {
            "kind": settings.messaging_kind,
            "kafka": {
                "brokers": settings.kafka_brokers,
                "jobs_topic": settings.kafka_jobs_topic,
                "events_topic": settings.kafka_events_topic,
                "dlq_topic": settings.kafka_dlq_topic,
                "jobs_partitions": settings.kafka_jobs_partitions,
                "events_partitions": settings.kafka_events_partitions,
                "dlq_partitions": settings.kafka_dlq_partitions,
                "replication_factor": settings.kafka_replication_factor,
                "group_id": settings.kafka_group_id,
                "session_timeout_ms": settings.kafka_session_timeout_ms,
                "heartbeat_interval_ms": settings.kafka_heartbeat_interval_ms,
                "fetch_wait_max_ms": settings.kafka_fetch_wait_max_ms,
                "delivery_timeout_ms": settings.kafka_delivery_timeout_ms,
            },
        },
        "use_cases": {
            "max_input_chars": settings.max_input_chars,
            "max_pictures": settings.max_pictures,
            "webhooks_enabled": settings.webhook_secret is not None,
            "max_concurrent_segments": settings.max_concurrent_segments,
            "lease_seconds": settings.lease_seconds,
            "watch_poll_seconds": settings.watch_poll_seconds,
            "quota_chars_per_period": settings.quota_chars_per_period,
            "quota_period_seconds": settings.quota_period_seconds,
            "sweep_interval_seconds": settings.sweep_interval_seconds,
            "worker_id": worker_id,
        },
        "workers": {
            "worker_id": worker_id,
            "concurrency": settings.worker_concurrency,
            "shutdown_grace_seconds": settings.worker_shutdown_grace_seconds,
            "steal_after_seconds": settings.worker_steal_after_seconds,
            "steal_interval_seconds": settings.worker_steal_interval_seconds,
            "poll_seconds": settings.dispatcher_poll_seconds,
            "sweep_interval_seconds": settings.sweep_interval_seconds,
            "webhook": {
                "secret": webhook_secret.get_secret_value() if webhook_secret else None,
                "max_attempts": settings.webhook_max_attempts,
                "backoff_seconds": settings.webhook_backoff_seconds,
                "max_backoff_seconds": settings.webhook_max_backoff_seconds,
                "timeout_seconds": settings.webhook_timeout_seconds,
                # A claimed delivery stays hidden from other dispatchers well past a timeout.
                "claim_seconds": settings.webhook_timeout_seconds + 30,
                "concurrency": settings.webhook_concurrency,
                "allow_private": settings.webhook_allow_private,
            },
        },
        "api": {
            "host": settings.grpc_host,
            "port": settings.grpc_port,
            "max_workers": settings.grpc_max_workers,
            "max_streams": settings.resolved_grpc_max_streams,
            "max_streams_per_key": settings.grpc_max_streams_per_key,
            "max_message_bytes": settings.grpc_max_message_bytes,
            "drain_seconds": settings.shutdown_drain_seconds,
            "rate_limit_per_second": settings.rate_limit_per_second,
            "rate_limit_burst": settings.rate_limit_burst,
            "auth_cache_seconds": settings.auth_cache_seconds,
            "default_backend": settings.default_backend,
            "download_ttl_seconds": (
                settings.s3_url_expiry_seconds if settings.storage_kind == "s3" else None
            ),
            "embedded_workers": settings.embedded_workers,
            "dispatcher_poll_seconds": settings.dispatcher_poll_seconds,
            "sweep_interval_seconds": settings.sweep_interval_seconds,
        },
    }


def build_application(settings: Settings | None = None) -> Application:
    settings = settings or Settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    application = Application()
    application.config.from_dict(config_from(settings))
    return application
