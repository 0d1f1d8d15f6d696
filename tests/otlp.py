"""Where tests read spans: an OTLP/gRPC trace receiver (what a collector is to a process
that exports), and the test process's own SDK with the in-memory span exporter."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@dataclass(frozen=True)
class Span:
    """A finished span, from any process: ids in hex, `parent_id` "" for a root."""

    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]


class OtlpReceiver(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    """Collects the spans processes export to it over OTLP/gRPC (`endpoint`)."""

    def __init__(self) -> None:
        self._spans: list[Span] = []
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"http://127.0.0.1:{port}"
        self._server.start()

    def Export(self, request: Any, context: Any) -> Any:
        with self._lock:
            for resource_spans in request.resource_spans:
                service = next(
                    (
                        a.value.string_value
                        for a in resource_spans.resource.attributes
                        if a.key == SERVICE_NAME
                    ),
                    "",
                )
                for scope_spans in resource_spans.scope_spans:
                    self._spans.extend(_from_proto(service, s) for s in scope_spans.spans)
        return trace_service_pb2.ExportTraceServiceResponse()

    def spans(self) -> list[Span]:
        with self._lock:
            return list(self._spans)

    def wait_for(self, done: Callable[[list[Span]], bool], timeout: float = 30) -> list[Span]:
        """The spans once `done(spans)` holds; AssertionError with what came if it never does."""
        deadline = time.monotonic() + timeout
        while not done(spans := self.spans()):
            if time.monotonic() > deadline:
                names = sorted({(s.service, s.name) for s in spans})
                raise AssertionError(f"spans never complete; received: {names}")
            time.sleep(0.1)
        return spans

    def close(self) -> None:
        self._server.stop(0)


def _from_proto(service: str, span: Any) -> Span:
    attributes = {a.key: _value(a.value) for a in span.attributes}
    return Span(
        service=service,
        name=span.name,
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_id=span.parent_span_id.hex(),
        attributes=attributes,
    )


def _value(value: Any) -> Any:
    return getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None


_EXPORTER = InMemorySpanExporter()
_install = threading.Lock()


def local_spans() -> InMemorySpanExporter:
    """The test process's spans: the SDK with the in-memory exporter, installed once for
    the whole session (OpenTelemetry sets its provider once per process); cleared here."""
    with _install:
        if not isinstance(trace.get_tracer_provider(), TracerProvider):
            provider = TracerProvider(resource=Resource.create({SERVICE_NAME: "tests"}))
            provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
            trace.set_tracer_provider(provider)
    _EXPORTER.clear()
    return _EXPORTER


def from_sdk(span: ReadableSpan) -> Span:
    """An in-memory exported span in the same shape as a received one."""
    context, parent = span.context, span.parent
    return Span(
        service=str(span.resource.attributes.get(SERVICE_NAME, "")),
        name=span.name,
        trace_id=trace.format_trace_id(context.trace_id),
        span_id=trace.format_span_id(context.span_id),
        parent_id=trace.format_span_id(parent.span_id) if parent is not None else "",
        attributes=dict(span.attributes or {}),
    )


class OtlpSink:
    """An OTLP/gRPC endpoint that takes every export and reads none (benchmarks: in
    production the collector runs elsewhere, so its decoding is no cost of ours)."""

    def __init__(self) -> None:
        self.exports = 0
        handler = grpc.method_handlers_generic_handler(
            "opentelemetry.proto.collector.trace.v1.TraceService",
            {"Export": grpc.unary_unary_rpc_method_handler(self._take)},
        )
        self._server = grpc.server(futures.ThreadPoolExecutor(2))
        self._server.add_generic_rpc_handlers((handler,))
        port = self._server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"http://127.0.0.1:{port}"
        self._server.start()

    def _take(self, request: bytes, context: Any) -> bytes:
        self.exports += 1
        return b""  # an empty ExportTraceServiceResponse

    def close(self) -> None:
        self._server.stop(0)
