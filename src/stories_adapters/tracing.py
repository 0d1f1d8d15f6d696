"""Traces (OpenTelemetry SDK): exported over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT`
(or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, not made at all otherwise.

The exporter, its batching and the sampler read the standard `OTEL_*` variables
(https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/):
`OTEL_SERVICE_NAME` overrides the process's own name (`stories-serve`, `stories-worker`,
`stories-dispatcher`, `stories-make`), `OTEL_TRACES_SAMPLER` picks the sampler.

Without an exporter the core's spans cost next to nothing (the API's no-op tracer) and a
job's trace id still reaches every log line of its work: `TraceContextFilter` reads it
from the current span context, which the core sets from the job's trace even then.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, StatusCode

from stories_adapters.metrics import status_code
from stories_core.telemetry import job_context, job_trace_id

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

tracer = trace.get_tracer("stories.api")


def configure_tracing(service: str) -> bool:
    """Install the SDK with an OTLP exporter when an endpoint is set; whether it did.
    Once per process (later calls change nothing). Spans still queued are sent at exit."""
    if not any(os.environ.get(name) for name in ENDPOINT_VARIABLES):
        return False
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return True
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return True


class TraceContextFilter(logging.Filter):
    """Adds `trace_id` to every record made during a job's work (the job's, even when it is
    a caller's own id and no W3C one) or inside a span, and the span's `span_id`; a record
    that already has a `trace_id` keeps its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "trace_id"):
            return True
        context = trace.get_current_span().get_span_context()
        trace_id = job_trace_id()
        if context.is_valid:
            record.trace_id = trace_id or trace.format_trace_id(context.trace_id)
            record.span_id = trace.format_span_id(context.span_id)
        elif trace_id:
            record.trace_id = trace_id
        return True


TRACED_METHODS = frozenset({"CreateJob", "CancelJob", "RetryJob"})
"""The calls that start or change a job, and so belong in its trace. Reads (GetJob,
ListJobs, WatchJob, assets) get no span: clients poll them many times a second, a span
each would cost the API several percent of its rate and tell nothing the metrics don't."""


class GrpcTracing(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """A server span for each call of TRACED_METHODS, named by its full method, whose
    parent is the caller's W3C `traceparent` metadata; or, without one, a trace of the
    caller's `x-trace-id` when it is a W3C trace id (32 hex digits), so the job it creates
    keeps that id."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        name = details.method.lstrip("/")
        service, _, method = name.rpartition("/")
        if handler is None or handler.unary_unary is None or method not in TRACED_METHODS:
            return handler
        parent = _parent(details.invocation_metadata or ())
        attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}
        inner = handler.unary_unary

        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            with tracer.start_as_current_span(
                name, context=parent, kind=SpanKind.SERVER, attributes=attributes
            ) as span:
                try:
                    return await inner(request, context)
                finally:
                    _set_code(span, context)

        return grpc.unary_unary_rpc_method_handler(
            unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _parent(metadata: Any) -> Context | None:
    values = {key: value for key, value in metadata if isinstance(value, str)}
    if "traceparent" in values:
        return propagate.extract(values)
    trace_id = values.get("x-trace-id", "")
    context = job_context(trace_id)
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def _set_code(span: trace.Span, context: grpc.aio.ServicerContext) -> None:
    code = status_code(context)
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    if code is not grpc.StatusCode.OK:
        span.set_status(StatusCode.ERROR, code.name)
