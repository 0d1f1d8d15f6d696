"""An outage of the database or the object store is a pause for a running job, not a
failure: its step is tried again with backoff, and the outage is logged once each way."""

import logging
from collections import Counter
from datetime import timedelta

import pytest

from stories_core.errors import DatabaseUnavailable, StorageUnavailable
from stories_core.events import EventKind
from stories_core.model import JobState, SegmentState, Topic
from stories_core.outages import OutageLog
from stories_core.services.process import ProcessingSettings, ProcessJob
from stories_core.services.query import JobQueries
from tests.fakes import InMemoryBlobStore, InMemoryDatabase, InMemoryUnitOfWork
from tests.unit.conftest import World

TEXT = "\n\n".join(f"Paragraph {i} says something." for i in range(4))
QUICK = {"outage_backoff_seconds": 0.001, "outage_max_backoff_seconds": 0.005}


class FlakyBlobStore(InMemoryBlobStore):
    """The object store is down for its first `down_for` puts."""

    def __init__(self, down_for: int) -> None:
        super().__init__()
        self.down_for = down_for
        self.refused = 0

    def put(self, key: str, data: bytes, content_type: str) -> None:
        if self.refused < self.down_for:
            self.refused += 1
            raise StorageUnavailable("the object store refused the connection")
        super().put(key, data, content_type)


DROPPED = DatabaseUnavailable("the database dropped the connection")


class FlakyDatabase:
    """The database commits `healthy` transactions, then refuses the next `down_for`."""

    def __init__(
        self,
        database: InMemoryDatabase,
        healthy: int,
        down_for: int,
        error: Exception = DROPPED,
    ) -> None:
        self.database = database
        self.healthy, self.down_for, self.error = healthy, down_for, error
        self.commits = self.refused = 0

    def __call__(self) -> InMemoryUnitOfWork:
        uow = self.database()
        commit = uow._commit

        def flaky_commit() -> None:
            self.commits += 1
            if self.commits > self.healthy and self.refused < self.down_for:
                self.refused += 1
                raise self.error
            commit()

        uow._commit = flaky_commit  # type: ignore[method-assign]
        return uow


def processor(world: World, database=None, blobs=None, **settings: float) -> ProcessJob:
    return ProcessJob(
        database or world.database,
        blobs or world.blobs,
        world.catalog,
        world.clock,
        ProcessingSettings(**{**QUICK, **settings}),
        "worker-1",
    )


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "stories_core.outages"]


