"""The offset a partition may store while its jobs finish out of order: the lowest offset
still in flight, or one past the highest finished; never past an unfinished message."""

from stories_adapters.kafka.consumer import OffsetTracker

JOBS = "stories.jobs.v1"


def started(tracker: OffsetTracker, partition: int, *offsets: int) -> None:
    for offset in offsets:
        tracker.started(JOBS, partition, offset)


def test_jobs_finishing_in_order_move_the_position_one_past_each() -> None:
    tracker = OffsetTracker()
    started(tracker, 0, 5, 6, 7)
    assert tracker.finished(JOBS, 0, 5) == 6
    assert tracker.finished(JOBS, 0, 6) == 7
    assert tracker.finished(JOBS, 0, 7) == 8


def test_a_later_job_finishing_first_stays_behind_the_unfinished_one() -> None:
    tracker = OffsetTracker()
    started(tracker, 0, 10, 11, 12)
    assert tracker.finished(JOBS, 0, 12) == 10, "10 still runs: it is read again after a crash"
    assert tracker.finished(JOBS, 0, 11) == 10
    assert tracker.finished(JOBS, 0, 10) == 13, "then straight past everything finished"


def test_a_message_polled_after_others_finished_holds_the_position_at_itself() -> None:
    tracker = OffsetTracker()
    started(tracker, 0, 0, 1)
    assert tracker.finished(JOBS, 0, 0) == 1
    started(tracker, 0, 2)
    assert tracker.finished(JOBS, 0, 1) == 2, "2 is in flight"
    assert tracker.finished(JOBS, 0, 2) == 3


def test_partitions_are_tracked_independently() -> None:
    tracker = OffsetTracker()
    started(tracker, 0, 0, 1)
    started(tracker, 1, 0, 1)
    tracker.started("stories.other.v1", 0, 40)
    assert tracker.finished(JOBS, 1, 1) == 0
    assert tracker.finished(JOBS, 0, 0) == 1
    assert tracker.finished(JOBS, 1, 0) == 2
    assert tracker.finished("stories.other.v1", 0, 40) == 41
    assert tracker.finished(JOBS, 0, 1) == 2


def test_a_poison_message_finished_at_once_moves_the_position_past_it() -> None:
    tracker = OffsetTracker()
    started(tracker, 0, 0)
    tracker.started(JOBS, 0, 1)  # not a job: finished as soon as it is polled
    assert tracker.finished(JOBS, 0, 1) == 0, "the job before it still runs"
    assert tracker.finished(JOBS, 0, 0) == 2
    tracker.started(JOBS, 0, 2)
    assert tracker.finished(JOBS, 0, 2) == 3


def test_a_job_finishing_after_its_partition_was_revoked_stores_nothing() -> None:
    tracker = OffsetTracker()
    started(tracker, 0, 7, 8)
    started(tracker, 1, 3)
    tracker.forget([(JOBS, 0)])
    assert tracker.finished(JOBS, 0, 7) is None
    assert tracker.finished(JOBS, 0, 8) is None
    assert tracker.finished(JOBS, 1, 3) == 4, "the partition kept is untouched"


def test_a_partition_assigned_again_starts_fresh() -> None:
    tracker = OffsetTracker()
    started(tracker, 0, 20, 21)
    assert tracker.finished(JOBS, 0, 21) == 20
    tracker.forget([(JOBS, 0)])
    started(tracker, 0, 15)  # the committed position was earlier: read again from there
    assert tracker.finished(JOBS, 0, 15) == 16, "nothing remembered from before the revoke"


def test_forgetting_a_partition_never_started_is_harmless() -> None:
    tracker = OffsetTracker()
    tracker.forget([(JOBS, 3)])
    started(tracker, 3, 0)
    assert tracker.finished(JOBS, 3, 0) == 1


def test_finishing_a_message_never_started_stores_nothing() -> None:
    assert OffsetTracker().finished(JOBS, 0, 4) is None
