"""The process entry points: `serve`, `worker`, `dispatcher` and `make`, and the admin
commands beside them. The only code above the container: each builds the application
from `Settings` once, runs it, and stops on the one signal handling of every process
(`stories_adapters.signals`). The command line (`cli.py`) parses arguments and prints;
these do the work."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from prometheus_client import REGISTRY
from pythonjsonlogger.json import JsonFormatter

from stories_adapters import metrics
from stories_adapters.containers import Application, Generation, build_application
from stories_adapters.export import StoryFiles, write_story
from stories_adapters.kafka.admin import ensure_topics
from stories_adapters.settings import Settings
from stories_adapters.signals import stop_on_signals
from stories_adapters.sql.engine import reachable
from stories_adapters.tracing import TraceContextFilter, configure_tracing, tracer
from stories_adapters.video import CaptionPainter
from stories_core.errors import BackendMisconfigured, StoriesError
from stories_core.events import JobEvent
from stories_core.model import ApiKey, Job
from stories_core.outages import BROKER
from stories_core.plugins.registry import PluginInfo
from stories_core.services.submit import JobRequest
from stories_core.video import VideoOptions

log = logging.getLogger(__name__)


def configure_logging(settings: Settings, service: str = "stories") -> None:
    """JSON lines on standard error; every line of a job's work carries its trace as
    `trace_id` and `span_id`. Traces are exported when OTLP is configured
    (`stories_adapters.tracing`); `service` names this process in them."""
    configure_tracing(service)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(TraceContextFilter())
    handler.setFormatter(JsonFormatter("{asctime}{levelname}{name}{message}", style="{"))
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler], force=True)
    # urllib3 warns at every retry of a call (the S3 adapter's short retries); an outage
    # is told once each way by the code that waits it out (stories_core.outages).
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)


def _start(settings: Settings, service: str, *, generates: bool = False) -> Application:
    """The application, its plugins loaded now (a broken one fails at start-up); for a
    process that generates, the default backend built now too: BackendMisconfigured
    rather than a server that refuses every job."""
    configure_logging(settings, service)
    application = build_application(settings)
    application.generation.registry()
    if generates:
        default = settings.jobs.default_backend
        try:
            application.generation.catalog().backend(default)
        except StoriesError as error:
            raise BackendMisconfigured(
                f"the default backend {default!r} (STORIES_DEFAULT_BACKEND) cannot start: "
                f"{error.message}"
            ) from None
    return application


def serve(settings: Settings, on_ready: Callable[[int, bool], None]) -> None:
    """Serve the gRPC API until SIGTERM or SIGINT; `on_ready(port, with_worker)` once it
    listens. Embedded (no Kafka), the dispatcher and `embedded_workers` workers run inside
    as threads. On the signal: health turns NOT_SERVING for the drain time, calls in flight
    get the grace time, then the background work stops."""
    stop = stop_on_signals()
    application = _start(settings, "stories-serve", generates=True)
    if settings.messaging_kind != "in_process" and settings.api.page_token_secret is None:
        log.warning(
            "STORIES_PAGE_TOKEN_SECRET is unset: ListJobs page tokens work only with the "
            "API process that issued them; give every API process the same secret"
        )
    runtime = None
    if settings.messaging_kind == "in_process" and settings.api.embedded_workers > 0:
        runtime = application.workers.embedded_runtime()
        runtime.start()
    server = application.api.server()
    engine = application.persistence.engine()
    # Embedded, the dispatcher runs inside: its outbox backlog is reported here too.
    _serve_metrics(
        settings,
        application,
        lambda: {"database": reachable(engine)},
        outbox=runtime is not None,
    )
    try:
        server.start()
        on_ready(server.port, runtime is not None)
        stop.wait()
        server.stop(settings.api.shutdown_grace_seconds)
    finally:
        if runtime is not None:
            runtime.stop(settings.api.shutdown_grace_seconds)


def worker(settings: Settings) -> None:
    """A member of the workers' consumer group, running jobs until SIGTERM or SIGINT. Then
    it stops polling; jobs in flight get `STORIES_WORKER_SHUTDOWN_GRACE_SECONDS` to finish
    and are released (queued again for another worker) if they do not; offsets are
    committed and the consumer leaves the group."""
    stop = stop_on_signals()
    application = _start(settings, "stories-worker", generates=True)
    ensure_topics(application.messaging.kafka_config())
    application.storage.blobs()  # an S3 store makes its bucket now, not mid-job
    consumer = application.workers.job_consumer()
    engine = application.persistence.engine()
    _serve_metrics(
        settings,
        application,
        lambda: {"database": reachable(engine), "broker": consumer.ready},
    )
    log.info("worker started")
    consumer.run(stop)


def dispatcher(settings: Settings) -> None:
    """Relay the outbox to Kafka, deliver webhooks and sweep for stalled jobs until SIGTERM
    or SIGINT; each loop finishes the pass it is in."""
    stop = stop_on_signals()
    application = _start(settings, "stories-dispatcher")
    ensure_topics(application.messaging.kafka_config())
    dispatcher = application.workers.dispatcher()
    engine = application.persistence.engine()
    _serve_metrics(
        settings,
        application,
        lambda: {"database": reachable(engine), "broker": BROKER not in dispatcher.unavailable()},
        outbox=True,
    )
    log.info("dispatcher started")
    dispatcher.run(stop)


def _serve_metrics(
    settings: Settings,
    application: Application,
    ready: Callable[[], Mapping[str, bool]],
    *,
    outbox: bool = False,
) -> None:
    """The process's metrics and probes, when STORIES_METRICS_PORT is set; `outbox`: the
    outbox backlog too (one process per deployment need report it, the dispatcher)."""
    if settings.metrics.port is None:
        return
    application.core.events().subscribe(metrics.count_job_event)
    if outbox:
        uow_factory = application.persistence.reading_unit_of_work_factory()
        clock = application.core.clock()

        def backlog() -> tuple[int, float]:
            with uow_factory() as uow:
                count, oldest = uow.outbox.backlog()
            age = (clock.now() - oldest).total_seconds() if oldest is not None else 0.0
            return count, max(age, 0.0)

        REGISTRY.register(metrics.OutboxCollector(backlog))
    metrics.serve_metrics(settings.metrics.host, settings.metrics.port, ready)


class StoryMaker:
    """`stories make`: one job, submitted, run and written out here and now, in this
    process (the embedded database and blob folder unless settings say otherwise)."""

    def __init__(self, settings: Settings) -> None:
        configure_logging(settings, "stories-make")
        self._application = build_application(settings)

    def check(self, request: JobRequest) -> None:
        """Raise InvalidInput naming the first wrong field; nothing is recorded."""
        self._application.use_cases.submit_job().check(request)

    def make(self, request: JobRequest, on_event: Callable[[JobEvent], None]) -> Job:
        """Submit and run the job, telling `on_event` of its events; the job as it ended."""
        use_cases = self._application.use_cases
        with tracer.start_as_current_span("make story"):  # the trace's root, as CreateJob's
            job = use_cases.submit_job()(request)
        unsubscribe = self._application.core.events().subscribe(
            lambda event: on_event(event) if event.job_id == job.id else None
        )
        try:
            use_cases.process_job()(job.id, job.trace_parent)
        finally:
            unsubscribe()
        relay = use_cases.relay_outbox()
        while relay():  # the job's messages, so none is left pending for a later server
            pass
        return use_cases.queries().get(job.id)

    def write(
        self,
        job: Job,
        out: Path,
        video: VideoOptions | None = None,
        video_progress: Callable[[float], None] | None = None,
    ) -> StoryFiles:
        """The story folder: page, markup, JSON, captions and the assets, and the video
        with `video`'s options (see `export.write_story`)."""
        blobs = self._application.storage.blobs()
        painter = self._application.generation.caption_painter()
        return write_story(
            job,
            lambda asset: blobs.open(asset.key),
            out,
            video and (video, painter),
            video_progress,
        )


def caption_painter() -> CaptionPainter:
    """How burned-in captions are drawn (for a client that renders a fetched story)."""
    return Generation().caption_painter()


def plugins(settings: Settings) -> list[PluginInfo]:
    """The installed plugins, in load order, with what each registers."""
    return _start(settings, "stories").generation.registry().plugins


def create_key(settings: Settings, tenant: str) -> tuple[ApiKey, str]:
    """A new API key of `tenant` and its secret (shown once, stored as a hash only)."""
    configure_logging(settings)
    return build_application(settings).use_cases.issue_key()(tenant)


def revoke_key(settings: Settings, key_or_id: str) -> ApiKey:
    """Revoke a key at once, by its id or the key itself; NotFound if there is none."""
    configure_logging(settings)
    return build_application(settings).use_cases.revoke_key()(key_or_id)
