"""Running jobs: up to `concurrency` at once on a thread pool, the rest waiting their turn.

Jobs run side by side so one slow job does not hold back every message behind it. A task
submitted while every slot is busy waits, in arrival order, until `start_waiting` finds a
slot free. A task's end is put on a queue by the pool's thread, so the consumer loop can
wait on it (`collect`) and wake as soon as a job ends.

This is the loop's processing strategy, in arroyo's sense: `submit`, `start_waiting` and
`collect` each time round, `join` then `release_running` at shutdown, `close` at the end.
It knows nothing of Kafka: the loop stores offsets and sends dead letters from what
`collect` returns. Every method is called from the consumer loop's thread.
"""

from __future__ import annotations

import logging
import queue
from collections import deque
from collections.abc import Collection
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from confluent_kafka import Message

from stories_adapters.kafka.consumer.offsets import Partition
from stories_core.errors import NotFound
from stories_core.model import Job

log = logging.getLogger(__name__)


class ProcessesJobs(Protocol):
    """What the worker runs (`stories_core.services.process.ProcessJob`)."""

    def __call__(self, job_id: str, traceparent: str = "") -> Job | None:
        """Run the job under a lease; None when another worker holds it or it has ended,
        NotFound when there is no such job. `traceparent`: the doorbell's W3C trace context."""
        ...

    def release(self, job_id: str) -> bool:
        """Give back a job this worker is running; False if it was not ours."""
        ...


@dataclass(frozen=True)
class Task:
    """A job to run, and the message that rang for it (None: stolen, no doorbell here)."""

    job_id: str
    trace_id: str
    message: Message | None = None
    traceparent: str = ""
    """The doorbell's W3C `traceparent` header ("" when it had none, or stolen)."""


class Finished(NamedTuple):
    """A task whose run returned (`error` None) or raised."""

    task: Task
    error: BaseException | None


class RunJobs:
    def __init__(self, process_job: ProcessesJobs, concurrency: int, *, name: str) -> None:
        self._process_job = process_job
        self._concurrency = concurrency
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix=name)
        self._waiting: deque[Task] = deque()
        self._running: dict[Future[None], Task] = {}
        self._finished: queue.SimpleQueue[Future[None]] = queue.SimpleQueue()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def free_slots(self) -> int:
        return self._concurrency - len(self._running)

    @property
    def running_job_ids(self) -> set[str]:
        return {task.job_id for task in self._running.values()}

    def submit(self, task: Task) -> None:
        """Queue a task; it starts at the next `start_waiting` with a slot free."""
        self._waiting.append(task)

    def start_waiting(self) -> None:
        while self._waiting and len(self._running) < self._concurrency:
            task = self._waiting.popleft()
            future = self._pool.submit(self._run, task)
            self._running[future] = task
            future.add_done_callback(self._finished.put)

    def collect(self, wait_seconds: float = 0) -> list[Finished]:
        """The tasks that ended since the last call, waiting up to `wait_seconds` for one
        when none has. A task given back by `release_running` is not reported."""
        try:
            future = self._finished.get(timeout=wait_seconds or None, block=wait_seconds > 0)
        except queue.Empty:
            return []
        finished = []
        while True:
            task = self._running.pop(future, None)  # None: released at shutdown
            if task is not None:
                finished.append(Finished(task, future.exception()))
            try:
                future = self._finished.get_nowait()
            except queue.Empty:
                return finished

    def drop_waiting(self, partitions: Collection[Partition]) -> None:
        """Forget the waiting tasks rung from these partitions (revoked: their next owner
        reads the messages again). Tasks already running go on."""
        self._waiting = deque(
            task
            for task in self._waiting
            if task.message is None
            or (task.message.topic(), task.message.partition()) not in partitions
        )

    def join(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the running tasks to end."""
        wait(list(self._running), timeout=timeout)

    def release_running(self) -> list[Task]:
        """Give back the jobs still running, so another worker resumes them now rather
        than when their leases expire (a released run stops at its next fenced write).
        Returns the tasks given back or found not ours; one that could not be released
        (the database is unreachable, say) waits for its lease to expire."""
        handed_back = []
        for future, task in list(self._running.items()):
            del self._running[future]
            try:
                released = self._process_job.release(task.job_id)
            except Exception:
                log.exception("job %s: could not be released; its lease will expire", task.job_id)
                continue
            how = "released" if released else "not ours"
            log.warning("job %s: %s at shutdown", task.job_id, how)
            handed_back.append(task)
        return handed_back

    def close(self) -> None:
        """Wait for every thread to end (released runs stop at their next fenced write)."""
        self._pool.shutdown(wait=True)

    def _run(self, task: Task) -> None:
        stolen = task.message is None
        how = "stolen (its doorbell is elsewhere)" if stolen else "doorbell received"
        log.info("job %s: %s", task.job_id, how, extra={"trace_id": task.trace_id})
        try:
            job = self._process_job(task.job_id, task.traceparent)
        except NotFound:
            log.warning("job %s: no such job (its doorbell is dropped)", task.job_id)
            return
        if job is None:
            log.info("job %s: held by another worker or ended", task.job_id)
        else:
            log.info("job %s: %s", task.job_id, job.state.value, extra={"trace_id": task.trace_id})
