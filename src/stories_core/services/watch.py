"""Watch a job: its events from now until it ends, derived from the database.

The database is the source of truth, so a watch can be opened at any time, from any API
process, and always starts with a snapshot of where the job is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from stories_core.events import TERMINAL_EVENT, EventKind, JobEvent
from stories_core.model import Job, JobState, SegmentState
from stories_core.ports import ChangeNotifier, Clock, UnitOfWorkFactory

_SNAPSHOT_KIND = {
    JobState.QUEUED: EventKind.JOB_QUEUED,
    JobState.RUNNING: EventKind.JOB_STARTED,
    **TERMINAL_EVENT,
}


class WatchJob:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        notifier: ChangeNotifier,
        poll_seconds: float = 0.5,
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._notifier = notifier
        self._poll_seconds = poll_seconds

    def __call__(
        self,
        job_id: str,
        tenant: str | None = None,
        *,
        still_wanted: Callable[[], bool] = lambda: True,
    ) -> Iterator[JobEvent]:
        """Raises NotFound before the first event; ends after the terminal event, or as
        soon as `still_wanted()` turns false (the watcher went away)."""
        job = self._load(job_id, tenant)
        return self._follow(job, tenant, still_wanted)

    def _follow(
        self, job: Job, tenant: str | None, still_wanted: Callable[[], bool]
    ) -> Iterator[JobEvent]:
        yield job.event(_SNAPSHOT_KIND[job.state], self._clock.now())
        done = {s.index for s in job.segments if s.state is SegmentState.SUCCEEDED}
        planned = bool(job.segments)
        state, attempt = job.state, job.attempt
        while not state.is_terminal:
            self._notifier.wait(job.id, self._poll_seconds)
            if not still_wanted():
                return
            job = self._load(job.id, tenant)
            now = self._clock.now()
            if job.attempt > attempt:  # claimed by a worker since we last looked
                yield job.event(EventKind.JOB_STARTED, now)
            if job.state is JobState.QUEUED and state is not JobState.QUEUED:
                yield job.event(EventKind.JOB_QUEUED, now)
            if job.segments and not planned:
                planned = True
                yield job.event(EventKind.SEGMENTS_PLANNED, now)
            for segment in job.segments:
                if segment.state is SegmentState.SUCCEEDED and segment.index not in done:
                    done.add(segment.index)
                    yield job.event(EventKind.SEGMENT_DONE, now, segment_index=segment.index)
            state, attempt = job.state, job.attempt
            if state.is_terminal:
                yield job.event(TERMINAL_EVENT[state], now)

    def _load(self, job_id: str, tenant: str | None) -> Job:
        with self._uow_factory() as uow:
            return uow.jobs.get(job_id, tenant)
