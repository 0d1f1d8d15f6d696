"""The sweeper: ring the doorbell again for jobs nobody is working on.

A queue message can be lost, and a worker can die holding a lease. The database knows
which jobs are claimable, so re-publishing them is always safe: a claim succeeds once.
"""

from __future__ import annotations

from datetime import timedelta

from stories_core.ports import Clock, JobQueue, UnitOfWorkFactory


def sweep(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    queue: JobQueue,
    *,
    queued_for_seconds: float | None,
    limit: int = 500,
) -> int:
    """Publish claimable jobs (queued ones only once they have waited `queued_for_seconds`,
    or all of them when None); returns how many were published."""
    now = clock.now()
    queued_before = (
        None if queued_for_seconds is None else now - timedelta(seconds=queued_for_seconds)
    )
    with uow_factory() as uow:
        stale = uow.jobs.claimable(now, limit, queued_before)
    for job_id, trace_id in stale:
        queue.publish(job_id, trace_id)
    return len(stale)
