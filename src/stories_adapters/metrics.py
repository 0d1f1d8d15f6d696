"""Prometheus metrics and the HTTP probes of every process (prometheus-client).

Each process serves, on `STORIES_METRICS_PORT` (off when unset): `/metrics` in the
Prometheus text format, `/healthz` (200 while the process runs) and `/readyz` (200 when
every dependency it needs answers, else 503 naming those that do not). Names follow the
Prometheus conventions: a `stories_` prefix, `_total` for counters, `_seconds` for
durations; gRPC's follow go-grpc-prometheus (`grpc_server_handled_total`,
`grpc_server_handling_seconds`), which dashboards already know.

The metrics are module-level, as prometheus-client intends: one registry per process.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import grpc
from prometheus_client import Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

from stories_core.events import EventKind, JobEvent
from stories_core.telemetry import BACKEND_STAGES, StageTiming

log = logging.getLogger(__name__)

JOBS_CREATED = Counter(
    "stories_jobs_created_total",
    "Jobs created (a repeated request_id that finds its job is not counted), by content "
    "style and backend.",
    ["style", "backend"],
)
JOBS_QUEUED = Counter(
    "stories_jobs_queued_total",
    "Times a job was queued, in the process that recorded it: created, retried or "
    "released; by content style and backend.",
    ["style", "backend"],
)
JOBS_FINISHED = Counter(
    "stories_jobs_finished_total",
    "Jobs that reached a terminal state, by that state, content style and backend.",
    ["state", "style", "backend"],
)
JOBS_RUNNING = Gauge("stories_jobs_running", "Jobs this process runs now.")
LEASE_RENEWALS = Counter(
    "stories_lease_renewals_total",
    "Lease renewals of running jobs, by outcome: renewed, or lost (another worker took "
    "the job after the lease expired; the run stops).",
    ["outcome"],
)
SEGMENTS_DONE = Counter("stories_segments_done_total", "Segments generated and recorded.")
STAGE_SECONDS = Histogram(
    "stories_stage_seconds",
    "Duration of a job's stage, by stage (segment, narrate, speak, image_prompt, draw: "
    "backend calls, their retries included; store: the blob write, outage waits included; "
    "render: the story document) and outcome (ok or the error's domain code).",
    ["stage", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
BACKEND_CALLS = Counter(
    "stories_backend_calls_total",
    "Generator backend calls, by backend, kind (the stage) and outcome (ok or the "
    "error's domain code); each call counts once, however many tries it took.",
    ["backend", "kind", "outcome"],
)
BACKEND_RETRIES = Counter(
    "stories_backend_retries_total",
    "Tries of a backend call after a transient failure (rate limits, timeouts, 5xx), by "
    "backend and kind.",
    ["backend", "kind"],
)
GRPC_HANDLED = Counter(
    "grpc_server_handled_total",
    "gRPC calls completed by the server, by method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_HANDLING_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time from a unary call's arrival to its answer, by method.",
    ["grpc_service", "grpc_method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
API_ERRORS = Counter(
    "stories_api_errors_total",
    "Errors the API answered, by domain reason (the ErrorInfo reason: UNAUTHENTICATED, "
    "RATE_LIMITED, QUOTA_EXCEEDED, INVALID_FIELD, DATABASE_UNAVAILABLE...).",
    ["reason"],
)
WEBHOOK_POSTS = Counter(
    "stories_webhook_posts_total",
    "Webhook POSTs by outcome: the receiver's status class (2xx, 3xx, 4xx, 5xx), "
    "'refused' (an address webhooks may not call) or 'error' (no answer).",
    ["outcome"],
)
CONSUMER_LAG = Gauge(
    "stories_kafka_consumer_lag_messages",
    "Doorbells not yet consumed on each assigned partition, as this worker sees it "
    "(librdkafka's statistics: high watermark minus committed offset).",
    ["topic", "partition"],
)


def count_job_event(event: JobEvent) -> None:
    """An EventBus subscriber: jobs queued and finished, segments done."""
    if event.kind is EventKind.JOB_QUEUED:
        JOBS_QUEUED.labels(event.content_type, event.backend).inc()
    elif event.kind is EventKind.SEGMENT_DONE:
        SEGMENTS_DONE.inc()
    elif event.state.is_terminal:
        JOBS_FINISHED.labels(event.state.value, event.content_type, event.backend).inc()


class PrometheusTelemetry:
    """The core's Telemetry port on this process's metrics."""

    def job_created(self, style: str, backend: str) -> None:
        JOBS_CREATED.labels(style, backend).inc()

    def stage_finished(self, timing: StageTiming) -> None:
        STAGE_SECONDS.labels(timing.stage, timing.outcome).observe(timing.seconds)
        if timing.stage in BACKEND_STAGES:
            BACKEND_CALLS.labels(timing.backend, timing.stage, timing.outcome).inc()
            if timing.retries:
                BACKEND_RETRIES.labels(timing.backend, timing.stage).inc(timing.retries)

    def lease(self, outcome: str) -> None:
        LEASE_RENEWALS.labels(outcome).inc()

    def running(self, change: int) -> None:
        JOBS_RUNNING.inc(change)


class GrpcMetrics(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Counts every call by method and status code, and times unary calls."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        if handler is None or handler.request_streaming:
            return handler
        service, method = _split(details.method)
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                started = time.perf_counter()
                try:
                    return await inner(request, context)
                finally:
                    GRPC_HANDLED.labels(service, method, status_code(context).name).inc()
                    GRPC_HANDLING_SECONDS.labels(service, method).observe(
                        time.perf_counter() - started
                    )

            return grpc.unary_unary_rpc_method_handler(
                unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        inner_stream = handler.unary_stream

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                async for response in inner_stream(request, context):
                    yield response
            finally:
                GRPC_HANDLED.labels(service, method, status_code(context).name).inc()

        return grpc.unary_stream_rpc_method_handler(
            stream,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def status_code(context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    """The call's status code so far (OK when none was set): grpc.aio reports a StatusCode,
    or after an abort its number."""
    code = context.code()
    if code is None or isinstance(code, grpc.StatusCode):
        return code or grpc.StatusCode.OK
    return next((c for c in grpc.StatusCode if c.value[0] == code), grpc.StatusCode.UNKNOWN)


def _split(full_method: str) -> tuple[str, str]:
    """'/stories.v1.StoryService/GetJob' -> ('stories.v1.StoryService', 'GetJob')."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service, method


