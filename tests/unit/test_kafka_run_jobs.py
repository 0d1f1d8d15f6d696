"""The consumer's jobs strategy without a broker: at most `concurrency` jobs at once, the
rest waiting in order; ends (and failures) collected; revoked doorbells dropped; the jobs
still running at shutdown given back."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator

import pytest
from confluent_kafka import Message

from stories_adapters.kafka.consumer.run_jobs import Finished, RunJobs, Task
from stories_core.errors import NotFound

JOBS = "stories.jobs.v1"
PATIENCE = 10  # seconds: only ever reached when a test is broken


class GatedJobs:
    """A ProcessJob whose runs each wait for their gate; a job named `fail-…` raises, and
    one named `gone-…` does not exist."""

    def __init__(self) -> None:
        self.started: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.released: list[str] = []
        self._gates: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def gate(self, job_id: str) -> threading.Event:
        with self._lock:
            return self._gates.setdefault(job_id, threading.Event())

    def open(self, *job_ids: str) -> None:
        for job_id in job_ids:
            self.gate(job_id).set()

    def open_all(self) -> None:
        with self._lock:
            gates = list(self._gates.values())
        for gate in gates:
            gate.set()

    def __call__(self, job_id: str, traceparent: str = "") -> None:
        self.started.put(job_id)
        if not self.gate(job_id).wait(PATIENCE):
            raise TimeoutError(f"{job_id} was never let through")
        if job_id.startswith("fail"):
            raise ConnectionError("database unreachable")
        if job_id.startswith("gone"):
            raise NotFound(f"job {job_id} not found")
        return None

    def release(self, job_id: str) -> bool:
        if job_id.startswith("stuck"):
            raise ConnectionError("database unreachable")
        self.released.append(job_id)
        self.open(job_id)  # a released run stops at its next fenced write
        return True

    def next_started(self) -> str:
        return self.started.get(timeout=PATIENCE)


@pytest.fixture
def process() -> GatedJobs:
    return GatedJobs()


@pytest.fixture
def jobs(process: GatedJobs) -> Iterator[RunJobs]:
    strategy = RunJobs(process, 2, name="test-worker")
    yield strategy
    process.open_all()
    strategy.close()


def rung(job_id: str, partition: int = 0, offset: int = 0) -> Task:
    message = Message(topic=JOBS, partition=partition, offset=offset, value=b"")
    return Task(job_id, f"trace-{job_id}", message)


def collect_one(jobs: RunJobs) -> list[Finished]:
    finished = jobs.collect(PATIENCE)
    assert finished, "a job ended"
    return finished


def test_at_most_concurrency_jobs_run_and_the_others_wait_in_order(
    jobs: RunJobs, process: GatedJobs
) -> None:
    for n in range(4):
        jobs.submit(rung(f"job-{n}", offset=n))
    assert (jobs.waiting, jobs.free_slots) == (4, 2), "nothing starts before start_waiting"
    jobs.start_waiting()
    assert {process.next_started(), process.next_started()} == {"job-0", "job-1"}
    assert (jobs.waiting, jobs.free_slots) == (2, 0)
    assert jobs.running_job_ids == {"job-0", "job-1"}

    process.open("job-1")
    [done] = collect_one(jobs)
    assert (done.task.job_id, done.error) == ("job-1", None)
    assert done.task.message is not None and done.task.message.offset() == 1
    jobs.start_waiting()
    assert process.next_started() == "job-2", "the first waiting starts first"
    assert (jobs.waiting, jobs.free_slots) == (1, 0)
    assert jobs.running_job_ids == {"job-0", "job-2"}


def test_collect_returns_at_once_when_nothing_ended(jobs: RunJobs, process: GatedJobs) -> None:
    assert jobs.collect() == []
    jobs.submit(rung("job-0"))
    jobs.start_waiting()
    assert process.next_started() == "job-0"
    assert jobs.collect() == []
    assert jobs.running_job_ids == {"job-0"}


def test_every_job_that_ended_is_collected_at_once(jobs: RunJobs, process: GatedJobs) -> None:
    jobs.submit(rung("job-0"))
    jobs.submit(rung("job-1"))
    jobs.start_waiting()
    process.open("job-0", "job-1")
    ended: list[str] = []
    while len(ended) < 2:
        ended += [f.task.job_id for f in collect_one(jobs)]
    assert sorted(ended) == ["job-0", "job-1"]
    assert (jobs.free_slots, jobs.running_job_ids) == (2, set())


def test_a_run_that_raises_is_collected_with_its_error(jobs: RunJobs, process: GatedJobs) -> None:
    jobs.submit(rung("fail-0", offset=7))
    jobs.start_waiting()
    process.open("fail-0")
    [failed] = collect_one(jobs)
    assert failed.task.job_id == "fail-0"
    assert isinstance(failed.error, ConnectionError)
    assert str(failed.error) == "database unreachable"
    assert jobs.free_slots == 2


def test_revoked_partitions_lose_their_waiting_doorbells_and_keep_their_running_jobs(
    process: GatedJobs,
) -> None:
    jobs = RunJobs(process, 1, name="test-worker")
    try:
        jobs.submit(rung("job-0", partition=0))
        jobs.start_waiting()
        assert process.next_started() == "job-0"
        jobs.submit(rung("job-1", partition=0, offset=1))
        jobs.submit(rung("job-2", partition=1))
        jobs.submit(Task("job-3", "trace-job-3"))  # stolen: no partition
        jobs.submit(rung("job-4", partition=0, offset=2))
        jobs.drop_waiting({(JOBS, 0)})
        assert jobs.waiting == 2
        assert jobs.running_job_ids == {"job-0"}, "a running job goes on under its lease"

        process.open("job-0", "job-2", "job-3")
        started = []
        while len(started) < 2:
            collect_one(jobs)
            jobs.start_waiting()
            started.append(process.next_started())
        assert started == ["job-2", "job-3"]
    finally:
        process.open_all()
        jobs.close()


def test_shutdown_gives_back_the_jobs_still_running(jobs: RunJobs, process: GatedJobs) -> None:
    jobs.submit(rung("job-0"))
    jobs.submit(rung("job-1", offset=1))
    jobs.submit(rung("job-2", offset=2))  # still waiting: left to the partition's next owner
    jobs.start_waiting()
    process.open("job-0")
    [done] = collect_one(jobs)
    assert done.task.job_id == "job-0"
    jobs.join(0)  # the grace period is over: job-1 still runs

    handed_back = jobs.release_running()
    assert [t.job_id for t in handed_back] == ["job-1"]
    assert process.released == ["job-1"]
    assert jobs.running_job_ids == set()
    jobs.close()  # the released run has ended
    assert jobs.collect() == [], "a released job's end is not reported"


def test_a_job_that_cannot_be_released_is_logged_and_not_handed_back(
    jobs: RunJobs, process: GatedJobs, caplog: pytest.LogCaptureFixture
) -> None:
    jobs.submit(rung("stuck-0"))
    jobs.submit(rung("job-1", offset=1))
    jobs.start_waiting()
    assert {process.next_started(), process.next_started()} == {"stuck-0", "job-1"}
    jobs.join(0)
    with caplog.at_level(logging.INFO, logger="stories_adapters.kafka.consumer"):
        handed_back = jobs.release_running()
    assert [t.job_id for t in handed_back] == ["job-1"]
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "job stuck-0: could not be released; its lease will expire"),
        ("WARNING", "job job-1: released at shutdown"),
    ]
    assert jobs.running_job_ids == set()


def test_each_run_is_logged_as_rung_or_stolen(
    jobs: RunJobs, process: GatedJobs, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="stories_adapters.kafka.consumer")
    jobs.submit(rung("job-0"))
    jobs.submit(Task("job-1", "trace-job-1"))
    jobs.start_waiting()
    process.open("job-0", "job-1")
    ended = 0
    while ended < 2:
        ended += len(collect_one(jobs))
    messages = {r.getMessage() for r in caplog.records}
    assert {
        "job job-0: doorbell received",
        "job job-1: stolen (its doorbell is elsewhere)",
        "job job-0: held by another worker or ended",
        "job job-1: held by another worker or ended",
    } <= messages


def test_a_doorbell_for_no_such_job_is_dropped_and_said_so(
    jobs: RunJobs, process: GatedJobs, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="stories_adapters.kafka.consumer")
    jobs.submit(rung("gone-0"))
    jobs.submit(rung("job-1", offset=1))
    jobs.start_waiting()
    process.open("gone-0", "job-1")
    finished: list[Finished] = []
    while len(finished) < 2:
        finished += collect_one(jobs)
    assert {(f.task.job_id, f.error) for f in finished} == {("gone-0", None), ("job-1", None)}
    messages = [r.getMessage() for r in caplog.records]
    assert "job gone-0: no such job (its doorbell is dropped)" in messages
    assert "job gone-0: held by another worker or ended" not in messages
    assert "job job-1: held by another worker or ended" in messages
