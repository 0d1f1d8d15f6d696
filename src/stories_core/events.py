"""Events a job emits as it moves: what watchers, progress bars and webhooks see.

The job's operations (`stories_core.model.Job`) record them; the unit of work writes them
to the outbox in the transaction that made them true, and hands them to the in-process
event sink once it has committed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from stories_core.states import JobState


class EventKind(StrEnum):
    JOB_QUEUED = "job.queued"
    JOB_STARTED = "job.started"
    SEGMENTS_PLANNED = "job.segments_planned"
    SEGMENT_DONE = "segment.done"
    JOB_SUCCEEDED = "job.succeeded"
    JOB_FAILED = "job.failed"
    JOB_CANCELLED = "job.cancelled"


TERMINAL_EVENT = {
    JobState.SUCCEEDED: EventKind.JOB_SUCCEEDED,
    JobState.FAILED: EventKind.JOB_FAILED,
    JobState.CANCELLED: EventKind.JOB_CANCELLED,
}


@dataclass(frozen=True)
class JobEvent:
    kind: EventKind
    job_id: str
    tenant: str
    state: JobState
    progress: float
    occurred_at: datetime
    trace_id: str = ""
    content_type: str = ""
    """The job's content style, and its backend below: for counting jobs by them in the
    process that recorded the event. Not serialized (`to_dict`): not part of the events
    clients and webhook receivers get."""
    backend: str = ""
    segment_index: int | None = None
    segment_count: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    error_retryable: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "job_id": self.job_id,
            "tenant": self.tenant,
            "state": self.state.value,
            "progress": self.progress,
            "occurred_at": self.occurred_at.isoformat(),
            "trace_id": self.trace_id,
            "segment_index": self.segment_index,
            "segment_count": self.segment_count,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "error_retryable": self.error_retryable,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobEvent:
        return cls(
            kind=EventKind(data["kind"]),
            job_id=data["job_id"],
            tenant=data["tenant"],
            state=JobState(data["state"]),
            progress=float(data["progress"]),
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            trace_id=data.get("trace_id", ""),
            segment_index=data.get("segment_index"),
            segment_count=data.get("segment_count"),
            error_code=data.get("error_code"),
            error_message=data.get("error_message"),
            error_retryable=bool(data.get("error_retryable", False)),
        )
