"""Cancel and retry: a client's say over a job already submitted."""

from __future__ import annotations

from stories_core.model import Job, JobState
from stories_core.ports import Clock, UnitOfWorkFactory


class CancelJob:
    """Stop a queued or running job; a worker sees it at its next fenced write and stops."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock

    def __call__(self, job_id: str, tenant: str | None = None) -> Job:
        """The job as cancelled; NotFound, or IllegalTransition for a job that ended."""
        with self._uow_factory() as uow:
            job = uow.jobs.get(job_id, tenant, for_update=True)
            if job.state is JobState.CANCELLED:
                return job
            read_state = job.state
            job.cancel(self._clock.now())
            uow.jobs.update(job, expected_state=read_state)
            uow.commit()
        return job


class RetryJob:
    """Queue a failed job again; its finished segments are kept, the rest are redone."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock

    def __call__(self, job_id: str, tenant: str | None = None) -> Job:
        """The job as queued again; NotFound, or IllegalTransition unless it failed."""
        with self._uow_factory() as uow:
            job = uow.jobs.get(job_id, tenant, for_update=True)
            job.retry(self._clock.now())
            uow.jobs.update(job, expected_state=JobState.FAILED)
            uow.commit()
        return job
