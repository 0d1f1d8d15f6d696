"""The JobRepository and UnitOfWork contract, for every adapter."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from stories_core.errors import AlreadyExists, ConcurrentChange, LeaseLost, NotFound
from stories_core.model import (
    ApiKey,
    Asset,
    AssetKind,
    AudioType,
    Job,
    JobState,
    OutboxMessage,
    Segment,
    SegmentState,
    Topic,
    derived_id,
)
from stories_core.ports import JobCursor

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def job(n: int = 0, tenant: str = "acme", **fields: object) -> Job:
    values: dict[str, object] = {
        "id": f"00000000-0000-0000-0000-{n:012d}",
        "tenant": tenant,
        "text": "One. Two.",
        "content_type": "educational",
        "pictures": 2,
        "audio_type": AudioType.PODCAST,
        "backend": "local",
        "created_at": T0 + timedelta(seconds=n),
        "updated_at": T0 + timedelta(seconds=n),
        "trace_id": "trace",
        **fields,
    }
    return Job(**values)  # type: ignore[arg-type]


def segments_of(j: Job) -> list[Segment]:
    return [
        Segment(derived_id(j.id, i), j.id, i, i * 5, i * 5 + 4, f"T{i}", "One.") for i in range(2)
    ]


def asset(segment: Segment, kind: AssetKind, size: int = 10) -> Asset:
    return Asset(
        id=Asset.id_for(segment.id, kind),
        job_id=segment.job_id,
        segment_id=segment.id,
        kind=kind,
        key=f"k/{segment.index}/{kind.value}",
        content_type="image/png",
        size=size,
        checksum="sha256:00",
        metadata={"width": 4, "nested": {"a": [1, 2]}},
    )


def test_a_job_round_trips(uow_factory) -> None:
    original = job(request_id="r1", webhook_url="https://example.test/hook")
    with uow_factory() as uow:
        uow.jobs.add(original)
        uow.jobs.add_segments(original, segments_of(original))
        uow.commit()
    with uow_factory() as uow:
        loaded = uow.jobs.get(original.id)
    assert loaded.audio_type is AudioType.PODCAST and loaded.state is JobState.QUEUED
    assert loaded.created_at == original.created_at and loaded.created_at.tzinfo is not None
    assert [s.title for s in loaded.segments] == ["T0", "T1"]
    assert loaded.request_id == "r1" and loaded.webhook_url == "https://example.test/hook"


def test_leaving_without_commit_rolls_back(uow_factory) -> None:
    with uow_factory() as uow:
        uow.jobs.add(job())
    with uow_factory() as uow, pytest.raises(NotFound):
        uow.jobs.get(job().id)


def test_another_tenants_job_is_not_found(uow_factory) -> None:
    with uow_factory() as uow:
        uow.jobs.add(job())
        uow.commit()
    with uow_factory() as uow:
        with pytest.raises(NotFound) as other:
            uow.jobs.get(job().id, "globex")
        with pytest.raises(NotFound) as missing:
            uow.jobs.get("nope", "globex")
    assert str(other.value).replace(job().id, "X") == str(missing.value).replace("nope", "X")


def test_put_asset_replaces_instead_of_duplicating(uow_factory) -> None:
    j = job()
    segments = segments_of(j)
    with uow_factory() as uow:
        uow.jobs.add(j)
        uow.jobs.add_segments(j, segments)
        uow.jobs.put_asset(asset(segments[0], AssetKind.IMAGE, size=10))
        uow.jobs.put_asset(asset(segments[0], AssetKind.IMAGE, size=20))
        uow.jobs.put_asset(asset(segments[0], AssetKind.AUDIO))
        segments[0].transition(SegmentState.RUNNING)
        uow.jobs.update_segment(segments[0])
        uow.commit()
    with uow_factory() as uow:
        loaded = uow.jobs.get(j.id)
    first = loaded.segments[0]
    assert [(a.kind, a.size) for a in first.assets] == [
        (AssetKind.AUDIO, 10),
        (AssetKind.IMAGE, 20),
    ]
    assert first.assets[1].metadata == {"width": 4, "nested": {"a": [1, 2]}}
    assert first.state is SegmentState.RUNNING


def test_claim_is_exclusive_until_the_lease_expires(uow_factory) -> None:
    with uow_factory() as uow:
        uow.jobs.add(job())
        uow.commit()
    lease_end = T0 + timedelta(minutes=5)
    with uow_factory() as uow:
        claimed = uow.jobs.claim(job().id, "w1", T0, lease_end)
        uow.commit()
    assert claimed is not None and claimed.state is JobState.RUNNING and claimed.attempt == 1
    with uow_factory() as uow:
        assert uow.jobs.claim(job().id, "w2", T0 + timedelta(minutes=1), lease_end) is None
        uow.jobs.hold_lease(job().id, "w1", T0, lease_end)
        with pytest.raises(LeaseLost):
            uow.jobs.hold_lease(job().id, "w2", T0, lease_end)
    with uow_factory() as uow:
        later = lease_end + timedelta(seconds=1)
        taken = uow.jobs.claim(job().id, "w2", later, later + timedelta(minutes=5))
        uow.commit()
    assert taken is not None and taken.lease_owner == "w2" and taken.attempt == 2
    with uow_factory() as uow, pytest.raises(LeaseLost):
        uow.jobs.hold_lease(job().id, "w1", later, later)


def test_claiming_an_unknown_job_raises_not_found(uow_factory) -> None:
    with uow_factory() as uow:
        uow.jobs.add(job(1))
        uow.commit()
    with uow_factory() as uow, pytest.raises(NotFound):
        uow.jobs.claim(job(2).id, "w1", T0, T0 + timedelta(minutes=1))
    with uow_factory() as uow:
        assert uow.jobs.get(job(1).id).state is JobState.QUEUED, "the others are untouched"


def test_a_finished_job_cannot_be_claimed(uow_factory) -> None:
    with uow_factory() as uow:
        uow.jobs.add(job(state=JobState.SUCCEEDED))
        uow.commit()
    with uow_factory() as uow:
        assert uow.jobs.claim(job().id, "w1", T0, T0 + timedelta(minutes=1)) is None


def test_find_by_request_id_is_per_tenant(uow_factory) -> None:
    with uow_factory() as uow:
        uow.jobs.add(job(1, request_id="r"))
        uow.jobs.add(job(2, tenant="globex", request_id="r"))
        uow.commit()
    with uow_factory() as uow:
        found = uow.jobs.find_by_request_id("acme", "r")
        assert found is not None and found.id == job(1).id
        assert uow.jobs.find_by_request_id("acme", "other") is None


def test_list_pages_newest_first_without_gaps_or_repeats(uow_factory) -> None:
    with uow_factory() as uow:
        for n in range(7):
            uow.jobs.add(job(n, state=JobState.FAILED if n % 3 == 0 else JobState.QUEUED))
        uow.jobs.add(job(99, tenant="globex"))
        uow.jobs.add(job(7, created_at=T0 + timedelta(seconds=6)))  # ties with job 6
        uow.commit()
    seen, cursor = [], None
    with uow_factory() as uow:
        while page := uow.jobs.list("acme", states=[], limit=3, after=cursor):
            seen += [j.id for j in page]
            cursor = JobCursor.after(page[-1])
        failed = uow.jobs.list("acme", states=[JobState.FAILED], limit=10, after=None)
    assert seen == [job(n).id for n in (7, 6, 5, 4, 3, 2, 1, 0)]
    assert [j.id for j in failed] == [job(n).id for n in (6, 3, 0)]


def test_listed_jobs_come_with_their_own_segments_and_assets(uow_factory) -> None:
    with uow_factory() as uow:
        for n in range(3):
            uow.jobs.add(job(n))
            if n:  # job 0 is not segmented yet
                uow.jobs.add_segments(job(n), segments_of(job(n)))
                uow.jobs.put_asset(asset(segments_of(job(n))[1], AssetKind.IMAGE, size=n))
        uow.commit()
    with uow_factory() as uow:
        listed = uow.jobs.list("acme", states=[], limit=10, after=None)
        assert [[s.index for s in j.segments] for j in listed] == [[0, 1], [0, 1], []]
        for j in listed:
            assert j.segments == uow.jobs.get(j.id).segments
            assert all(s.job_id == j.id for s in j.segments)
        assert [a.size for a in listed[0].segments[1].assets] == [2]


def test_get_asset_is_tenant_scoped(uow_factory) -> None:
    j = job()
    segments = segments_of(j)
    with uow_factory() as uow:
        uow.jobs.add(j)
        uow.jobs.add_segments(j, segments)
        uow.jobs.put_asset(asset(segments[1], AssetKind.AUDIO))
        uow.commit()
    wanted = Asset.id_for(segments[1].id, AssetKind.AUDIO)
    with uow_factory() as uow:
        found = uow.jobs.get_asset(wanted, "acme")
        assert (found.kind, found.segment_id, found.metadata["width"]) == (
            AssetKind.AUDIO,
            segments[1].id,
            4,
        )
        with pytest.raises(NotFound):
            uow.jobs.get_asset(wanted, "globex")
        with pytest.raises(NotFound):
            uow.jobs.get_asset("missing", "acme")


def test_claimable_lists_expired_jobs_then_queued_ones_oldest_first(uow_factory) -> None:
    """A dead worker's jobs (started, some segments maybe done) come before queued ones,
    even older ones; oldest first within each."""
    with uow_factory() as uow:
        uow.jobs.add(job(1))
        uow.jobs.add(job(2, state=JobState.SUCCEEDED))
        for n in (3, 4, 5, 6):
            uow.jobs.add(job(n))
        uow.commit()
    with uow_factory() as uow:
        uow.jobs.claim(job(5).id, "w", T0, T0 + timedelta(minutes=5))
        uow.jobs.claim(job(3).id, "w", T0, T0 + timedelta(minutes=5))
        uow.jobs.claim(job(4).id, "w", T0, T0 + timedelta(minutes=10))
        uow.commit()
    with uow_factory() as uow:
        soon = T0 + timedelta(minutes=6)
        expired, queued = [job(3).id, job(5).id], [job(1).id, job(6).id]
        assert [i for i, _ in uow.jobs.claimable(soon, 10)] == expired + queued
        assert [i for i, _ in uow.jobs.claimable(soon, 1)] == [job(3).id]
        assert [i for i, _ in uow.jobs.claimable(soon, 3)] == [*expired, job(1).id]
        recent = T0 + timedelta(seconds=1)  # job 1 was queued at T0 + 1 s: not yet stale
        assert [i for i, _ in uow.jobs.claimable(soon, 10, queued_before=recent)] == expired


def test_a_queued_job_rung_again_is_not_stale_again_until_it_waited_once_more(
    uow_factory,
) -> None:
    """The sweeper marks what it rang: a queued job comes back once per wait, not at every
    sweep; an expired lease's job comes back every time."""
    with uow_factory() as uow:
        for n in (1, 2, 3):
            uow.jobs.add(job(n))
        uow.commit()
    with uow_factory() as uow:
        uow.jobs.claim(job(3).id, "w", T0, T0 + timedelta(seconds=30))
        uow.commit()
    later = T0 + timedelta(minutes=5)
    with uow_factory() as uow:
        uow.jobs.mark_rung([job(1).id, job(3).id], later)
        uow.commit()
    with uow_factory() as uow:
        waited = later - timedelta(seconds=60)
        assert [i for i, _ in uow.jobs.claimable(later, 10, waited)] == [job(3).id, job(2).id]
        after = later + timedelta(seconds=61)
        assert [i for i, _ in uow.jobs.claimable(after, 10, after - timedelta(seconds=60))] == [
            job(3).id,
            job(1).id,
            job(2).id,
        ]


