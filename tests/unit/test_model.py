from datetime import UTC, datetime

import pytest

from stories_core.errors import IllegalTransition
from stories_core.model import AudioType, Job, JobState, Segment, SegmentState, blob_key, derived_id

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def make_job() -> Job:
    return Job(
        id="j1",
        tenant="t",
        text="x",
        content_type="plain",
        pictures=1,
        audio_type=AudioType.NONE,
        backend="b",
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize(
    ("path", "final"),
    [
        ([JobState.RUNNING, JobState.SUCCEEDED], JobState.SUCCEEDED),
        ([JobState.RUNNING, JobState.FAILED, JobState.QUEUED], JobState.QUEUED),
        ([JobState.CANCELLED], JobState.CANCELLED),
        ([JobState.RUNNING, JobState.QUEUED, JobState.RUNNING], JobState.RUNNING),
    ],
)
def test_legal_job_paths(path: list[JobState], final: JobState) -> None:
    job = make_job()
    for state in path:
        job.transition(state, NOW)
    assert job.state is final


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([], JobState.SUCCEEDED),
        ([JobState.RUNNING, JobState.SUCCEEDED], JobState.RUNNING),
        ([JobState.CANCELLED], JobState.QUEUED),
        ([JobState.RUNNING, JobState.SUCCEEDED], JobState.FAILED),
    ],
)
def test_illegal_job_transition_is_an_error_and_changes_nothing(
    path: list[JobState], illegal: JobState
) -> None:
    job = make_job()
    for state in path:
        job.transition(state, NOW)
    before = job.state
    with pytest.raises(IllegalTransition, match=illegal.value):
        job.transition(illegal, NOW)
    assert job.state is before


def test_segment_cannot_leave_succeeded() -> None:
    segment = Segment("s", "j", 0, 0, 1, "t", "x")
    segment.transition(SegmentState.RUNNING)
    segment.transition(SegmentState.SUCCEEDED)
    with pytest.raises(IllegalTransition):
        segment.transition(SegmentState.RUNNING)


def test_derived_ids_and_keys_are_stable() -> None:
    assert derived_id("j", 1, "image") == derived_id("j", 1, "image")
    assert derived_id("j", 1, "image") != derived_id("j", 1, "audio")
    assert blob_key("acme", "j1", 3, "image.png") == "tenants/acme/jobs/j1/segments/3/image.png"
