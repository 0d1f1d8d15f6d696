"""The worker's consumer loop against Tansu and PostgreSQL: offsets, repeats, poison, stop."""

import logging
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from sqlalchemy import Engine

from stories.v1 import queue_pb2
from stories_adapters.kafka import dlq
from stories_adapters.kafka.admin import ensure_topics
from stories_adapters.kafka.config import KafkaConfig
from stories_adapters.kafka.producer import KafkaJobQueue
from stories_core.errors import DatabaseUnavailable
from stories_core.model import AssetKind, JobState, SegmentState, Topic
from tests.fakes import ScriptedBackend
from tests.integration.conftest import KafkaWorld, read_topic, wait_until
from tests.services import KafkaBroker

pytestmark = pytest.mark.slow
ONE_SEGMENT = "A single part with no blank line in it."


@pytest.fixture(autouse=True)
def consumer_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="stories_adapters.kafka.consumer")
    return caplog


def wait_for_assignment(caplog: pytest.LogCaptureFixture, owner: str) -> None:
    """Until the group gave `owner` partitions (Tansu takes about half a session timeout)."""

    def assigned() -> bool:
        messages = [r.getMessage() for r in caplog.records]
        return any(m.startswith(f"{owner}: assigned partitions [") for m in messages) and not all(
            m.endswith("[]") for m in messages if m.startswith(f"{owner}: assigned")
        )

    wait_until(assigned, 30, f"{owner} to be assigned partitions")


def committed(config: KafkaConfig, partitions: int) -> dict[int, int]:
    probe = Consumer(config.consumer("probe"))
    try:
        topic = config.jobs_topic
        offsets = probe.committed([TopicPartition(topic, p) for p in range(partitions)], 10)
    finally:
        probe.close()
    return {tp.partition: tp.offset for tp in offsets if tp.offset >= 0}


def test_the_worker_runs_a_job_and_commits_past_its_doorbell(world: KafkaWorld) -> None:
    job = world.submit()
    world.relay()
    backend = ScriptedBackend()
    with world.worker("worker-1", backend):
        wait_until(lambda: world.job(job.id).state is JobState.SUCCEEDED, 60, "the job")
    done = world.job(job.id)
    assert [s.state for s in done.segments] == [SegmentState.SUCCEEDED] * 3
    assert world.blobs.puts == 6
    assert sum(committed(world.kafka, 2).values()) == 1, "the one doorbell is behind us"


def test_repeated_doorbells_never_run_a_job_twice(world: KafkaWorld, consumer_logs) -> None:
    """Two workers in different groups both get every doorbell, three times over, and
    each runs two jobs at once: the lease in the database lets one run per job."""
    first, second = ScriptedBackend(delay=0.05), ScriptedBackend(delay=0.05)
    groups = [f"{world.kafka.group_id}-{n}" for n in "ab"]
    with (
        world.worker("worker-a", first, concurrency=2, group_id=groups[0]),
        world.worker("worker-b", second, concurrency=2, group_id=groups[1]),
    ):
        wait_for_assignment(consumer_logs, "worker-a")
        wait_for_assignment(consumer_logs, "worker-b")
        jobs = [world.submit(f"Job {n}, part one.\n\nJob {n}, part two.") for n in range(4)]
        world.relay()
        queue = KafkaJobQueue(world.producer, world.kafka)
        for job in jobs * 2:
            queue.publish(job.id, job.trace_id)
        for job in jobs:
            wait_until(lambda j=job: world.job(j.id).state is JobState.SUCCEEDED, 60, "jobs")
    refusals = [r for r in consumer_logs.records if "held by another worker" in r.getMessage()]
    assert refusals, "repeated doorbells were turned away by the lease"
    segmented = first.calls.get("segment", 0) + second.calls.get("segment", 0)
    drawn = first.calls.get("draw", 0) + second.calls.get("draw", 0)
    assert (segmented, drawn) == (4, 8), "each job planned once, each segment drawn once"
    for job in jobs:
        finished = world.job(job.id)
        assert finished.attempt == 1, "claimed once"
        kinds = [a.kind for s in finished.segments for a in s.assets]
        assert sorted(kinds) == [AssetKind.AUDIO, AssetKind.AUDIO, AssetKind.IMAGE, AssetKind.IMAGE]
    assert world.blobs.puts == 16