class OutboxCollector(Collector):
    """The outbox's backlog, read when Prometheus scrapes (the dispatcher's process):
    `backlog()` gives (unsent messages, age of the oldest in seconds, 0 when none)."""

    def __init__(self, backlog: Callable[[], tuple[int, float]]) -> None:
        self._backlog = backlog

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            count, age = self._backlog()
        except Exception as error:  # the database is down: no figure rather than a wrong one
            log.debug("outbox backlog unreadable: %s", error)
            return
        yield GaugeMetricFamily(
            "stories_outbox_backlog_messages", "Outbox messages not yet relayed.", value=count
        )
        yield GaugeMetricFamily(
            "stories_outbox_oldest_age_seconds",
            "Age of the oldest outbox message not yet relayed (0 when none).",
            value=age,
        )


def record_consumer_stats(stats_json: str) -> None:
    """librdkafka's `stats_cb`: the consumer lag of every assigned partition."""
    stats = json.loads(stats_json)
    for topic, about in stats.get("topics", {}).items():
        for partition, figures in about.get("partitions", {}).items():
            lag = figures.get("consumer_lag", -1)
            if partition != "-1" and lag >= 0:
                CONSUMER_LAG.labels(topic, partition).set(lag)


def serve_metrics(host: str, port: int, ready: Callable[[], Mapping[str, bool]]) -> _MetricsServer:
    """Start the metrics and probe server in a daemon thread; `ready()` names each
    dependency and whether it answers now. Returns the server (its `port` is bound)."""
    metrics = make_wsgi_app(REGISTRY)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if path == "/readyz":
            checks = ready()
            down = sorted(name for name, up in checks.items() if not up)
            status = "503 Service Unavailable" if down else "200 OK"
            start_response(status, [("Content-Type", "application/json")])
            return [json.dumps({"ready": not down, "unavailable": down}).encode() + b"\n"]
        return metrics(environ, start_response)  # type: ignore[no-any-return]

    server = make_server(host, port, app, _MetricsServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics and probes on http://%s:%d", host, server.server_port)
    return server


class _MetricsServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes and probes every few seconds are not news."""
