"""What the core tells about its work: the spans of a job's trace and the figures of its stages.

Spans use the OpenTelemetry API, which does nothing until a process installs an SDK (the
entry points do; `stories_adapters.tracing`). A job's trace starts where the job is
created (the API's CreateJob span, or the caller's own trace when it sent a W3C
`traceparent`), and its id is the job's `trace_id`. The W3C trace context
(https://www.w3.org/TR/trace-context/) travels with the work: in the job row
(`Job.trace_parent`, for whoever picks the job up later), in the outbox doorbell and the
Kafka message's `traceparent` header, and in the webhook delivery.

Figures (stage durations, backend calls and their retries, leases) go to a `Telemetry`
port, so a process without metrics pays nothing and the core knows no metrics library.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

tracer = trace.get_tracer("stories")

TRACE_ID_LENGTH = 32
"""A W3C trace id: 32 lower-case hex digits, not all zero."""

STAGES = ("segment", "narrate", "speak", "image_prompt", "draw", "store", "render")
"""The stages of a job, in the order a segment meets them; the first five are backend calls."""
BACKEND_STAGES = STAGES[:5]


@dataclass(frozen=True)
class StageTiming:
    """One stage of a job, done once: how long it took (seconds, retries and outage waits
    included), its outcome (`ok` or the error's domain code), how many times the backend
    tried the call again, and the job's backend and content style."""

    stage: str
    seconds: float
    outcome: str
    backend: str
    style: str
    retries: int = 0


W3C = TraceContextTextMapPropagator()
"""What the trace context is stored and carried in between our own processes (the job row,
the doorbell, the Kafka header), whatever propagators `OTEL_PROPAGATORS` picks for the
edges to callers and receivers."""


def current_traceparent() -> str:
    """The W3C `traceparent` of the current span; "" when there is no valid one."""
    carrier: dict[str, str] = {}
    W3C.inject(carrier)
    return carrier.get("traceparent", "")


def traceparent_in(trace_id: str, fallback: str) -> str:
    """The current span's `traceparent` when it is in the trace `trace_id`; else
    `fallback` (the job's own, `Job.trace_parent`): work recorded outside the job's trace
    (a retry asked for by another trace, a release on shutdown) still joins it."""
    current = current_traceparent()
    return current if current and current.split("-")[1] == trace_id else fallback


def current_trace_id() -> str:
    """The current trace's id (32 hex digits); "" when there is no trace."""
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else ""


def job_context(trace_id: str, *traceparents: str) -> Context:
    """The parent context of work on a job whose trace is `trace_id`: the first of
    `traceparents` that belongs to that trace (the message's, then the job's own); else a
    remote parent with the job's trace id, so the work still joins its trace. An empty
    context (a new trace) when `trace_id` is no W3C trace id (a caller's own `x-trace-id`)."""
    for traceparent in traceparents:
        if not traceparent:
            continue
        context = W3C.extract({"traceparent": traceparent})
        span_context = trace.get_current_span(context).get_span_context()
        if span_context.is_valid and trace.format_trace_id(span_context.trace_id) == trace_id:
            return context
    if not _is_trace_id(trace_id):
        return Context()
    remote = SpanContext(
        trace_id=int(trace_id, 16),
        span_id=random.getrandbits(64) or 1,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(NonRecordingSpan(remote))


def _is_trace_id(value: str) -> bool:
    return (
        len(value) == TRACE_ID_LENGTH
        and all(c in "0123456789abcdef" for c in value)
        and value != "0" * TRACE_ID_LENGTH
    )


_job_trace_id: ContextVar[str] = ContextVar("stories_job_trace_id", default="")


@contextlib.contextmanager
def job_trace(trace_id: str) -> Iterator[None]:
    """Work on the job whose trace id is `trace_id` runs inside: its log lines name it
    (`job_trace_id`) even when it is no W3C trace id (a caller's own `x-trace-id`)."""
    token = _job_trace_id.set(trace_id)
    try:
        yield
    finally:
        _job_trace_id.reset(token)


def job_trace_id() -> str:
    """The trace id of the job whose work runs here; "" outside a job's work."""
    return _job_trace_id.get()


@dataclass
class _Retries:
    count: int = 0


_retries: ContextVar[_Retries | None] = ContextVar("stories_retries", default=None)


@contextlib.contextmanager
def counting_retries() -> Iterator[_Retries]:
    """Count the backend retries (`record_retry`) made inside the block, in this context."""
    counter = _Retries()
    token = _retries.set(counter)
    try:
        yield counter
    finally:
        _retries.reset(token)


def record_retry(attempt: int, reason: str, wait_seconds: float) -> None:
    """A backend call is about to be tried again: an event on the current span, and one
    more retry for the stage that made the call."""
    trace.get_current_span().add_event(
        "retry",
        {"attempt": attempt, "reason": reason[:200], "wait_seconds": round(wait_seconds, 3)},
    )
    counter = _retries.get()
    if counter is not None:
        counter.count += 1
