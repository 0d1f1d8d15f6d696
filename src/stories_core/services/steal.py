"""Work stealing: an idle worker takes jobs whose doorbells wait on another's partitions.

Doorbells are keyed by job id, so a batch spreads unevenly over the workers' partitions
and one worker can sit idle while another has a backlog. The database knows which jobs
have waited long: an idle worker claims one directly. Claims are fenced by the lease, so
the doorbell reaching its owner later is turned away like any repeated message.
"""

from __future__ import annotations

from datetime import timedelta

from stories_core.ports import Clock, UnitOfWorkFactory


class FindStealable:
    """Jobs an idle worker may take: queued for at least `queued_for_seconds` (and not rung
    again by the sweeper in that time), or running under an expired lease. Stealing is off
    when `queued_for_seconds` is 0."""

    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, *, queued_for_seconds: float
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._queued_for = queued_for_seconds

    def __call__(self, limit: int) -> list[tuple[str, str]]:
        """(job id, trace id) of up to `limit` such jobs, oldest first. Nothing when
        stealing is off or `limit` is 0: then the database is not asked."""
        if self._queued_for <= 0 or limit <= 0:
            return []
        now = self._clock.now()
        with self._uow_factory() as uow:
            return uow.jobs.claimable(now, limit, now - timedelta(seconds=self._queued_for))
