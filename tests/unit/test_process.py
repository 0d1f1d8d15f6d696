import hashlib
import threading

import pytest

from stories_core import markup
from stories_core.errors import ContentBlocked, NotFound
from stories_core.events import EventKind, JobEvent
from stories_core.generation import Media
from stories_core.model import AssetKind, AudioType, JobState, SegmentState, Topic, new_id
from stories_core.services.dispatch import RelayOutbox
from stories_core.services.query import JobQueries
from tests.fakes import ScriptedBackend
from tests.unit.conftest import World

TEXT = "\n\n".join(f"Paragraph {i} says something." for i in range(6))


def test_a_job_runs_to_success_with_an_image_and_audio_per_segment(world: World) -> None:
    job = world.submit(world.request(TEXT, pictures=6))
    world.processor()(job.id)
    done = JobQueries(world.database).get(job.id)
    assert done.state is JobState.SUCCEEDED
    assert len(done.segments) == 6
    for segment in done.segments:
        assert segment.state is SegmentState.SUCCEEDED
        assert {a.kind for a in segment.assets} == {AssetKind.IMAGE, AssetKind.AUDIO}
        for asset in segment.assets:
            assert world.blobs.objects[asset.key]
            assert asset.size == len(world.blobs.objects[asset.key])
            assert asset.checksum.startswith("sha256:")
    image = done.segments[0].asset(AssetKind.IMAGE)
    assert image is not None and image.metadata["prompt"] == "picture of Part 1"
    assert markup.parse(done.markup or "") == markup.document_for(done)
    kinds = [e.kind for e in world.events.events]
    assert kinds[0] is EventKind.JOB_QUEUED and kinds[-1] is EventKind.JOB_SUCCEEDED
    assert kinds.count(EventKind.SEGMENT_DONE) == 6


def test_audio_none_makes_images_only(world: World) -> None:
    job = world.submit(world.request(TEXT, pictures=2, audio_type=AudioType.NONE.value))
    world.processor()(job.id)
    done = JobQueries(world.database).get(job.id)
    assert all([a.kind for a in s.assets] == [AssetKind.IMAGE] for s in done.segments)
    assert "speak" not in world.backend.calls and "narrate" not in world.backend.calls


def test_concurrency_is_bounded_and_both_chains_overlap() -> None:
    world = World(ScriptedBackend(delay=0.05), concurrency=2)
    job = world.submit(world.request(TEXT, pictures=6))
    world.processor()(job.id)
    # Two segments at a time, each with its audio and image chains side by side.
    assert 2 < world.backend.max_active <= 4


def test_running_again_skips_finished_segments_and_duplicates_nothing() -> None:
    world = World(ScriptedBackend(fail_on_index=5))
    job = world.submit(world.request(TEXT, pictures=6))
    world.processor()(job.id)
    failed = JobQueries(world.database).get(job.id)
    assert failed.state is JobState.FAILED
    assert failed.error_code == "BACKEND_UNAVAILABLE"
    assert failed.error_retryable, "the backend said trying later may help"
    finished = {s.id for s in failed.segments if s.state is SegmentState.SUCCEEDED}
    assert len(finished) == 5
    asset_ids = {a.id for s in failed.segments for a in s.assets}

    # Retry: the job goes back to the queue, and only segment 5 is generated again.
    with world.database() as uow:
        retry = uow.jobs.get(job.id)
        retry.transition(JobState.QUEUED, world.clock.now())
        uow.jobs.update(retry)
        uow.commit()
    world.backend.fail_on_index = None
    world.backend.calls.clear()
    world.processor("worker-2")(job.id)
    done = JobQueries(world.database).get(job.id)
    assert done.state is JobState.SUCCEEDED
    assert world.backend.calls["draw"] == 1 and "segment" not in world.backend.calls
    all_assets = [a.id for s in done.segments for a in s.assets]
    assert len(all_assets) == len(set(all_assets)) == 12
    assert asset_ids <= set(all_assets)
    assert done.attempt == 2


def test_a_job_held_by_another_worker_is_left_alone(world: World) -> None:
    job = world.submit(world.request(TEXT))
    with world.database() as uow:
        until = world.clock.now().replace(year=2030)
        assert uow.jobs.claim(job.id, "other", world.clock.now(), until) is not None
        uow.commit()
    assert world.processor()(job.id) is None
    assert world.backend.calls == {}


def test_an_unknown_job_is_not_found_rather_than_held_elsewhere(world: World) -> None:
    world.submit(world.request(TEXT))
    with pytest.raises(NotFound):
        world.processor()(new_id())
    assert world.backend.calls == {}


def test_an_expired_lease_is_taken_over(world: World) -> None:
    job = world.submit(world.request(TEXT))
    with world.database() as uow:
        uow.jobs.claim(job.id, "crashed", world.clock.now(), world.clock.now())
        uow.commit()
    world.clock.advance(1)
    assert world.processor()(job.id) is not None
    assert JobQueries(world.database).get(job.id).state is JobState.SUCCEEDED