def test_a_poison_message_goes_to_the_dlq_and_the_worker_goes_on(world: KafkaWorld) -> None:
    raw = Producer({"bootstrap.servers": world.kafka.brokers})
    raw.produce(
        world.kafka.jobs_topic,
        key=b"junk",
        value=b"\xff\xfe not a protobuf",
        headers=[("origin", b"a test")],
        partition=0,
    )
    no_job_id = queue_pb2.JobMessage(trace_id="t").SerializeToString()
    raw.produce(world.kafka.jobs_topic, key=b"empty", value=no_job_id, partition=0)
    assert raw.flush(10) == 0
    job = world.submit()
    world.relay()
    with world.worker("worker-1", ScriptedBackend()):
        wait_until(lambda: world.job(job.id).state is JobState.SUCCEEDED, 60, "the job")
        dead = read_topic(world.kafka, world.kafka.dlq_topic, 2)
    assert [(m.key(), m.value()) for m in dead] == [
        (b"junk", b"\xff\xfe not a protobuf"),
        (b"empty", no_job_id),
    ]
    for offset, message in enumerate(dead):
        headers = {name: value.decode() for name, value in message.headers()}
        assert headers[dlq.ERROR_CLASS_HEADER] == "UndecodableMessage"
        assert headers[dlq.STAGE_HEADER] == "decode"
        assert headers[dlq.ORIGINAL_TOPIC_HEADER] == world.kafka.jobs_topic
        assert headers[dlq.ORIGINAL_PARTITION_HEADER] == "0"
        assert headers[dlq.ORIGINAL_OFFSET_HEADER] == str(offset)
        assert headers[dlq.WORKER_HEADER] == "worker-1"
        assert headers[dlq.FAILED_AT_HEADER]
    headers = {name: value.decode() for name, value in dead[0].headers()}
    assert headers["origin"] == "a test", "the original headers travel along"
    assert "Wire format" in headers[dlq.ERROR_MESSAGE_HEADER]
    assert "without a job_id" in dict(dead[1].headers())[dlq.ERROR_MESSAGE_HEADER].decode()
    assert committed(world.kafka, 2).get(0, 0) >= 2, "the poison is behind us"


def test_a_stopping_worker_releases_a_slow_job_and_another_resumes_it(world: KafkaWorld) -> None:
    text = "\n\n".join(f"Part {n} of a slow job." for n in range(4))
    job = world.submit(text, pictures=4)
    world.relay()
    slow = ScriptedBackend(delay=0.3)
    with world.worker("worker-1", slow, grace=0.2, max_concurrent_segments=1):
        wait_until(
            lambda: any(s.state is SegmentState.SUCCEEDED for s in world.job(job.id).segments),
            60,
            "a first segment",
        )
    released = world.job(job.id)
    assert released.state is JobState.QUEUED and released.lease_owner is None
    finished = {s.index for s in released.segments if s.state is SegmentState.SUCCEEDED}
    assert 1 <= len(finished) < 4
    assert SegmentState.RUNNING not in [s.state for s in released.segments]
    with world.uow_factory() as uow:
        doorbells = [m for m in uow.outbox.pending(10) if m.topic is Topic.JOBS]
    assert [m.key for m in doorbells] == [job.id], "rung again through the outbox"

    world.relay()
    fresh = ScriptedBackend()
    with world.worker("worker-2", fresh):
        wait_until(lambda: world.job(job.id).state is JobState.SUCCEEDED, 60, "the job")
    assert "segment" not in fresh.calls, "the plan is kept"
    assert fresh.calls["draw"] == 4 - len(finished), "finished segments are not redone"
    assert world.job(job.id).attempt == 2


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_worker_runs_at_most_its_concurrency_of_jobs(world: KafkaWorld, concurrency: int) -> None:
    jobs = [world.submit(f"{ONE_SEGMENT} {uuid.uuid4()}", pictures=1) for _ in range(3)]
    world.relay()
    backend = ScriptedBackend(delay=0.3)  # each job: two chains of two calls, side by side
    with world.worker("worker-1", backend, concurrency=concurrency):
        for job in jobs:
            wait_until(lambda j=job: world.job(j.id).state is JobState.SUCCEEDED, 60, "jobs")
    # Calls in flight at once: two per running job (its image and audio chains).
    assert backend.max_active <= 2 * concurrency
    if concurrency > 1:
        assert backend.max_active > 2, "jobs overlapped"


