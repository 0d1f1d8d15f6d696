"""Work stealing: an idle worker takes jobs whose doorbells wait on another's partitions.

Doorbells are keyed by job id, so a batch spreads unevenly over the workers' partitions
and one worker can sit idle while another has a backlog. The database knows which jobs
have waited long: an idle worker claims one directly. Claims are fenced by the lease, so
the doorbell reaching its owner later is turned away like any repeated message.
"""

from __future__ import annotations

from datetime import timedelta

from stories_core.ports import Clock, UnitOfWorkFactory


def stealable(
    uow_factory: UnitOfWorkFactory, clock: Clock, limit: int, *, queued_for_seconds: float
) -> list[tuple[str, str]]:
    """(job id, trace id) of up to `limit` claimable jobs, oldest first: queued for at least
    `queued_for_seconds`, or running under an expired lease. Nothing when stealing is off
    (`queued_for_seconds` 0): then the database is not asked."""
    if queued_for_seconds <= 0 or limit <= 0:
        return []
    now = clock.now()
    with uow_factory() as uow:
        return uow.jobs.claimable(now, limit, now - timedelta(seconds=queued_for_seconds))
