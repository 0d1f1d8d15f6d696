"""The one composition root: the only module that knows the core, adapters and plugins.

Sub-containers per concern, each fed its own config section. Embedded and production
adapters are chosen by configuration (Selectors), never by ifs elsewhere.
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any

from dependency_injector import containers, providers

from stories_adapters.runtime import EventBus, InProcessQueue, SystemClock
from stories_adapters.settings import Settings
from stories_adapters.sql.engine import open_database
from stories_adapters.sql.repository import SqlUnitOfWork
from stories_adapters.storage.local import LocalBlobStore
from stories_core.plugins import PluginCatalog, build_registry, make_plugin_manager
from stories_core.services.process import ProcessingSettings, ProcessJob
from stories_core.services.query import JobQueries
from stories_core.services.submit import Limits, SubmitJob


class Core(containers.DeclarativeContainer):
    clock = providers.Singleton(SystemClock)
    events = providers.Singleton(EventBus)


class Persistence(containers.DeclarativeContainer):
    config = providers.Configuration()
    engine = providers.Singleton(open_database, config.url, auto_migrate=config.auto_migrate)
    unit_of_work = providers.Factory(SqlUnitOfWork, engine)
    unit_of_work_factory = unit_of_work.provider


class Storage(containers.DeclarativeContainer):
    config = providers.Configuration()
    blobs = providers.Selector(
        config.kind,
        local=providers.Singleton(LocalBlobStore, config.local_dir),
    )


class Messaging(containers.DeclarativeContainer):
    config = providers.Configuration()
    queue = providers.Selector(config.kind, in_process=providers.Singleton(InProcessQueue))


class Generation(containers.DeclarativeContainer):
    """Plugins are loaded when the registry is first asked for, never at import time."""

    environ = providers.Object(os.environ)
    plugin_manager = providers.Singleton(make_plugin_manager)
    registry = providers.Singleton(build_registry, plugin_manager)
    catalog = providers.Singleton(PluginCatalog, registry, environ)


class UseCases(containers.DeclarativeContainer):
    config = providers.Configuration()
    core = providers.DependenciesContainer()
    persistence = providers.DependenciesContainer()
    storage = providers.DependenciesContainer()
    messaging = providers.DependenciesContainer()
    generation = providers.DependenciesContainer()

    limits = providers.Factory(
        Limits, max_input_chars=config.max_input_chars, max_pictures=config.max_pictures
    )
    processing_settings = providers.Factory(
        ProcessingSettings,
        max_concurrent_segments=config.max_concurrent_segments,
        lease_seconds=config.lease_seconds,
    )
    submit_job = providers.Factory(
        SubmitJob,
        uow_factory=persistence.unit_of_work_factory,
        catalog=generation.catalog,
        clock=core.clock,
        events=core.events,
        limits=limits,
    )
    queries = providers.Factory(JobQueries, uow_factory=persistence.unit_of_work_factory)
    process_job = providers.Factory(
        ProcessJob,
        uow_factory=persistence.unit_of_work_factory,
        blobs=storage.blobs,
        catalog=generation.catalog,
        clock=core.clock,
        events=core.events,
        settings=processing_settings,
        owner=config.worker_id,
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


def config_from(settings: Settings) -> dict[str, Any]:
    """Map flat STORIES_* settings onto the container's config sections."""
    return {
        "persistence": {
            "url": settings.resolved_database_url,
            "auto_migrate": settings.database_url is None,
        },
        "storage": {"kind": "local", "local_dir": settings.resolved_blob_dir},
        "messaging": {"kind": "in_process"},
        "use_cases": {
            "max_input_chars": settings.max_input_chars,
            "max_pictures": settings.max_pictures,
            "max_concurrent_segments": settings.max_concurrent_segments,
            "lease_seconds": settings.lease_seconds,
            "worker_id": f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}",
        },
    }


def build_application(settings: Settings | None = None) -> Application:
    settings = settings or Settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    application = Application()
    application.config.from_dict(config_from(settings))
    return application
