import threading

import pytest

from stories_adapters.event_feed import OutboxEventFeed
from stories_core.errors import IllegalTransition, NotFound
from stories_core.events import EventKind
from stories_core.model import JobState, SegmentState, Topic
from stories_core.services.control import CancelJob, RetryJob
from stories_core.services.query import JobQueries
from stories_core.services.watch import WatchJob
from tests.fakes import ScriptedBackend
from tests.unit.conftest import World

TEXT = "\n\n".join(f"Paragraph {i} says something." for i in range(4))


def feed(world: World) -> OutboxEventFeed:
    return OutboxEventFeed(world.database, poll_seconds=0.01)


def test_cancel_a_queued_job_and_cancelling_again_is_harmless(world: World) -> None:
    job = world.submit(world.request(TEXT, pictures=4, tenant="acme"))
    cancel = CancelJob(world.database, world.clock)
    assert cancel(job.id, "acme").state is JobState.CANCELLED
    assert cancel(job.id, "acme").state is JobState.CANCELLED
    assert world.processor()(job.id) is None, "a cancelled job is never claimed"


def test_cancel_is_tenant_scoped(world: World) -> None:
    job = world.submit(world.request(TEXT, pictures=4, tenant="acme"))
    with pytest.raises(NotFound):
        CancelJob(world.database, world.clock)(job.id, "globex")
    assert JobQueries(world.database).get(job.id).state is JobState.QUEUED


def test_a_finished_job_cannot_be_cancelled(world: World) -> None:
    job = world.submit(world.request(TEXT, pictures=4))
    world.processor()(job.id)
    with pytest.raises(IllegalTransition, match="succeeded"):
        CancelJob(world.database, world.clock)(job.id)


def test_cancelling_a_running_job_stops_its_worker() -> None:
    world = World(ScriptedBackend(delay=0.05), concurrency=1)
    job = world.submit(world.request(TEXT, pictures=4))
    cancel = CancelJob(world.database, world.clock)

    def cancel_after_first_segment(event) -> None:
        if event.kind is EventKind.SEGMENT_DONE and event.segment_index == 0:
            threading.Thread(target=cancel, args=(job.id,)).start()

    world.events.emit = lambda event: (  # type: ignore[method-assign]
        world.events.events.append(event),
        cancel_after_first_segment(event),
    )
    world.processor()(job.id)
    final = JobQueries(world.database).get(job.id)
    assert final.state is JobState.CANCELLED
    assert final.segments[0].state is SegmentState.SUCCEEDED
    assert world.backend.calls["draw"] < 4


def test_retry_only_failed_jobs_and_keep_finished_segments() -> None:
    world = World(ScriptedBackend(fail_on_index=3))
    job = world.submit(world.request(TEXT, pictures=4))
    retry = RetryJob(world.database, world.clock)
    with pytest.raises(IllegalTransition, match="only a failed job"):
        retry(job.id)
    world.processor()(job.id)
    retried = retry(job.id)
    assert retried.state is JobState.QUEUED and retried.error_code is None
    assert [s.state for s in retried.segments].count(SegmentState.SUCCEEDED) == 3
    doorbells = [m.payload for m in world.outbox(Topic.JOBS)]
    assert doorbells == [{"job_id": job.id, "trace_id": job.trace_id}] * 2


def test_watch_starts_with_the_latest_event_and_tells_each_as_it_happened(world: World) -> None:
    job = world.submit(world.request(TEXT, pictures=4))
    watch = WatchJob(world.database, world.clock, feed(world), poll_seconds=0.01)
    events = watch(job.id)
    first = next(events)[1]
    assert first.kind is EventKind.JOB_QUEUED
    world.clock.advance(1)
    world.processor()(job.id)
    rest = [event for _, event in events]
    assert [e.kind for e in rest] == [
        EventKind.JOB_STARTED,
        EventKind.SEGMENTS_PLANNED,
        *[EventKind.SEGMENT_DONE] * 4,
        EventKind.JOB_SUCCEEDED,
    ]
    started, *_, last_done, succeeded = rest
    assert (started.state, started.progress) == (JobState.RUNNING, 0.0), "before planning"
    assert [e.progress for e in rest if e.kind is EventKind.SEGMENT_DONE] == [0.25, 0.5, 0.75, 1]
    assert last_done.state is JobState.RUNNING, "the job succeeded only after"
    assert (succeeded.state, succeeded.progress) == (JobState.SUCCEEDED, 1.0)
    assert first.occurred_at < started.occurred_at, "each event has its own time"
    reopened = [event for _, event in watch(job.id)]
    assert [e.kind for e in reopened] == [EventKind.JOB_SUCCEEDED]


def test_a_resumed_watch_loses_nothing_and_repeats_nothing(world: World) -> None:
    job = world.submit(world.request(TEXT, pictures=4))
    world.processor()(job.id)
    watch = WatchJob(world.database, world.clock, feed(world), poll_seconds=0.01)
    everything = list(watch(job.id, after=0))
    assert everything[0][1].kind is EventKind.JOB_QUEUED
    positions = [position for position, _ in everything]
    assert positions == sorted(set(positions))
    for cut in range(len(everything)):
        resumed = list(watch(job.id, after=everything[cut][0]))
        assert resumed == everything[cut + 1 :]


def test_watching_another_tenants_job_is_not_found(world: World) -> None:
    job = world.submit(world.request(TEXT, pictures=4, tenant="acme"))
    with pytest.raises(NotFound):
        next(WatchJob(world.database, world.clock, feed(world))(job.id, "globex"))
