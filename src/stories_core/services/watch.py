"""Watch a job: its events as they were recorded, from where the watcher is to its end.

Every event a job records is kept (the outbox), with a position that rises in the order the
job recorded its events. A watch therefore tells the truth: each event carries the job as
it was when the event happened (its state, progress and time), not as it is found later.
A new watch starts with the job's latest event (where the job is now); a watch resumed
after position P replays the job's events after P from the database, then goes on live.
Live events come from the process's one `EventFeed`, not from a poll per watcher. Every
event reaches a stream once, in order; the stream ends after the job's terminal event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from stories_core.events import TERMINAL_EVENT, EventKind, JobEvent
from stories_core.model import JobState
from stories_core.ports import Clock, EventFeed, UnitOfWorkFactory

_SNAPSHOT_KIND = {
    JobState.QUEUED: EventKind.JOB_QUEUED,
    JobState.RUNNING: EventKind.JOB_STARTED,
    **TERMINAL_EVENT,
}
MAX_REPLAY = 10_000
"""Events replayed on resume at most (a job records a few per segment and attempt)."""


class Watch:
    """One stream's view of a job: the events read from the database (`recorded`), then
    each live one it `accept`s; `done` once the terminal event is out."""

    def __init__(self, recorded: list[tuple[int, JobEvent]], position: int, done: bool) -> None:
        ends = [i for i, (_, event) in enumerate(recorded) if event.state.is_terminal]
        # A stream ends at a terminal event (one a retry came after, too: the retry's
        # events are for a stream resumed after it).
        self.recorded = recorded[: ends[0] + 1] if ends else recorded
        self.done = done or bool(ends)
        self.position = self.recorded[-1][0] if self.recorded else position

    def accept(self, item: tuple[int, JobEvent]) -> bool:
        """Whether a live event is the stream's next (not read from the database already);
        the stream is done after the terminal one."""
        position, event = item
        if self.done or position <= self.position:
            return False
        self.position = position
        self.done = event.state.is_terminal
        return True


class WatchJob:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        feed: EventFeed,
        poll_seconds: float = 0.5,
    ) -> None:
        """`poll_seconds`: how often a quiet stream checks that its watcher is still there."""
        self._uow_factory = uow_factory
        self._clock = clock
        self._feed = feed
        self._poll_seconds = poll_seconds

    def open(self, job_id: str, tenant: str | None = None, after: int | None = None) -> Watch:
        """The stream's start, read from the database: the job's latest event, or with
        `after` every event recorded after that position. Subscribe to the job's live
        events before, so that none falls between. NotFound (another tenant's job too)."""
        with self._uow_factory() as uow:
            job = uow.jobs.get(job_id, tenant)
            if after is None:
                latest = uow.outbox.latest_event(job_id)
                recorded = [latest] if latest is not None else []
            else:
                recorded = uow.outbox.events_after(after, MAX_REPLAY, job_id)
        if after is None and not recorded:  # a job recorded before events were kept
            recorded = [(0, job.event(_SNAPSHOT_KIND[job.state], self._clock.now()))]
        # Resumed after its end: nothing more will come.
        finished = after is not None and job.state.is_terminal and not recorded
        return Watch(recorded, after or 0, finished)

    def __call__(
        self,
        job_id: str,
        tenant: str | None = None,
        *,
        after: int | None = None,
        still_wanted: Callable[[], bool] = lambda: True,
    ) -> Iterator[tuple[int, JobEvent]]:
        """(position, event) pairs: those `open` reads, then each new one, until the
        terminal event or until `still_wanted()` turns false (the watcher went away)."""
        with self._feed.subscribe(job_id) as live:
            watch = self.open(job_id, tenant, after)
            yield from watch.recorded
            while not watch.done:
                item = live.next(self._poll_seconds)
                if item is None:
                    if not still_wanted():
                        return
                elif watch.accept(item):
                    yield item
