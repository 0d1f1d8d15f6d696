"""The sweeper: ring the doorbell again for jobs nobody is working on.

A queue message can be lost, and a worker can die holding a lease. The database knows
which jobs are claimable, so re-publishing them is always safe: a claim succeeds once.
"""

from __future__ import annotations

from datetime import timedelta

from stories_core.ports import Clock, JobQueue, UnitOfWorkFactory


class Sweep:
    """Publish claimable jobs: queued ones only once they have waited `queued_for_seconds`
    (all of them when None), again at most once per that time, and running ones whose
    lease expired."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        queue: JobQueue,
        *,
        queued_for_seconds: float | None,
        limit: int = 500,
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._queue = queue
        self._queued_for = queued_for_seconds
        self._limit = limit

    def __call__(self) -> int:
        """How many doorbells were published."""
        now = self._clock.now()
        queued_before = (
            None if self._queued_for is None else now - timedelta(seconds=self._queued_for)
        )
        with self._uow_factory() as uow:
            stale = uow.jobs.claimable(now, self._limit, queued_before)
        for job_id, trace_id in stale:
            self._queue.publish(job_id, trace_id)
        if stale and queued_before is not None:
            # A queued job is rung again once per `queued_for_seconds`, not at every sweep:
            # behind a backlog its doorbell waits its turn, and more would only pile up.
            with self._uow_factory() as uow:
                uow.jobs.mark_rung([job_id for job_id, _ in stale], now)
                uow.commit()
        return len(stale)
