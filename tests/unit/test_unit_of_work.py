"""The unit of work collects what the jobs it saw recorded: written on commit, in the same
transaction as the change, and told to the event sink only after it; forgotten on rollback."""

from datetime import UTC, datetime, timedelta

import pytest

from stories_core.errors import ConcurrentChange
from stories_core.events import EventKind
from stories_core.model import AudioType, Job, JobState, Segment, SegmentState, Topic
from tests.fakes import InMemoryDatabase, RecordingEvents

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def submitted(database: InMemoryDatabase) -> Job:
    job = Job.create(
        now=NOW, id="j1", tenant="t", text="One. Two.", content_type="plain", pictures=2,
        audio_type=AudioType.NONE, backend="b", trace_id="t1",
    )  # fmt: skip
    with database() as uow:
        uow.jobs.add(job)
        uow.commit()
    return job


def test_commit_writes_the_events_to_the_outbox_then_tells_the_sink() -> None:
    events = RecordingEvents()
    database = InMemoryDatabase(events)
    submitted(database)
    assert [m.topic for m in database.tables.outbox] == [Topic.JOBS, Topic.EVENTS]
    assert [e.kind for e in events.events] == [EventKind.JOB_QUEUED]


def test_nothing_is_told_or_written_of_a_change_rolled_back() -> None:
    events = RecordingEvents()
    database = InMemoryDatabase(events)
    submitted(database)
    with database() as uow:
        job = uow.jobs.get("j1")
        job.claim("w1", NOW, NOW + timedelta(seconds=30))
        job.plan([Segment(f"s{i}", "j1", i, i, i + 1, "", "x") for i in range(2)], NOW)
        uow.jobs.add_segments(job, job.segments)
        job.start_segment(job.segments[0])
        job.fail("X", "x", NOW)
        uow.jobs.update(job)
        uow.rollback()
    assert job.events == [] and job.take_changed_segments() == []
    assert [e.kind for e in events.events] == [EventKind.JOB_QUEUED]
    assert database.jobs["j1"].state is JobState.QUEUED
    assert len(database.tables.outbox) == 2


def test_a_failed_write_leaves_the_job_without_changes_to_write_later() -> None:
    """A segment marked done in a transaction that then failed is not written by the
    job's next write (its assets were rolled back with it)."""
    database = InMemoryDatabase()
    submitted(database)
    with database() as uow:
        job = uow.jobs.claim("j1", "w1", NOW, NOW + timedelta(seconds=30))
        assert job is not None
        job.plan([Segment(f"s{i}", "j1", i, i, i + 1, "", "x") for i in range(2)], NOW)
        uow.jobs.add_segments(job, job.segments)
        uow.commit()
    with pytest.raises(ConcurrentChange), database() as uow:
        job.start_segment(job.segments[0])
        job.finish_segment(job.segments[0], [], NOW)
        uow.jobs.update(job, expected_state=JobState.QUEUED)  # refused: it is running
    with database() as uow:
        job.fail("X", "x", NOW)
        uow.jobs.update(job)
        uow.commit()
    stored = database.jobs["j1"]
    assert [s.state for s in stored.segments] == [SegmentState.QUEUED, SegmentState.QUEUED]