def test_an_object_store_outage_pauses_the_job_which_then_finishes_once(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    blobs = FlakyBlobStore(down_for=12)
    job = world.submit(world.request(TEXT, pictures=4))
    done = processor(world, blobs=blobs)(job.id)
    assert done is not None and done.state is JobState.SUCCEEDED and done.attempt == 1
    assert blobs.refused == 12 and blobs.puts == 8, "each asset stored once, when it could be"
    stored = JobQueries(world.database).get(job.id)
    assert all(s.state is SegmentState.SUCCEEDED and len(s.assets) == 2 for s in stored.segments)
    lines = outage_lines(caplog)
    assert len(lines) == 2, lines
    assert lines[0].startswith("object store unreachable: storing the ")
    assert lines[1].startswith("object store back after ") and "(12 failed calls)" in lines[1]


@pytest.mark.parametrize("healthy", [1, 2, 4, 6])
def test_a_database_outage_at_any_write_pauses_the_job_and_records_everything_once(
    world: World, caplog: pytest.LogCaptureFixture, healthy: int
) -> None:
    """The claim, the plan, each finished segment and the end: whichever write the outage
    hits is tried again, and what it records is recorded once (the memento undoes the
    failed try in memory)."""
    caplog.set_level(logging.INFO)
    job = world.submit(world.request(TEXT, pictures=4))
    flaky = FlakyDatabase(world.database, healthy=healthy, down_for=5)
    done = processor(world, database=flaky)(job.id)
    assert flaky.refused == 5
    assert done is not None and done.state is JobState.SUCCEEDED and done.attempt == 1
    stored = JobQueries(world.database).get(job.id)
    assert stored.state is JobState.SUCCEEDED
    assert [s.state for s in stored.segments] == [SegmentState.SUCCEEDED] * 4
    kinds = Counter(m.payload["kind"] for m in world.outbox(Topic.EVENTS))
    assert kinds == {
        "job.queued": 1, "job.started": 1, "job.segments_planned": 1,
        "segment.done": 4, "job.succeeded": 1,
    }  # fmt: skip
    emitted = Counter(e.kind for e in world.events.events)
    assert emitted[EventKind.SEGMENT_DONE] == 4, "events of rolled-back tries are not heard"
    lines = outage_lines(caplog)
    assert [line.split(":")[0].split(" after")[0] for line in lines] == [
        "database unreachable",
        "database back",
    ], lines


def test_an_object_store_outage_longer_than_the_patience_fails_the_job_retryably(
    world: World,
) -> None:
    blobs = FlakyBlobStore(down_for=10**9)
    job = world.submit(world.request(TEXT, pictures=2))
    failed = processor(world, blobs=blobs, outage_patience_seconds=0.05)(job.id)
    assert failed is not None and failed.state is JobState.FAILED
    assert (failed.error_code, failed.error_retryable) == ("STORAGE_UNAVAILABLE", True)
    assert failed.error_message == "the object store refused the connection"


def test_a_database_outage_longer_than_the_patience_leaves_the_job_to_its_lease(
    world: World,
) -> None:
    """Its failure cannot be recorded either: the run gives up, the job stays RUNNING under
    a lease that expires, and the sweeper rings it again."""
    job = world.submit(world.request(TEXT, pictures=2))
    flaky = FlakyDatabase(world.database, healthy=2, down_for=10**9)
    with pytest.raises(DatabaseUnavailable):
        processor(world, database=flaky, outage_patience_seconds=0.05)(job.id)
    left = JobQueries(world.database).get(job.id)
    assert left.state is JobState.RUNNING and left.lease_owner is not None


def test_the_outage_log_tells_once_each_way_and_counts_between(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    outage = OutageLog("database", monotonic=lambda: now[0])
    outage.succeeded()
    for _ in range(40):
        outage.failed("relaying the outbox: the database refused the connection")
    assert outage.down
    now[0] += 31.25
    outage.succeeded()
    outage.succeeded()
    assert not outage.down
    assert [r.getMessage() for r in caplog.records] == [
        "database unreachable: relaying the outbox: the database refused the connection",
        "database back after 31.2 s (40 failed calls)",
    ]


def test_a_write_that_fails_for_another_reason_is_undone_and_the_job_fails_on_record(
    world: World,
) -> None:
    """The final write breaks (a bug, say) after `succeed` ran in memory: undone, so the
    failure is recorded under the job's lease instead of being refused as not ours."""
    job = world.submit(world.request(TEXT, pictures=4))
    broken = FlakyDatabase(world.database, healthy=6, down_for=1, error=KeyError("a bug"))
    failed = processor(world, database=broken)(job.id)
    assert failed is not None and failed.state is JobState.FAILED
    stored = JobQueries(world.database).get(job.id)
    assert (stored.state, stored.error_code, stored.error_retryable) == (
        JobState.FAILED,
        "INTERNAL",
        False,
    )
    assert stored.error_message == "the worker failed unexpectedly (KeyError); see its log"


def test_an_outage_ends_in_the_log_even_when_the_job_was_taken_meanwhile(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The database comes back, but the lease expired during the outage and another
    worker took the job: the refusal is the database answering, so the outage is told
    as over."""
    caplog.set_level(logging.INFO)
    job = world.submit(world.request(TEXT, pictures=2))
    flaky = FlakyDatabase(world.database, healthy=2, down_for=2)
    real_commit_count = flaky.commits

    class Thief:
        """After the outage, another worker holds the job."""

        def __call__(self) -> InMemoryUnitOfWork:
            if flaky.refused == flaky.down_for and flaky.commits > real_commit_count:
                world.clock.advance(60)  # the lease ran out during the outage
                now = world.clock.now()
                with world.database() as uow:
                    uow.jobs.claim(job.id, "worker-2/other", now, now + timedelta(seconds=15))
                    uow.commit()
                flaky.down_for = -1  # steal once
            return flaky()

    assert processor(world, database=Thief())(job.id) is None, "not ours any more"
    lines = outage_lines(caplog)
    assert [line.split(":")[0].split(" after")[0] for line in lines] == [
        "database unreachable",
        "database back",
    ], lines
