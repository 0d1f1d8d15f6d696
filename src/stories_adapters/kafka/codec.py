"""What goes on the wire: protobuf values (stories.v1), keys and headers.

Every record carries its trace id and content type as headers, so a consumer, a DLQ
reader or a person with kcat can tell what it is and follow the job across services; a
doorbell also carries the W3C `traceparent` of the span that published it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.protobuf.message import DecodeError

from stories.v1 import queue_pb2
from stories_adapters.grpc.mapping import event_to_proto, timestamp
from stories_core.errors import shown
from stories_core.events import JobEvent

TRACE_ID_HEADER = "trace-id"
TRACEPARENT_HEADER = "traceparent"
CONTENT_TYPE_HEADER = "content-type"
JOB_MESSAGE_TYPE = "application/x-protobuf; messageType=stories.v1.JobMessage"
JOB_EVENT_TYPE = "application/x-protobuf; messageType=stories.v1.JobEvent"

JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""A job id as `stories_core.model.new_id` makes it: a UUID, lower-case, with hyphens."""
TRACE_ID = re.compile(r"[A-Za-z0-9_-]{0,64}")
"""Empty, the 32 hex digits SubmitJob mints, or a caller's own (gRPC `x-trace-id`: 1-64
letters, digits, '-' or '_')."""


class UndecodableMessage(ValueError):
    """A record on the jobs topic that is not a usable JobMessage (a poison message)."""


@dataclass(frozen=True)
class Record:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def job_record(job_id: str, trace_id: str, enqueued_at: datetime, traceparent: str = "") -> Record:
    message = queue_pb2.JobMessage(
        job_id=job_id, trace_id=trace_id, enqueue_time=timestamp(enqueued_at)
    )
    headers = _headers(trace_id, JOB_MESSAGE_TYPE)
    if traceparent:
        headers.append((TRACEPARENT_HEADER, traceparent.encode()))
    return Record(job_id.encode(), message.SerializeToString(), headers)


def header(message: Any, name: str) -> str:
    """A record's header as text ("" when absent or not ASCII); `message` is a polled
    confluent_kafka Message."""
    for key, value in message.headers() or ():
        if key == name and value is not None:
            try:
                return bytes(value).decode("ascii")
            except UnicodeDecodeError:
                return ""
    return ""


def event_record(payload: dict[str, Any]) -> Record:
    """An outbox event (JobEvent.to_dict()) as a stories.v1.JobEvent, tenant included."""
    event = JobEvent.from_dict(payload)
    value = event_to_proto(event, with_tenant=True).SerializeToString()
    return Record(event.job_id.encode(), value, _headers(event.trace_id, JOB_EVENT_TYPE))


def decode_job_message(value: bytes | None) -> queue_pb2.JobMessage:
    """The JobMessage in a record's value; UndecodableMessage if there is none, or if its
    job id or trace id could not be one of ours (so a bad id never reaches a query, and the
    error, which the DLQ headers carry, shows only a short escaped prefix of it)."""
    message = queue_pb2.JobMessage()
    try:
        message.ParseFromString(value or b"")
    except DecodeError as error:
        raise UndecodableMessage(f"not a stories.v1.JobMessage: {error}") from error
    if not message.job_id:
        raise UndecodableMessage("stories.v1.JobMessage without a job_id")
    if not JOB_ID.fullmatch(message.job_id):
        raise UndecodableMessage(
            f"stories.v1.JobMessage whose job_id is not a job id: {shown(message.job_id)}"
        )
    if not TRACE_ID.fullmatch(message.trace_id):
        raise UndecodableMessage(
            f"stories.v1.JobMessage whose trace_id is not a trace id: {shown(message.trace_id)}"
        )
    return message


def _headers(trace_id: str, content_type: str) -> list[tuple[str, bytes]]:
    return [(TRACE_ID_HEADER, trace_id.encode()), (CONTENT_TYPE_HEADER, content_type.encode())]
