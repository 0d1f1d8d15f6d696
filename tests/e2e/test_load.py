"""Load on the production stack: many CreateJob calls at once through `stories serve` (the
API alone), run by two `stories worker` processes and a `stories dispatcher`, on
PostgreSQL, Kafka (Tansu) and S3 (moto). Every distinct request_id makes exactly one job,
a repeated request_id (an idempotent retry, sent again after the answer or at the same
time as the first) answers with the same job, and every job runs once and succeeds once.

The helpers here also drive `bench/load.py`, which prints the figures (creates per second,
latency, the time to drain the batch); this test asserts no timings.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import grpc
import pytest
from sqlalchemy import Engine, text

from stories.v1 import common_pb2, stories_pb2, stories_pb2_grpc
from tests.e2e.conftest import STORIES
from tests.e2e.stack import ProductionStack, sleepy_site, stack

__all__ = ["sleepy_site", "stack"]  # fixtures
pytestmark = pytest.mark.slow

LISTENING = re.compile(r"stories API listening on [\d.]+:(\d+)")
RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
}
TERMINAL = ("succeeded", "failed", "cancelled")


def start_api(stack: ProductionStack, name: str = "api", **env: str) -> str:
    """`stories serve` on a free port (Kafka is configured: the API alone, no workers
    inside), with the per-key rate limit off (one key sends the whole batch); its address."""
    stack.start(name, "serve", STORIES_GRPC_PORT="0", STORIES_RATE_LIMIT_PER_SECOND="0", **env)
    stack.wait_for_log(name, "stories API listening on", timeout=60)
    found = LISTENING.search(stack.log(name))
    assert found, stack.log(name)
    return f"127.0.0.1:{found[1]}"


def create_key(stack: ProductionStack, tenant: str) -> str:
    """An API key for `tenant`, made as an operator makes one (`stories keys create`)."""
    made = subprocess.run(
        [str(STORIES), "keys", "create", "--tenant", tenant],
        env=stack.env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return made.stdout.strip()


def requests(
    count: int, run: str, *, backend: str = "local", pictures: int = 2
) -> list[stories_pb2.CreateJobRequest]:
    """`count` small distinct requests (two sentences per picture, no audio), each with its
    own request_id."""
    return [
        stories_pb2.CreateJobRequest(
            text=" ".join(
                f"Story {n} of run {run}, part {p + 1}: the tide rises twice a day. "
                f"The Moon pulls the sea {n % 7 + 2} metres up the beach."
                for p in range(pictures)
            ),
            content_type="educational",
            pictures=pictures,
            audio_type=common_pb2.AUDIO_TYPE_NONE,
            backend=backend,
            request_id=f"{run}-{n:05d}",
        )
        for n in range(count)
    ]


Task = list[tuple[stories_pb2.CreateJobRequest, bool]]
"""Calls one thread makes back to back: (request, whether it repeats an earlier one)."""


def with_repeats(batch: list[stories_pb2.CreateJobRequest], every: int = 20) -> list[Task]:
    """One task per request; every `every`th request is sent twice with its request_id,
    alternately again by the same thread once answered (a client retrying after a lost
    answer) and by another thread at the same moment (a retry racing the first call)."""
    tasks: list[Task] = []
    for n, request in enumerate(batch):
        if n % every != every - 1:
            tasks.append([(request, False)])
        elif (n // every) % 2 == 0:
            tasks.append([(request, False), (request, True)])
        else:
            tasks.extend([[(request, False)], [(request, True)]])
    return tasks


@dataclass
class Answer:
    request_id: str
    repeat: bool
    started: float  # time.time()
    seconds: float  # the first try's start to the answer, retries included
    job_id: str | None
    errors: list[str] = field(default_factory=list)  # "CODE: details" of each failed try


@dataclass
class Load:
    answers: list[Answer]
    started: float  # time.time() as the threads were released
    seconds: float  # until the last answer

    @property
    def errors(self) -> list[str]:
        return [f"{a.request_id}: {e}" for a in self.answers for e in a.errors]

    def latencies(self, *, repeats: bool = False) -> list[float]:
        return sorted(a.seconds for a in self.answers if a.job_id and a.repeat == repeats)


def call(
    stub: stories_pb2_grpc.StoryServiceStub,
    metadata: tuple[tuple[str, str], ...],
    request: stories_pb2.CreateJobRequest,
    repeat: bool,
    tries: int = 5,
) -> Answer:
    """CreateJob as a careful client calls it: a transient failure is tried again with the
    same request_id (after a short pause), and every failure is kept."""
    answer = Answer(request.request_id, repeat, time.time(), 0.0, None)
    begin = time.perf_counter()
    for attempt in range(tries):
        try:
            reply = stub.CreateJob(request, metadata=metadata, timeout=60)
        except grpc.RpcError as error:
            answer.errors.append(f"{error.code().name}: {error.details()}")
            if error.code() not in RETRYABLE:
                break
            time.sleep(0.2 * 2**attempt)
        else:
            answer.job_id = reply.job.id
            break
    answer.seconds = time.perf_counter() - begin
    return answer


def fire(target: str, key: str, tasks: list[Task], threads: int) -> Load:
    """Run the tasks from `threads` threads, each with its own channel (connected before
    the clock starts), all released at once."""
    metadata = (("authorization", f"Bearer {key}"),)
    channels = [grpc.insecure_channel(target) for _ in range(threads)]
    for channel in channels:
        grpc.channel_ready_future(channel).result(timeout=30)
    queue, lock = deque(tasks), threading.Lock()
    answers: list[Answer] = []
    release = threading.Barrier(threads + 1)

    def run(channel: grpc.Channel) -> None:
        stub = stories_pb2_grpc.StoryServiceStub(channel)
        release.wait()
        while True:
            with lock:
                if not queue:
                    return
                task = queue.popleft()
            for request, repeat in task:
                answers.append(call(stub, metadata, request, repeat))

    workers = [threading.Thread(target=run, args=(c,), daemon=True) for c in channels]
    for worker in workers:
        worker.start()
    release.wait()
    started, begin = time.time(), time.perf_counter()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - begin
    for channel in channels:
        channel.close()
    return Load(answers, started, seconds)


def sequential(target: str, key: str, batch: list[stories_pb2.CreateJobRequest]) -> Load:
    """The same calls one after another from one client (the idle server's latency)."""
    with grpc.insecure_channel(target) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        stub = stories_pb2_grpc.StoryServiceStub(channel)
        metadata = (("authorization", f"Bearer {key}"),)
        started, begin = time.time(), time.perf_counter()
        answers = [call(stub, metadata, request, False) for request in batch]
        return Load(answers, started, time.perf_counter() - begin)


def terminal_jobs(engine: Engine, tenant: str) -> int:
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT count(*) FROM jobs WHERE tenant = :t AND state = ANY(:s)"),
            {"t": tenant, "s": list(TERMINAL)},
        ).scalar_one()


