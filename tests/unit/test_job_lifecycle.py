"""The operations of a job's life: each checks its transition, changes the job, its
segments and its lease as one, and records the event it causes."""

from datetime import UTC, datetime, timedelta

import pytest

from stories_core.errors import IllegalTransition
from stories_core.events import EventKind
from stories_core.model import (
    Asset,
    AssetKind,
    AudioType,
    Job,
    JobState,
    Segment,
    SegmentState,
    Topic,
    outbox_messages,
    webhook_delivery,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(seconds=60)
UNTIL = NOW + timedelta(seconds=300)


def new_job(**fields: object) -> Job:
    values: dict[str, object] = {
        "id": "j1",
        "tenant": "acme",
        "text": "One. Two. Three.",
        "content_type": "plain",
        "pictures": 3,
        "audio_type": AudioType.NONE,
        "backend": "b",
        "trace_id": "t1",
        **fields,
    }
    return Job.create(now=NOW, **values)


def segments_of(job: Job, count: int = 3) -> list[Segment]:
    return [Segment(f"s{i}", job.id, i, i, i + 1, f"T{i}", "x") for i in range(count)]


def running_job(count: int = 3) -> Job:
    job = new_job()
    job.claim("w1", NOW, UNTIL)
    job.plan(segments_of(job, count), NOW)
    job.take_events()
    return job


def one_done_one_running() -> tuple[Job, Segment, Segment]:
    """A running job of three segments: the first done, the second being generated, the
    third queued; its bookkeeping so far taken."""
    job = running_job()
    done, running, _ = job.segments
    job.start_segment(done)
    job.finish_segment(done, [image(done)], NOW)
    job.start_segment(running)
    job.take_changed_segments()
    job.take_events()
    return job, done, running


def image(segment: Segment) -> Asset:
    return Asset(
        id=Asset.id_for(segment.id, AssetKind.IMAGE),
        job_id=segment.job_id,
        segment_id=segment.id,
        kind=AssetKind.IMAGE,
        key=f"k/{segment.index}",
        content_type="image/png",
        size=1,
        checksum="sha256:0",
    )


def kinds(job: Job) -> list[EventKind]:
    return [event.kind for event in job.take_events()]


def test_a_new_job_is_queued_and_records_job_queued() -> None:
    job = new_job()
    assert (job.state, job.created_at, job.updated_at) == (JobState.QUEUED, NOW, NOW)
    [event] = job.take_events()
    assert (event.kind, event.job_id, event.tenant, event.trace_id, event.occurred_at) == (
        EventKind.JOB_QUEUED,
        "j1",
        "acme",
        "t1",
        NOW,
    )
    assert job.take_events() == [], "taken events are forgotten"


def test_claim_takes_the_lease_counts_the_attempt_and_records_job_started() -> None:
    job = new_job()
    job.take_events()
    job.claim("w1", LATER, UNTIL)
    assert (job.state, job.lease_owner, job.lease_expires_at) == (JobState.RUNNING, "w1", UNTIL)
    assert (job.attempt, job.updated_at) == (1, LATER)
    assert kinds(job) == [EventKind.JOB_STARTED]


def test_a_held_lease_cannot_be_claimed_until_it_expires() -> None:
    job = new_job()
    job.claim("w1", NOW, UNTIL)
    assert not job.claimable_at(LATER)
    with pytest.raises(IllegalTransition, match="not claimable"):
        job.claim("w2", LATER, UNTIL + timedelta(seconds=60))
    assert (job.lease_owner, job.attempt) == ("w1", 1), "a refused claim changes nothing"
    after_expiry = UNTIL + timedelta(seconds=1)
    assert job.claimable_at(after_expiry)
    job.claim("w2", after_expiry, after_expiry + timedelta(seconds=300))
    assert (job.state, job.lease_owner, job.attempt) == (JobState.RUNNING, "w2", 2)


@pytest.mark.parametrize("state", [JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED])
def test_an_ended_job_is_never_claimable(state: JobState) -> None:
    job = new_job()
    job.state = state
    assert not job.claimable_at(LATER)


def test_plan_sets_the_segments_once_and_records_segments_planned() -> None:
    job = new_job()
    job.claim("w1", NOW, UNTIL)
    job.take_events()
    job.plan(segments_of(job), LATER)
    [event] = job.take_events()
    assert (event.kind, event.segment_count, event.progress) == (
        EventKind.SEGMENTS_PLANNED,
        3,
        0.0,
    )
    with pytest.raises(IllegalTransition, match="already split"):
        job.plan(segments_of(job), LATER)


def test_a_queued_job_cannot_be_planned() -> None:
    job = new_job()
    with pytest.raises(IllegalTransition, match="only a running job"):
        job.plan(segments_of(job), NOW)
    assert job.segments == []


def test_finish_segment_records_segment_done_with_progress_and_marks_it_for_writing() -> None:
    job = running_job()
    segment = job.segments[1]
    job.start_segment(segment)
    assert job.take_changed_segments() == [], "a running segment is not written"
    job.finish_segment(segment, [image(segment)], LATER)
    assert segment.state is SegmentState.SUCCEEDED and segment.assets == [image(segment)]
    [event] = job.take_events()
    assert (event.kind, event.segment_index, event.progress) == (
        EventKind.SEGMENT_DONE,
        1,
        pytest.approx(1 / 3),
    )
    assert job.take_changed_segments() == [segment]
    assert job.take_changed_segments() == [], "taken once"


def test_a_segment_not_started_cannot_be_finished() -> None:
    job = running_job()
    with pytest.raises(IllegalTransition, match="segment 0"):
        job.finish_segment(job.segments[0], [], LATER)


def test_succeed_needs_every_segment_done_then_clears_the_lease() -> None:
    job = running_job(2)
    first, second = job.segments
    job.start_segment(first)
    job.finish_segment(first, [image(first)], NOW)
    with pytest.raises(IllegalTransition, match=r"unfinished segments \[1\]"):
        job.succeed("markup", LATER)
    assert job.state is JobState.RUNNING and job.markup is None
    job.start_segment(second)
    job.finish_segment(second, [image(second)], NOW)
    job.take_events()
    job.succeed("markup", LATER)
    assert (job.state, job.markup, job.lease_owner, job.lease_expires_at) == (
        JobState.SUCCEEDED,
        "markup",
        None,
        None,
    )
    [event] = job.take_events()
    assert (event.kind, event.progress, event.occurred_at) == (EventKind.JOB_SUCCEEDED, 1.0, LATER)


def test_fail_fails_the_running_segments_keeps_the_finished_and_records_the_error() -> None:
    job, _, running = one_done_one_running()
    job.fail("GENERATION_FAILED", "the model is down", LATER, retryable=True)
    assert [s.state for s in job.segments] == [
        SegmentState.SUCCEEDED,
        SegmentState.FAILED,
        SegmentState.QUEUED,
    ]
    assert job.take_changed_segments() == [running]
    assert (job.state, job.lease_owner, job.error_code, job.error_retryable) == (
        JobState.FAILED,
        None,
        "GENERATION_FAILED",
        True,
    )
    [event] = job.take_events()
    assert (event.kind, event.error_code, event.error_message, event.error_retryable) == (
        EventKind.JOB_FAILED,
        "GENERATION_FAILED",
        "the model is down",
        True,
    )


def test_cancel_cancels_the_unfinished_segments_and_is_idempotent() -> None:
    job, _, _ = one_done_one_running()
    job.cancel(LATER)
    assert [s.state for s in job.segments] == [
        SegmentState.SUCCEEDED,
        SegmentState.CANCELLED,
        SegmentState.CANCELLED,
    ]
    assert [s.index for s in job.take_changed_segments()] == [1, 2]
    assert (job.state, job.lease_owner, job.lease_expires_at) == (JobState.CANCELLED, None, None)
    assert kinds(job) == [EventKind.JOB_CANCELLED]
    job.cancel(LATER + timedelta(seconds=1))
    assert kinds(job) == [] and job.updated_at == LATER, "cancelling again changes nothing"


@pytest.mark.parametrize("ended", ["succeed", "fail"])
def test_an_ended_job_cannot_be_cancelled(ended: str) -> None:
    job = running_job(0)
    if ended == "succeed":
        job.succeed("m", NOW)
    else:
        job.fail("X", "x", NOW)
    job.take_events()
    with pytest.raises(IllegalTransition, match=f"has already {job.state.value}"):
        job.cancel(LATER)
    assert job.take_events() == [] and job.take_changed_segments() == []


def test_release_requeues_the_running_segments_and_keeps_the_finished() -> None:
    job, _, running = one_done_one_running()
    job.release(LATER)
    assert [s.state for s in job.segments] == [
        SegmentState.SUCCEEDED,
        SegmentState.QUEUED,
        SegmentState.QUEUED,
    ]
    assert job.take_changed_segments() == [running]
    assert (job.state, job.lease_owner, job.lease_expires_at) == (JobState.QUEUED, None, None)
    assert job.attempt == 1, "the attempt is counted when the next claim happens"
    assert kinds(job) == [EventKind.JOB_QUEUED]


def test_only_a_running_job_can_be_released() -> None:
    job = new_job()
    with pytest.raises(IllegalTransition, match="only a running job can be released"):
        job.release(LATER)


def test_retry_queues_a_failed_job_again_clearing_its_error() -> None:
    job, _, running = one_done_one_running()
    job.fail("GENERATION_FAILED", "down", NOW, retryable=True)
    job.take_changed_segments()
    job.take_events()
    job.retry(LATER)
    assert [s.state for s in job.segments] == [
        SegmentState.SUCCEEDED,
        SegmentState.QUEUED,
        SegmentState.QUEUED,
    ]
    assert job.take_changed_segments() == [running]
    assert (job.state, job.error_code, job.error_message, job.error_retryable) == (
        JobState.QUEUED,
        None,
        None,
        False,
    )
    [event] = job.take_events()
    assert (event.kind, event.state, event.error_code) == (
        EventKind.JOB_QUEUED,
        JobState.QUEUED,
        None,
    )


@pytest.mark.parametrize("state", [JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED])
def test_only_a_failed_job_can_be_retried(state: JobState) -> None:
    job = new_job()
    job.state = state
    job.take_events()
    with pytest.raises(
        IllegalTransition, match=f"only a failed job can be retried; job j1 is {state.value}"
    ):
        job.retry(LATER)
    assert job.state is state and job.take_events() == []


def test_a_queued_event_becomes_a_doorbell_and_an_event() -> None:
    job = new_job(webhook_url="https://example.com/hook")
    [queued] = job.take_events()
    doorbell, event = outbox_messages(queued)
    assert (doorbell.topic, doorbell.key, doorbell.payload) == (
        Topic.JOBS,
        "j1",
        {"job_id": "j1", "trace_id": "t1"},
    )
    assert (event.topic, event.payload["kind"]) == (Topic.EVENTS, "job.queued")


def test_a_terminal_event_of_a_job_with_a_webhook_becomes_a_webhook_delivery() -> None:
    job = running_job(0)
    job.cancel(LATER)
    [cancelled] = job.take_events()
    assert webhook_delivery(cancelled, None) is None
    [event] = outbox_messages(cancelled)
    delivery = webhook_delivery(cancelled, "https://example.com/hook")
    assert delivery is not None
    assert (delivery.url, delivery.event, delivery.next_attempt_at) == (
        "https://example.com/hook",
        event.payload,
        LATER,
    )
    assert delivery == webhook_delivery(cancelled, "https://example.com/hook"), "same id"
    [queued] = new_job().take_events()
    assert webhook_delivery(queued, "https://example.com/hook") is None, "not terminal"


def test_a_failed_write_is_undone_in_memory_by_the_memento() -> None:
    """A fenced write that failed is tried again: the job and its segments (the same
    objects the running code holds) go back to how they were before the try."""
    job = running_job(2)
    segment = job.segments[0]
    job.start_segment(segment)
    undo = job.memento()
    job.finish_segment(segment, [], LATER)
    job.extend_lease(UNTIL + timedelta(seconds=60))
    assert segment.state is SegmentState.SUCCEEDED and job.events
    undo()
    assert job.segments[0] is segment and segment.state is SegmentState.RUNNING
    assert job.events == [] and job.take_changed_segments() == []
    assert job.lease_expires_at == UNTIL
    job.finish_segment(segment, [], LATER)  # applied afresh
    assert [e.kind for e in job.take_events()] == [EventKind.SEGMENT_DONE]


def test_extend_lease_moves_only_a_running_jobs_expiry() -> None:
    job = running_job()
    job.extend_lease(UNTIL + timedelta(seconds=100))
    assert (job.lease_owner, job.lease_expires_at) == ("w1", UNTIL + timedelta(seconds=100))
    job.cancel(LATER)
    with pytest.raises(IllegalTransition, match="only a running job can be leased"):
        job.extend_lease(UNTIL)
    assert job.lease_expires_at is None
