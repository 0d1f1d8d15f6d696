"""The event feed: one reader of recorded events for every watcher of a process, which
never skips an event that commits after one with a higher position."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from stories_adapters.event_feed import OutboxEventFeed
from stories_core.events import EventKind, JobEvent
from stories_core.model import JobState

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def event(job_id: str, kind: EventKind = EventKind.SEGMENT_DONE) -> JobEvent:
    return JobEvent(kind, job_id, "t", JobState.RUNNING, 0.5, NOW)


class Outbox:
    """Rows as committed: position -> event (None for a doorbell)."""

    def __init__(self) -> None:
        self.rows: dict[int, JobEvent | None] = {}
        self.late_checks: list[int] = []  # positions looked for again

    def latest_position(self) -> int:
        return max(self.rows, default=0)

    def recorded_after(self, position: int, limit: int) -> list[tuple[int, JobEvent | None]]:
        if limit == 1:
            self.late_checks.append(position + 1)
        return sorted((p, e) for p, e in self.rows.items() if p > position)[:limit]


class Unit:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def __enter__(self) -> Unit:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


def drain(subscription, timeout: float = 0.5) -> list[int]:
    got = []
    while (item := subscription.next(timeout)) is not None:
        got.append(item[0])
        timeout = 0.2
    return got


def test_an_event_that_commits_after_a_higher_position_still_reaches_its_watchers() -> None:
    outbox = Outbox()
    outbox.rows[1] = event("a")
    feed = OutboxEventFeed(lambda: Unit(outbox), poll_seconds=0.01, gap_seconds=30)
    with feed.subscribe("a") as a, feed.subscribe("b") as b, contextlib.ExitStack():
        assert a.next(0.2) is None  # what was there before is the database's to tell
        outbox.rows[3] = event("a")  # position 2 is taken by a transaction not committed yet
        outbox.rows[4] = None  # a doorbell
        assert drain(a) == [3]
        outbox.rows[2] = event("b")  # ... which commits now
        outbox.rows[5] = event("b")
        assert drain(b) == [2, 5]
        assert drain(a) == []


def test_a_position_that_never_commits_is_given_up_after_a_while() -> None:
    outbox = Outbox()
    feed = OutboxEventFeed(lambda: Unit(outbox), poll_seconds=0.01, gap_seconds=0.05)
    with feed.subscribe("a") as a:
        a.next(0.1)
        outbox.rows[2] = event("a")  # 1 rolled back
        assert drain(a) == [2]
        assert 1 in outbox.late_checks, "looked for again while it might still commit"
        checks = len(outbox.late_checks)
        a.next(0.2)
        assert len(outbox.late_checks) == checks, "given up: no more looking"