def wait_until_drained(
    stack: ProductionStack, tenant: str, count: int, timeout: float = 600, poll: float = 0.1
) -> None:
    """Until `count` jobs of the tenant have ended (polling the database)."""
    engine = stack.application.persistence.engine()
    deadline = time.monotonic() + timeout
    while (done := terminal_jobs(engine, tenant)) < count:
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {n}\n{stack.log(n)[-3000:]}" for n in stack.processes)
            raise AssertionError(f"{done} of {count} jobs ended within {timeout} s:\n{logs}")
        time.sleep(poll)


@dataclass
class Batch:
    """What the database holds for one tenant's batch, and what the client was told."""

    jobs: int
    states: Counter[str]
    attempts: Counter[int]
    started_events: Counter[int]  # job.started events per job -> how many jobs
    terminal_events: Counter[int]  # job.succeeded/failed/cancelled events per job -> jobs
    assets_per_job: Counter[int]
    unsent_outbox: int
    first_created: float  # time.time()
    last_ended: float
    answered_jobs: int  # distinct job ids the client got
    unknown_answers: int  # answered job ids that are not the tenant's jobs
    repeats: int
    repeats_elsewhere: list[str]  # request ids whose repeat answered with another job

    def problems(self, expected: int, pictures: int) -> list[str]:
        wanted = {
            "jobs": (self.jobs, expected),
            "states": (dict(self.states), {"succeeded": expected}),
            "attempts": (dict(self.attempts), {1: expected}),
            "job.started events per job": (dict(self.started_events), {1: expected}),
            "terminal events per job": (dict(self.terminal_events), {1: expected}),
            "assets per job": (dict(self.assets_per_job), {pictures: expected}),
            "unsent outbox rows": (self.unsent_outbox, 0),
            "distinct job ids answered": (self.answered_jobs, expected),
            "answered ids not in the database": (self.unknown_answers, 0),
            "repeats answered with another job": (self.repeats_elsewhere, []),
        }
        return [
            f"{name}: {got} (want {want})" for name, (got, want) in wanted.items() if got != want
        ]


