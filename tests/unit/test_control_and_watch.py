import threading

import pytest

from stories_core.errors import IllegalTransition, NotFound
from stories_core.events import EventKind
from stories_core.model import JobState, SegmentState, Topic
from stories_core.services.control import CancelJob, RetryJob
from stories_core.services.query import JobQueries
from stories_core.services.watch import WatchJob
from tests.fakes import ScriptedBackend
from tests.unit.conftest import World

TEXT = "\n\n".join(f"Paragraph {i} says something." for i in range(4))


class NoWait:
    def wait(self, job_id: str, timeout: float) -> None:
        return None


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


def test_watch_starts_with_a_snapshot_and_ends_at_a_terminal_state(world: World) -> None:
    job = world.submit(world.request(TEXT, pictures=4))
    watch = WatchJob(world.database, world.clock, NoWait())
    events = watch(job.id)
    first = next(events)
    assert first.kind is EventKind.JOB_QUEUED
    world.processor()(job.id)
    rest = list(events)
    assert [e.kind for e in rest] == [
        EventKind.JOB_STARTED,
        EventKind.SEGMENTS_PLANNED,
        *[EventKind.SEGMENT_DONE] * 4,
        EventKind.JOB_SUCCEEDED,
    ]
    assert [e.segment_index for e in rest if e.kind is EventKind.SEGMENT_DONE] == [0, 1, 2, 3]
    assert rest[-1].progress == 1.0
    reopened = list(watch(job.id))
    assert [e.kind for e in reopened] == [EventKind.JOB_SUCCEEDED]


def test_watching_another_tenants_job_is_not_found(world: World) -> None:
    job = world.submit(world.request(TEXT, pictures=4, tenant="acme"))
    with pytest.raises(NotFound):
        WatchJob(world.database, world.clock, NoWait())(job.id, "globex")