def test_a_finished_job_is_not_run_again(world: World) -> None:
    job = world.submit(world.request(TEXT))
    world.processor()(job.id)
    calls = dict(world.backend.calls)
    assert world.processor()(job.id) is None
    assert world.backend.calls == calls


def test_every_event_is_in_the_outbox_and_the_webhook_fires_once(world: World) -> None:
    job = world.submit(world.request(TEXT, pictures=3, webhook_url="https://example.test/h"))
    world.processor()(job.id)
    kinds = [m.payload["kind"] for m in world.outbox(Topic.EVENTS)]
    assert kinds == [
        "job.queued", "job.started", "job.segments_planned",
        "segment.done", "segment.done", "segment.done", "job.succeeded",
    ]  # fmt: skip
    [webhook] = world.database.tables.webhooks.values()
    assert webhook.url == "https://example.test/h"
    assert webhook.event["kind"] == "job.succeeded"
    assert JobEvent.from_dict(webhook.event).state is JobState.SUCCEEDED


def test_relay_publishes_pending_messages_once(world: World) -> None:
    job = world.submit(world.request(TEXT, pictures=2))

    class Collecting:
        def __init__(self) -> None:
            self.messages = []

        def publish(self, messages) -> None:
            self.messages.extend(messages)

    publisher = Collecting()
    assert RelayOutbox(world.database, publisher, world.clock)() == 2
    assert RelayOutbox(world.database, publisher, world.clock)() == 0
    assert [m.topic for m in publisher.messages] == [Topic.JOBS, Topic.EVENTS]
    assert publisher.messages[0].key == job.id


def test_a_released_job_is_queued_again_with_a_new_doorbell() -> None:
    world = World(ScriptedBackend(delay=0.05), concurrency=1)
    job = world.submit(world.request(TEXT, pictures=3))
    worker = world.processor("worker-1")
    assert worker.release(job.id) is False, "not running here: nothing to release"
    first_segment_done = threading.Event()
    world.events.emit = lambda event: (  # type: ignore[method-assign]
        world.events.events.append(event),
        event.kind is EventKind.SEGMENT_DONE and first_segment_done.set(),
    )
    run = threading.Thread(target=worker, args=(job.id,))
    run.start()
    assert first_segment_done.wait(10)
    assert world.processor("worker-2").release(job.id) is False, "fenced: not its run"
    assert worker.release(job.id) is True
    run.join(10)
    released = JobQueries(world.database).get(job.id)
    assert released.state is JobState.QUEUED and released.lease_owner is None
    assert [s.state for s in released.segments].count(SegmentState.SUCCEEDED) == 1
    assert [m.payload["job_id"] for m in world.outbox(Topic.JOBS)] == [job.id, job.id]
    assert worker.release(job.id) is False, "no longer held"
    assert world.processor("worker-2")(job.id).state is JobState.SUCCEEDED
    assert world.backend.calls["draw"] <= 4, "the finished segment was not redone"


class StallingBackend(ScriptedBackend):
    """Its first picture takes until the test says so, and differs from later ones."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled = threading.Event()
        self.resume = threading.Event()

    def draw(self, prompt, brief, style):
        if not self.stalled.is_set():
            self.stalled.set()
            assert self.resume.wait(10)
            return Media(b"the stale worker's picture", "image/png", "png", {})
        return super().draw(prompt, brief, style)


def test_a_worker_that_lost_its_lease_cannot_change_the_bytes_of_an_asset() -> None:
    backend = StallingBackend()
    world = World(backend)
    job = world.submit(world.request(TEXT, pictures=1, audio_type=AudioType.NONE.value))
    stale = threading.Thread(target=world.processor("stalled"), args=(job.id,))
    stale.start()
    assert backend.stalled.wait(10)
    world.clock.advance(world.settings.lease_seconds + 1)  # presumed dead: taken over
    assert world.processor("successor")(job.id).state is JobState.SUCCEEDED
    backend.resume.set()  # the stalled worker wakes and writes its picture
    stale.join(10)
    [segment] = JobQueries(world.database).get(job.id).segments
    [image] = segment.assets
    stored = world.blobs.objects[image.key]
    assert image.checksum == "sha256:" + hashlib.sha256(stored).hexdigest()
    assert stored == b"picture of Part 1", "the successor's picture, as its row says"


class BlockingBackend(ScriptedBackend):
    def draw(self, prompt, brief, style):
        raise ContentBlocked("the picture was blocked by the safety filter")


@pytest.mark.parametrize(
    ("backend", "code", "retryable"),
    [
        (ScriptedBackend(fail_on_index=0), "BACKEND_UNAVAILABLE", True),
        (BlockingBackend(), "CONTENT_BLOCKED", False),
    ],
)
def test_a_failure_says_whether_retrying_may_help(backend, code, retryable) -> None:
    world = World(backend)
    job = world.submit(world.request(TEXT, pictures=1))
    world.processor()(job.id)
    failed = JobQueries(world.database).get(job.id)
    assert (failed.error_code, failed.error_retryable) == (code, retryable)
    [event] = [m.payload for m in world.outbox(Topic.EVENTS) if m.payload["kind"] == "job.failed"]
    assert (event["error_code"], event["error_retryable"]) == (code, retryable)
