"""Cancel and retry: a client's say over a job already submitted."""

from __future__ import annotations

from stories_core.errors import IllegalTransition
from stories_core.events import EventKind, JobEvent
from stories_core.model import Job, JobState, SegmentState
from stories_core.ports import Clock, EventSink, UnitOfWorkFactory
from stories_core.services.submit import job_message


class CancelJob:
    """Stop a queued or running job; a worker sees it at its next fenced write and stops."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, events: EventSink) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._events = events

    def __call__(self, job_id: str, tenant: str | None = None) -> Job:
        now = self._clock.now()
        with self._uow_factory() as uow:
            job = uow.jobs.get(job_id, tenant, for_update=True)
            if job.state is JobState.CANCELLED:
                return job
            if job.state.is_terminal:
                raise IllegalTransition(f"job {job.id} has already {job.state.value}")
            read_state = job.state
            job.transition(JobState.CANCELLED, now)
            job.lease_owner = job.lease_expires_at = None
            for segment in job.segments:
                if segment.state in (SegmentState.QUEUED, SegmentState.RUNNING):
                    segment.transition(SegmentState.CANCELLED)
                    uow.jobs.update_segment(segment)
            uow.jobs.update(job, expected_state=read_state)
            cancelled = JobEvent.of(EventKind.JOB_CANCELLED, job, now)
            uow.outbox.add(cancelled.outbox_messages(job.webhook_url))
            uow.commit()
        self._events.emit(cancelled)
        return job


class RetryJob:
    """Queue a failed job again; its finished segments are kept, the rest are redone."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, events: EventSink) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._events = events

    def __call__(self, job_id: str, tenant: str | None = None) -> Job:
        now = self._clock.now()
        with self._uow_factory() as uow:
            job = uow.jobs.get(job_id, tenant, for_update=True)
            if job.state is not JobState.FAILED:
                raise IllegalTransition(
                    f"only a failed job can be retried; job {job.id} is {job.state.value}"
                )
            job.transition(JobState.QUEUED, now)
            job.error_code = job.error_message = None
            job.error_retryable = False
            for segment in job.segments:
                if segment.state in (SegmentState.FAILED, SegmentState.CANCELLED):
                    segment.transition(SegmentState.QUEUED)
                    uow.jobs.update_segment(segment)
            uow.jobs.update(job, expected_state=JobState.FAILED)
            queued = JobEvent.of(EventKind.JOB_QUEUED, job, now)
            uow.outbox.add([job_message(job, now), *queued.outbox_messages()])
            uow.commit()
        self._events.emit(queued)
        return job
