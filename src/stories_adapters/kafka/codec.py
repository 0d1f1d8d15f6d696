"""What goes on the wire: protobuf values (stories.v1), keys and headers.

Every record carries its trace id and content type as headers, so a consumer, a DLQ
reader or a person with kcat can tell what it is and follow the job across services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.protobuf.message import DecodeError

from stories.v1 import queue_pb2
from stories_adapters.grpc.mapping import event_to_proto, timestamp
from stories_core.events import JobEvent

TRACE_ID_HEADER = "trace-id"
CONTENT_TYPE_HEADER = "content-type"
JOB_MESSAGE_TYPE = "application/x-protobuf; messageType=stories.v1.JobMessage"
JOB_EVENT_TYPE = "application/x-protobuf; messageType=stories.v1.JobEvent"


class UndecodableMessage(ValueError):
    """A record on the jobs topic that is not a usable JobMessage (a poison message)."""


@dataclass(frozen=True)
class Record:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def job_record(job_id: str, trace_id: str, enqueued_at: datetime) -> Record:
    message = queue_pb2.JobMessage(
        job_id=job_id, trace_id=trace_id, enqueue_time=timestamp(enqueued_at)
    )
    return Record(
        job_id.encode(), message.SerializeToString(), _headers(trace_id, JOB_MESSAGE_TYPE)
    )


def event_record(payload: dict[str, Any]) -> Record:
    """An outbox event (JobEvent.to_dict()) as a stories.v1.JobEvent, tenant included."""
    event = JobEvent.from_dict(payload)
    value = event_to_proto(event, with_tenant=True).SerializeToString()
    return Record(event.job_id.encode(), value, _headers(event.trace_id, JOB_EVENT_TYPE))


def decode_job_message(value: bytes | None) -> queue_pb2.JobMessage:
    """The JobMessage in a record's value; UndecodableMessage if there is none."""
    message = queue_pb2.JobMessage()
    try:
        message.ParseFromString(value or b"")
    except DecodeError as error:
        raise UndecodableMessage(f"not a stories.v1.JobMessage: {error}") from error
    if not message.job_id:
        raise UndecodableMessage("stories.v1.JobMessage without a job_id")
    return message


def _headers(trace_id: str, content_type: str) -> list[tuple[str, bytes]]:
    return [(TRACE_ID_HEADER, trace_id.encode()), (CONTENT_TYPE_HEADER, content_type.encode())]