def test_a_worker_joining_takes_over_partitions_and_every_job_runs_once(
    pg_engine: Engine, kafka_broker: KafkaBroker, consumer_logs
) -> None:
    """The first member gives up partitions mid-batch (committing what it finished); the
    second reads their uncommitted doorbells again, and the leases keep each job single."""
    config = kafka_broker.fresh_config(jobs_partitions=4)
    ensure_topics(config)
    world = KafkaWorld(pg_engine, config)
    # About 0.9 s a job: the batch outlasts Tansu's rebalance (about a session timeout).
    first, second = ScriptedBackend(delay=0.3), ScriptedBackend(delay=0.3)
    jobs = [world.submit(f"{ONE_SEGMENT} {n}", pictures=1) for n in range(12)]
    world.relay()
    with world.worker("worker-a", first):
        wait_for_assignment(consumer_logs, "worker-a")
        with world.worker("worker-b", second):
            wait_for_assignment(consumer_logs, "worker-b")
            for job in jobs:
                wait_until(lambda j=job: world.job(j.id).state is JobState.SUCCEEDED, 90, "jobs")
    messages = [r.getMessage() for r in consumer_logs.records]
    assert any(m.startswith("worker-a: revoked partitions [") for m in messages)
    assert first.calls.get("draw", 0) + second.calls.get("draw", 0) == 12, "each job once"
    assert second.calls.get("draw", 0) > 0, "the newcomer did some of the work"
    assert all(world.job(j.id).attempt == 1 for j in jobs)
    assert sum(committed(world.kafka, 4).values()) == 12, "every doorbell committed once"


class Failing:
    """A ProcessJob whose every run raises `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __call__(self, job_id: str, traceparent: str = "") -> None:
        raise self.error

    def release(self, job_id: str) -> bool:
        return False


def test_a_job_whose_run_hits_a_bug_goes_to_the_dlq_and_stays_claimable(
    world: KafkaWorld,
) -> None:
    job = world.submit()
    world.relay()
    broken = Failing(KeyError("a bug"))
    with world.worker("worker-1", ScriptedBackend(), processor=broken):  # type: ignore[arg-type]
        [dead] = read_topic(world.kafka, world.kafka.dlq_topic, 1)
    headers = {name: value.decode() for name, value in dead.headers()}
    assert headers[dlq.STAGE_HEADER] == "process"
    assert headers[dlq.ERROR_CLASS_HEADER] == "KeyError"
    assert headers[dlq.ERROR_MESSAGE_HEADER] == "'a bug'"
    assert queue_pb2.JobMessage.FromString(dead.value()).job_id == job.id
    assert world.job(job.id).state is JobState.QUEUED, "the sweeper will ring for it again"


def test_a_run_that_gave_up_on_an_unavailable_database_is_not_dead_lettered(
    world: KafkaWorld, consumer_logs
) -> None:
    """An outage is not the message's fault: its offset is stored, nothing goes to the
    DLQ, and the job stays claimable for the sweeper to ring again."""
    job = world.submit()
    world.relay()
    down = Failing(DatabaseUnavailable("the database refused the connection"))
    with world.worker("worker-1", ScriptedBackend(), processor=down):  # type: ignore[arg-type]
        wait_until(lambda: "left for later" in consumer_logs.text or None, 60, "the run")
    assert sum(committed(world.kafka, 2).values()) == 1, "its doorbell is behind us"
    assert read_topic(world.kafka, world.kafka.dlq_topic, 1, timeout=10) == []
    assert world.job(job.id).state is JobState.QUEUED, "the sweeper will ring for it again"


def test_an_idle_worker_steals_a_waiting_job_and_its_late_doorbell_does_not_rerun_it(
    world: KafkaWorld, consumer_logs
) -> None:
    """The job's doorbell is not published yet (as if it sat in another member's backlog):
    the idle worker finds the job in the database and runs it; when the doorbell arrives,
    the lease turns it away and its offset is stored."""
    job = world.submit()
    backend = ScriptedBackend()
    with world.worker("worker-1", backend, steal_after=0.3):
        wait_until(lambda: world.job(job.id).state is JobState.SUCCEEDED, 60, "the stolen job")
        assert world.relay() >= 1, "the doorbell (and the job's events) go out now"
        wait_until(
            lambda: sum(committed(world.kafka, 2).values()) == 1 or None,
            60,
            "the late doorbell to be committed",
        )
    messages = [r.getMessage() for r in consumer_logs.records]
    assert f"job {job.id}: stolen (its doorbell is elsewhere)" in messages
    assert f"job {job.id}: doorbell received" in messages
    assert f"job {job.id}: held by another worker or ended" in messages
    assert (backend.calls["segment"], backend.calls["draw"]) == (1, 3), "run once"
    assert world.job(job.id).attempt == 1
    assert world.blobs.puts == 6