def inspect(engine: Engine, tenant: str, load: Load) -> Batch:
    """Read the batch back: jobs, their events in the outbox (the same transaction wrote
    them), assets; and compare with the answers."""
    per_job = text(
        """
        SELECT j.id, j.state, j.attempt, j.created_at, j.updated_at,
               (SELECT count(*) FROM outbox o WHERE o.topic = 'events' AND o.message_key = j.id
                  AND o.payload->>'kind' = 'job.started') AS started,
               (SELECT count(*) FROM outbox o WHERE o.topic = 'events' AND o.message_key = j.id
                  AND o.payload->>'kind' = ANY(:terminal)) AS ended,
               (SELECT count(*) FROM assets a WHERE a.job_id = j.id) AS assets
        FROM jobs j WHERE j.tenant = :tenant
        """
    )
    with engine.connect() as connection:
        rows = connection.execute(
            per_job, {"tenant": tenant, "terminal": [f"job.{s}" for s in TERMINAL]}
        ).all()
        unsent = connection.execute(
            text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        ).scalar_one()
    ids = {row.id for row in rows}
    first = {a.request_id: a.job_id for a in load.answers if not a.repeat}
    repeats = [a for a in load.answers if a.repeat]
    answered = {a.job_id for a in load.answers if a.job_id}
    return Batch(
        jobs=len(rows),
        states=Counter(row.state for row in rows),
        attempts=Counter(row.attempt for row in rows),
        started_events=Counter(row.started for row in rows),
        terminal_events=Counter(row.ended for row in rows),
        assets_per_job=Counter(row.assets for row in rows),
        unsent_outbox=unsent,
        first_created=min((row.created_at.timestamp() for row in rows), default=0.0),
        last_ended=max((row.updated_at.timestamp() for row in rows), default=0.0),
        answered_jobs=len(answered),
        unknown_answers=len(answered - ids),
        repeats=len(repeats),
        repeats_elsewhere=[a.request_id for a in repeats if a.job_id != first[a.request_id]],
    )


def wait_until_relayed(engine: Engine, timeout: float = 60) -> int:
    """Until the dispatcher has relayed every outbox row (or the timeout); the rows left."""
    deadline = time.monotonic() + timeout
    query = text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
    while True:
        with engine.connect() as connection:
            unsent = connection.execute(query).scalar_one()
        if unsent == 0 or time.monotonic() > deadline:
            return unsent
        time.sleep(0.1)


def start_workers(stack: ProductionStack, count: int = 2) -> None:
    """A dispatcher and `count` workers; returns once every worker has partitions."""
    stack.start("dispatcher", "dispatcher")
    for n in range(count):
        stack.start(f"worker-{n}", "worker")
    for n in range(count):
        stack.wait_for_log(f"worker-{n}", "assigned partitions [", timeout=60)


def test_concurrent_creates_with_distinct_request_ids_make_one_job_each_run_once(
    stack: ProductionStack,
) -> None:
    count, threads, pictures = 300, 50, 2
    target = start_api(stack)
    key = create_key(stack, "load")
    start_workers(stack)
    tasks = with_repeats(requests(count, "test", pictures=pictures))
    load = fire(target, key, tasks, threads)
    assert load.errors == []
    assert len(load.answers) == count + count // 20
    wait_until_drained(stack, "load", count, timeout=300)
    engine = stack.application.persistence.engine()
    wait_until_relayed(engine)
    batch = inspect(engine, "load", load)
    assert batch.repeats == count // 20
    assert batch.problems(count, pictures) == []
