"""Events a job emits as it moves: what watchers, progress bars and webhooks see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from stories_core.model import Job, JobState


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
    segment_index: int | None = None
    segment_count: int | None = None
    error_code: str | None = None
    error_message: str | None = None

    @classmethod
    def of(
        cls, kind: EventKind, job: Job, now: datetime, *, segment_index: int | None = None
    ) -> JobEvent:
        return cls(
            kind=kind,
            job_id=job.id,
            tenant=job.tenant,
            state=job.state,
            progress=job.progress,
            occurred_at=now,
            trace_id=job.trace_id,
            segment_index=segment_index,
            segment_count=len(job.segments) or None,
            error_code=job.error_code,
            error_message=job.error_message,
        )