def test_the_outbox_hands_out_unsent_messages_in_order(uow_factory) -> None:
    messages = [
        OutboxMessage(Topic.JOBS, "j1", {"job_id": "j1"}, T0),
        OutboxMessage(Topic.EVENTS, "j1", {"kind": "job.queued", "n": [1, 2]}, T0),
        OutboxMessage(Topic.EVENTS, "j2", {"kind": "job.queued"}, T0),
    ]
    with uow_factory() as uow:
        uow.outbox.add(messages)
    with uow_factory() as uow:
        assert uow.outbox.pending(10) == [], "rolled back with its transaction"
        uow.outbox.add(messages)
        uow.commit()
    with uow_factory() as uow:
        pending = uow.outbox.pending(2)
        assert [(m.topic, m.key, m.payload) for m in pending] == [
            (m.topic, m.key, m.payload) for m in messages[:2]
        ]
        uow.outbox.mark_sent([m.id for m in pending], T0)
        uow.commit()
    with uow_factory() as uow:
        assert [m.key for m in uow.outbox.pending(10)] == ["j2"]


def test_a_conditional_update_never_overwrites_a_racing_writer(uow_factory) -> None:
    with uow_factory() as uow:
        uow.jobs.add(job(state=JobState.RUNNING))
        uow.commit()
    with uow_factory() as uow:
        stale = uow.jobs.get(job().id)
    with uow_factory() as uow:
        finished = uow.jobs.get(job().id)
        finished.state = JobState.SUCCEEDED
        uow.jobs.update(finished, expected_state=JobState.RUNNING)
        uow.commit()
    stale.state = JobState.CANCELLED
    with uow_factory() as uow, pytest.raises(ConcurrentChange):
        uow.jobs.update(stale, expected_state=JobState.RUNNING)
    with uow_factory() as uow:
        assert uow.jobs.get(job().id).state is JobState.SUCCEEDED


def test_a_taken_request_id_is_already_exists(uow_factory) -> None:
    with uow_factory() as uow:
        uow.jobs.add(job(1, request_id="r"))
        uow.commit()
    with uow_factory() as uow, pytest.raises(AlreadyExists):
        uow.jobs.add(job(3, request_id="r"))
    with uow_factory() as uow:
        with pytest.raises(NotFound):
            uow.jobs.get(job(3).id)
        assert uow.jobs.find_by_request_id("acme", "r").id == job(1).id


def test_units_of_work_that_read_then_write_succeed_under_contention(uow_factory) -> None:
    """On SQLite a deferred transaction that read before another writer committed can no
    longer write at all ("database is locked"): writers must take the lock up front."""
    with uow_factory() as uow:
        uow.jobs.add(job())
        uow.keys.add(ApiKey("key", "acme", "hash", T0, None))
        uow.commit()

    def read_then_charge(_: int) -> None:
        for _ in range(25):
            with uow_factory() as uow:
                uow.jobs.get(job().id)
                uow.usage.add("key", T0, 1)
                uow.commit()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(read_then_charge, range(4)))
    with uow_factory() as uow:
        assert uow.usage.add("key", T0, 0) == 100
