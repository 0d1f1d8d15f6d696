"""Work stealing: an idle worker runs jobs whose doorbells ring on other members' partitions.

Doorbells are keyed by job id, so a batch spreads unevenly over the members' partitions.
A worker with a free slot and no doorbell waiting asks the database (at most every
`interval_seconds`) for jobs queued for a while and runs them as if rung: the lease keeps
each job single, and the doorbell reaching its owner later is turned away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection

from stories_core.errors import DependencyUnavailable
from stories_core.outages import DATABASE, OutageLog

log = logging.getLogger(__name__)

Steal = Callable[[int], list[tuple[str, str]]]
"""`steal(limit)`: up to `limit` (job id, trace id) of jobs waiting too long for their
doorbells (see `stories_core.services.steal`)."""


class WorkStealing:
    def __init__(
        self,
        steal: Steal | None,
        interval_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`steal` None never steals; `clock` counts seconds (monotonic)."""
        self._steal = steal
        self._interval = interval_seconds
        self._clock = clock
        self._next_look = 0.0
        self._database = OutageLog(DATABASE, log)

    def find(
        self, *, free_slots: int, waiting: int, running: Collection[str]
    ) -> list[tuple[str, str]]:
        """(job id, trace id) of jobs to run now: only with a slot free and no doorbell
        waiting, at most once an interval, and none already `running` here. Nothing when
        the database cannot be asked: the doorbells still ring."""
        if self._steal is None or waiting or free_slots <= 0:
            return []
        now = self._clock()
        if now < self._next_look:
            return []
        self._next_look = now + self._interval
        try:
            found = self._steal(free_slots)
        except DependencyUnavailable as error:
            self._database.failed(f"looking for jobs to steal: {error.message}")
            return []
        except Exception:
            log.exception("looking for jobs to steal failed")
            return []
        self._database.succeeded()
        return [(job_id, trace_id) for job_id, trace_id in found if job_id not in running]
