"""Fault scenarios on the production stack (issue 15), shared by tests/e2e/test_faults.py
and bench/faults.py.

Every scenario runs the same batch: two `stories worker` processes (up to `JOBS` jobs at
a time each, so no job waits for a slot; one segment at a time per job) and a `stories
dispatcher`, on the `sleepy` backend (every call sleeps `SLEEP_SECONDS`), with `JOBS` jobs
of `PICTURES` segments that each carry a webhook URL. The fault hits once every job is
running and has a segment done. The processes reach PostgreSQL and S3 through fault
proxies; the test process observes the services directly.

Then `check` asserts what must hold after any fault: every job SUCCEEDED, with the
attempts expected, every segment done, no duplicate asset row or object (exactly one
object per asset in the bucket, of the asset's size), every webhook delivered (a repeat
only with a higher Stories-Attempt), as many dead letters as expected (none because a
dependency was down), each outage logged once each way by the processes that saw it, and
the recovery within `BOUND_SECONDS`.

Recovery: seconds from the fault's end (proxy restored, broker listening, new dispatcher
started) until the last job SUCCEEDED, minus the work that job still had to do at that
moment (its unfinished segments, at their no-fault pace): the delay the fault added after
it ended. Failures raise AssertionError with the processes' log tails.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import psycopg
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from minio import Minio
from sqlalchemy import text
from sqlalchemy.engine import make_url

from stories.v1 import queue_pb2
from stories_core.services.submit import JobRequest
from stories_core.services.webhooks import ATTEMPT_HEADER, ID_HEADER
from tests.e2e.stack import ProductionStack, Proxies, RestartableTansu, WebhookReceiver
from tests.faultproxy import FaultProxy

SLEEP_SECONDS = 0.4
"""Each sleepy backend call; a segment's audio and image chains (two calls each) run side
by side, so a segment takes about 2 x SLEEP_SECONDS."""
SEGMENT_SECONDS = 2 * SLEEP_SECONDS
JOBS = 4
"""Every job is running when the fault hits: each worker has a slot for every job (a
doorbell never waits behind another job, whichever partition it lands on)."""
PICTURES = 4
BROKER_PICTURES = 6
"""Segments of the broker-restart batch's jobs, so they still run when the broker is back."""
LOG_GRACE_SECONDS = 15.0
"""How long after the checks a process that logged a dependency unreachable may take to
log it back (a process that had nothing to do with it may notice late)."""
BOUND_SECONDS = 30.0
"""Issue 15: jobs running when an outage begins finish within 30 s of its end; the outbox
drains within 30 s of the broker's return."""
OUTAGE_SECONDS = 30.0
RESTART_SECONDS = 2.0
"""How long a restarting database refuses connections."""
MAX_OUTAGE_LINES = 4
"""Lines mentioning "unreachable" a process may log for one outage (one is the rule)."""
MAX_ERROR_LINES = 10
"""ERROR lines (and librdkafka errors) a process may log in a whole scenario: not one per
failed attempt."""
MAX_WARNING_LINES = 30
"""WARNING lines and worse a process may log in a whole scenario (a few per job at most):
repeated failures are counted, not printed one per attempt."""
WEBHOOK_TIMEOUT_SECONDS = 3.0
"""STORIES_WEBHOOK_TIMEOUT_SECONDS in the dispatcher-SIGKILL scenario: a delivery claimed
by the killed dispatcher is due again after its claim (this + 30 s)."""

DATABASE, OBJECT_STORE, BROKER = "database", "object store", "Kafka broker"


@dataclass
class Outcome:
    """What a scenario measured: `recovery` seconds against `bound`, and notes."""

    fault: str
    recovery: float
    bound: float = BOUND_SECONDS
    notes: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        extra = "".join(f", {k} {v}" for k, v in self.notes.items())
        return (
            f"recovery after {self.fault}: {self.recovery:.1f} s (bound {self.bound:.0f} s{extra})"
        )


@dataclass
class Scenario:
    """One fault scenario's stack, proxies, webhook receiver and (for the broker restart)
    broker of its own; `run_*` functions below drive it."""

    stack: ProductionStack
    proxies: Proxies
    receiver: WebhookReceiver
    broker: RestartableTansu | None = None
    job_ids: list[str] = field(default_factory=list)
    finished_at: dict[str, float] = field(default_factory=dict)
    """job id -> time.monotonic() when the test first saw it SUCCEEDED."""
    verbose: bool = True
    """Print the recovery figure as soon as it is measured (before the checks)."""
    outcome: Outcome | None = None
    """The figure measured, kept even when a check after it fails."""

    created: float = field(default_factory=time.monotonic)

    def phase(self, what: str) -> None:
        """A progress line (verbose only): seconds since the scenario was made, and what."""
        if self.verbose:
            print(f"  [{time.monotonic() - self.created:5.1f} s] {what}", flush=True)

    def measured(self, outcome: Outcome) -> Outcome:
        self.outcome = outcome
        if self.verbose:
            print(f"\n{outcome.line()}", flush=True)
        return outcome

    # --- driving the stack ------------------------------------------------------------

    def worker_env(self) -> dict[str, str]:
        return {
            "STORIES_SLEEPY_SECONDS": str(SLEEP_SECONDS),
            "STORIES_MAX_CONCURRENT_SEGMENTS": "1",
            "STORIES_WORKER_CONCURRENCY": str(JOBS),
        }

    def start(self, **dispatcher_env: str) -> None:
        """Two workers and a dispatcher; returns once both workers have partitions."""
        self.stack.start("worker-1", "worker", **self.worker_env())
        self.stack.start("worker-2", "worker", **self.worker_env())
        self.stack.start("dispatcher", "dispatcher", **dispatcher_env)
        for name in ("worker-1", "worker-2"):
            self.stack.wait_for_log(name, "assigned partitions [", timeout=60)
        self.stack.wait_for_log("dispatcher", "dispatcher started", timeout=60)
        self.phase("workers have partitions")

    def submit(self, count: int = JOBS, pictures: int = PICTURES) -> list[str]:
        submit_job = self.stack.application.use_cases.submit_job()
        ids = []
        for _ in range(count):
            run = uuid.uuid4().hex[:8]
            story = " ".join(f"Sentence {n} of the slow story {run}." for n in range(pictures))
            request = JobRequest(
                story, "educational", pictures, backend="sleepy", webhook_url=self.receiver.url
            )
            ids.append(submit_job(request).id)
        self.job_ids.extend(ids)
        return ids

    def start_batch(self, pictures: int = PICTURES, **dispatcher_env: str) -> None:
        """Start the processes, submit the batch, and return once every job is running
        and has a segment done (so the fault hits each mid-run)."""
        self.start(**dispatcher_env)
        self.submit(pictures=pictures)
        self.wait_until(
            lambda: all(
                state == "running" and done >= 1
                for state, _, done in self.snapshot(self.job_ids).values()
            ),
            "every job running with a segment done",
            timeout=60,
        )
        self.phase("every job running with a segment done: the fault begins")

    # --- observing (directly, never through the proxies) -------------------------------

    def query(self, sql: str, **parameters: object) -> list[tuple]:
        """Rows of a query on the test database, retried while a terminated connection
        is replaced (the database-restart scenario ends the test's connections too)."""
        engine = self.stack.application.persistence.engine()
        for attempt in range(20):
            try:
                with engine.connect() as connection:
                    return [tuple(row) for row in connection.execute(text(sql), parameters)]
            except Exception:
                if attempt == 19:
                    raise
                engine.dispose()
                time.sleep(0.1)
        raise AssertionError("unreachable")

    def snapshot(self, job_ids: Iterable[str]) -> dict[str, tuple[str, int, int]]:
        """job id -> (state, attempt, segments done)."""
        ids = list(job_ids)
        rows = self.query(
            "SELECT j.id, j.state, j.attempt, "
            "(SELECT count(*) FROM segments s WHERE s.job_id = j.id AND s.state = 'succeeded')"
            " FROM jobs j WHERE j.id = ANY(:ids)",
            ids=ids,
        )
        return {row[0]: (row[1], row[2], row[3]) for row in rows}

    def remaining_work(self) -> dict[str, float]:
        """job id -> seconds of work it has left, at the no-fault pace: its unfinished
        segments (one whose calls ended during the outage, waiting only to be recorded,
        counts whole) and its planning call if it has no segments yet. Steps lost to the
        fault and waits for a free slot are not counted."""
        remaining = {}
        for job_id in self.job_ids:
            job = self.stack.job(job_id)
            if job.state.value == "succeeded":
                remaining[job_id] = 0.0
                continue
            done = sum(1 for s in job.segments if s.state.value == "succeeded")
            planning = 0.0 if job.segments else SLEEP_SECONDS
            remaining[job_id] = planning + (job.pictures - done) * SEGMENT_SECONDS
        return remaining

    def wait_until(self, done: Callable[[], bool], what: str, timeout: float) -> float:
        """Poll `done` every 0.1 s (noting jobs as they succeed, failing at once when one
        fails); time.monotonic() when it held."""
        deadline = time.monotonic() + timeout
        while True:
            self._note_finished()
            if done():
                return time.monotonic()
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout:.0f} s: {what}\n{self.report()}")
            time.sleep(0.1)

    def _note_finished(self) -> None:
        now = time.monotonic()
        for job_id, (state, _, _) in self.snapshot(self.job_ids).items():
            if state in ("failed", "cancelled"):
                job = self.stack.job(job_id)
                raise AssertionError(
                    f"job {job_id} {state}: {job.error!r}\n{self.report()}"
                )  # a dependency outage must be a pause, not a failure
            if state == "succeeded":
                self.finished_at.setdefault(job_id, now)

    def wait_for_jobs(self, timeout: float = 120) -> float:
        """Until every job SUCCEEDED; time.monotonic() when the last one was seen."""
        self.wait_until(
            lambda: len(self.finished_at) == len(self.job_ids), "every job SUCCEEDED", timeout
        )
        last = max(self.finished_at.values())
        self.phase(f"every job SUCCEEDED, the last at {last - self.created:.1f} s")
        return last

    def recovery(self, ended: float, remaining: dict[str, float]) -> float:
        """Seconds after `ended` that the jobs finished beyond the work they had left (0
        when none was late: a segment whose calls ended during the outage finishes sooner
        than a whole one)."""
        late = max(self.finished_at[j] - ended - remaining.get(j, 0.0) for j in self.job_ids)
        return max(0.0, late)

    def unsent_outbox_rows(self) -> int:
        return self.query("SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0]

    def report(self) -> str:
        """The jobs' states and every process's log tail, for a failure message."""
        states = self.snapshot(self.job_ids)
        logs = "\n".join(
            f"--- {name}\n{self.stack.log(name)[-2500:]}" for name in self.stack.processes
        )
        return f"jobs (state, attempt, segments done): {states}\n{logs}"

    def log_lines(self, name: str) -> list[str]:
        return self.stack.log(name).splitlines()

    # --- the checks --------------------------------------------------------------------

    def check(
        self,
        *,
        attempts: Iterable[int] = (1,),
        dead_letters: int = 0,
        outage: str | None = None,
        every_process_sees: Iterable[str] = (),
        some_process_sees: bool = True,
    ) -> None:
        """Everything that must hold after any fault (see the module's docstring).

        `attempts`: the attempt numbers allowed. `dead_letters`: messages expected on the
        DLQ topic. `outage`: the dependency that was out; every process that logged it
        unreachable logs it back, `every_process_sees` (process names) must have, and
        (`some_process_sees`) at least one process did."""
        self.phase("checking")
        self.check_jobs(set(attempts))
        self.check_objects()
        self.check_webhooks()
        self.phase("webhooks checked")
        found = len(read_dead_letters(self.stack))
        assert found == dead_letters, (
            f"{found} messages on the dead-letter topic, expected {dead_letters}\n{self.report()}"
        )
        self.phase("dead letters counted")
        self.check_logs(outage, set(every_process_sees), some_process_sees)

    def check_jobs(self, attempts: set[int]) -> None:
        for job_id in self.job_ids:
            job = self.stack.job(job_id)
            assert job.state.value == "succeeded", f"job {job_id} is {job.state}"
            assert job.attempt in attempts, (
                f"job {job_id} ran {job.attempt} times, expected one of {sorted(attempts)}\n"
                f"{self.report()}"
            )
            assert len(job.segments) == job.pictures
            assert all(s.state.value == "succeeded" for s in job.segments), job.segments
            assets = [a for s in job.segments for a in s.assets]
            assert len(assets) == 2 * job.pictures, f"job {job_id}: {len(assets)} assets"
            assert len({a.id for a in assets}) == len(assets), f"job {job_id}: repeated ids"
            assert len({a.key for a in assets}) == len(assets), f"job {job_id}: repeated keys"
        rows = self.query(
            "SELECT job_id, count(*), count(DISTINCT id), count(DISTINCT (segment_id, kind))"
            " FROM assets WHERE job_id = ANY(:ids) GROUP BY job_id",
            ids=self.job_ids,
        )
        for job_id, count, ids, slots in rows:
            assert count == ids == slots, f"job {job_id}: {count} asset rows, {slots} distinct"

    def check_objects(self) -> None:
        """Exactly one object per asset under each job's prefix, of the asset's size."""
        env = self.stack.env
        client = Minio(
            env["STORIES_S3_ENDPOINT"].split("://", 1)[1],
            access_key=env["STORIES_S3_ACCESS_KEY"],
            secret_key=env["STORIES_S3_SECRET_KEY"],
            secure=False,
            region="us-east-1",
        )
        blobs = self.stack.application.storage.blobs()
        for job_id in self.job_ids:
            job = self.stack.job(job_id)
            prefix = f"tenants/{job.tenant}/jobs/{job_id}/"
            listed = Counter(
                o.object_name
                for o in client.list_objects(env["STORIES_S3_BUCKET"], prefix, recursive=True)
            )
            assets = {a.key: a for s in job.segments for a in s.assets}
            assert set(listed) == set(assets) and set(listed.values()) == {1}, (
                f"job {job_id}: objects {sorted(listed)} for assets {sorted(assets)}"
            )
            for key, asset in assets.items():
                assert blobs.size(key) == asset.size, f"{key}: {blobs.size(key)} != {asset.size}"

    def webhooks_by_job(self) -> dict[str, list]:
        by_job: dict[str, list] = defaultdict(list)
        for webhook in list(self.receiver.received):
            by_job[json.loads(webhook.body)["data"]["job_id"]].append(webhook)
        return by_job

    def wait_for_webhooks(self, timeout: float = BOUND_SECONDS) -> float:
        """Until every job's webhook delivery is recorded as delivered, and the receiver
        has had a POST for each job; time.monotonic() then."""

        def delivered() -> bool:
            rows = self.query(
                "SELECT count(*) FROM webhook_deliveries"
                " WHERE job_id = ANY(:ids) AND state = 'succeeded'",
                ids=self.job_ids,
            )
            by_job = self.webhooks_by_job()
            return rows[0][0] == len(self.job_ids) and all(j in by_job for j in self.job_ids)

        return self.wait_until(delivered, "every job's webhook delivered", timeout)

    def check_webhooks(self) -> None:
        """One delivery id per job; a POST repeated (at least once) carries a higher
        Stories-Attempt each time."""
        self.wait_for_webhooks()
        by_job = self.webhooks_by_job()
        assert set(by_job) >= set(self.job_ids), f"no webhook for {set(self.job_ids) - set(by_job)}"
        for job_id in self.job_ids:
            posts = sorted(by_job[job_id], key=lambda w: w.arrived)
            ids = {w.header(ID_HEADER) for w in posts}
            assert len(ids) == 1 and None not in ids, f"job {job_id}: delivery ids {ids}"
            numbers = [int(w.header(ATTEMPT_HEADER) or 0) for w in posts]
            assert numbers == sorted(set(numbers)) and numbers[0] >= 1, (
                f"job {job_id}: POSTed {len(posts)} times with Stories-Attempt {numbers}"
            )

    def check_logs(
        self,
        outage: str | None,
        every_process_sees: set[str],
        some_process_sees: bool,
        grace_seconds: float = LOG_GRACE_SECONDS,
    ) -> None:
        """One line when a dependency becomes unreachable and one when it is back, per
        process that saw it (waiting up to `grace_seconds` for the last); never a flood of
        error lines."""
        if outage is not None:
            deadline = time.monotonic() + grace_seconds
            while time.monotonic() < deadline and not self._all_back(outage):
                time.sleep(0.5)
        saw = []
        for name in self.stack.processes:
            lines = self.log_lines(name)
            errors = [line for line in lines if _level(line) >= logging.ERROR]
            assert len(errors) <= MAX_ERROR_LINES, (
                f"{name} logged {len(errors)} error lines, e.g.:\n" + "\n".join(errors[:5])
            )
            warnings = [line for line in lines if _level(line) >= logging.WARNING]
            assert len(warnings) <= MAX_WARNING_LINES, (
                f"{name} logged {len(warnings)} warnings or worse, e.g.:\n"
                + "\n".join(warnings[:: max(1, len(warnings) // 8)])
            )
            for dependency in (DATABASE, OBJECT_STORE, BROKER):
                down = [line for line in lines if f"{dependency} unreachable" in line]
                back = [line for line in lines if f"{dependency} back after" in line]
                assert len(down) <= MAX_OUTAGE_LINES, (
                    f"{name} logged {dependency} unreachable {len(down)} times"
                )
                if dependency != outage:
                    continue
                if down:
                    saw.append(name)
                    assert back, f"{name} logged {dependency} unreachable, never back:\n{down}"
                if name in every_process_sees:
                    assert down and back, (
                        f"{name} did not log '{dependency} unreachable' and "
                        f"'{dependency} back after':\n{self.stack.log(name)[-3000:]}"
                    )
        if outage is not None and some_process_sees:
            assert saw, f"no process logged '{outage} unreachable'\n{self.report()}"

    def _all_back(self, dependency: str) -> bool:
        """Every process that logged `dependency` unreachable has logged it back since."""
        for name in self.stack.processes:
            log = self.stack.log(name)
            down = log.rfind(f"{dependency} unreachable")
            if down >= 0 and log.rfind(f"{dependency} back after") < down:
                return False
        return True


_SYSLOG_LEVELS = {"0": 50, "1": 50, "2": 50, "3": 40, "4": 30, "5": 20, "6": 20, "7": 10}


def _level(line: str) -> int:
    """The logging level of a line of our JSON log, or of librdkafka's own log ("%3|...",
    a syslog level); 0 for anything else."""
    if line.startswith("%") and "|" in line:
        return _SYSLOG_LEVELS.get(line[1:2], 0)
    try:
        record = json.loads(line)
    except ValueError:
        return 0
    if not isinstance(record, dict):
        return 0
    return logging.getLevelNamesMapping().get(str(record.get("levelname")), 0)


# --- Kafka helpers ---------------------------------------------------------------------


def read_dead_letters(stack: ProductionStack, timeout: float = 15) -> list[Message]:
    """Every message on the stack's dead-letter topic, read from the beginning of each
    partition to its end (no consumer group: assigned directly)."""
    config = stack.kafka_config()
    admin = AdminClient({"bootstrap.servers": config.brokers})
    topic = admin.list_topics(timeout=10).topics.get(config.dlq_topic)
    if topic is None or topic.error is not None:
        return []
    reader = Consumer(
        {
            "bootstrap.servers": config.brokers,
            "group.id": f"dlq-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": config.fetch_wait_max_ms,
        }
    )
    partitions = [TopicPartition(config.dlq_topic, p, 0) for p in topic.partitions]
    reader.assign(partitions)
    at_end: set[int] = set()
    messages = []
    deadline = time.monotonic() + timeout
    try:
        while len(at_end) < len(partitions):
            if time.monotonic() > deadline:
                raise AssertionError(f"the DLQ topic was not read to its end in {timeout} s")
            message = reader.poll(0.2)
            if message is None:
                continue
            error = message.error()
            if error is not None and error.code() == KafkaError._PARTITION_EOF:
                at_end.add(message.partition())
            elif error is None:
                messages.append(message)
                at_end.discard(message.partition())
    finally:
        reader.close()
    return messages


def topic_partitions(brokers: str, topics: Iterable[str]) -> dict[str, int | None]:
    """topic -> its partition count on the broker (None: it does not exist)."""
    existing = AdminClient({"bootstrap.servers": brokers}).list_topics(timeout=10).topics
    return {
        name: len(existing[name].partitions)
        if name in existing and existing[name].error is None
        else None
        for name in topics
    }


# --- the scenarios ---------------------------------------------------------------------


def run_database_restart(scenario: Scenario) -> Outcome:
    """Every backend connection of the test database terminated (as a restart does), the
    processes' connections cut and refused for RESTART_SECONDS. Jobs pause: attempt 1."""
    stack, proxy = scenario.stack, scenario.proxies.database
    scenario.start_batch()
    database = make_url(stack.env["STORIES_DATABASE_URL"])
    with psycopg.connect(
        host=database.host, port=database.port, user=database.username, dbname="postgres",
        autocommit=True, connect_timeout=5,
    ) as admin:  # fmt: skip
        terminated = admin.execute(  # the clients read "terminating connection" (57P01)
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (database.database,),
        ).fetchone()
    proxy.refuse()  # and the server is down while it restarts
    time.sleep(RESTART_SECONDS)
    proxy.restore()
    restored = time.monotonic()
    scenario.phase("restored")
    remaining = scenario.remaining_work()
    scenario.wait_for_jobs()
    outcome = Outcome("a database restart", scenario.recovery(restored, remaining))
    outcome.notes["backends terminated"] = str(terminated[0] if terminated else 0)
    scenario.measured(outcome)
    scenario.check(attempts=(1,), outage=DATABASE, every_process_sees=("dispatcher",))
    return outcome


def run_database_outage(scenario: Scenario) -> Outcome:
    """The database unreachable for OUTAGE_SECONDS (connections cut, new ones refused).
    Its leases (15 s) run out meanwhile, so a job may move once: attempt 1 or 2."""
    outcome = _outage(scenario, scenario.proxies.database, "database")
    scenario.check(
        attempts=(1, 2),
        outage=DATABASE,
        every_process_sees=("worker-1", "worker-2", "dispatcher"),
    )
    return outcome


def run_object_store_outage(scenario: Scenario) -> Outcome:
    """S3 unreachable for OUTAGE_SECONDS. The database is up, so leases hold: attempt 1."""
    outcome = _outage(scenario, scenario.proxies.object_store, "object-store")
    scenario.check(attempts=(1,), outage=OBJECT_STORE)
    return outcome


def _outage(scenario: Scenario, proxy: FaultProxy, what: str) -> Outcome:
    """Start the batch, refuse through `proxy` for OUTAGE_SECONDS, restore, and measure
    the recovery once every job has ended (the caller checks the rest)."""
    scenario.start_batch()
    proxy.refuse()
    time.sleep(OUTAGE_SECONDS)
    proxy.restore()
    restored = time.monotonic()
    scenario.phase("restored")
    remaining = scenario.remaining_work()
    scenario.wait_for_jobs()
    return scenario.measured(
        Outcome(
            f"a {OUTAGE_SECONDS:.0f}-second {what} outage", scenario.recovery(restored, remaining)
        )
    )


def run_broker_restart(scenario: Scenario) -> Outcome:
    """The scenario's own broker (memory storage) killed and started again on the same
    port, empty; two more jobs are submitted while it is down. The topics come back with
    the product's partition counts and the outbox drains within BOUND_SECONDS of the
    broker's return; jobs run on: attempt 1."""
    broker = scenario.broker
    assert broker is not None, "the broker-restart scenario needs a broker of its own"
    stack = scenario.stack
    stack.use_broker(broker.bootstrap)
    scenario.start_batch(pictures=BROKER_PICTURES)
    broker.kill()
    scenario.submit(2, pictures=2)  # their doorbells wait in the outbox
    back = broker.start()
    scenario.phase("the broker is back, empty")
    remaining = scenario.remaining_work()
    unsent = scenario.unsent_outbox_rows()
    # The relay has caught up once no row is left unsent: the two jobs' rows are there
    # from the start, so this needs it to work again. (The jobs go on making rows; the
    # outbox must be empty again once they have all ended.)
    caught_up = scenario.wait_until(
        lambda: scenario.unsent_outbox_rows() == 0,
        f"the outbox ({unsent} unsent rows at the broker's return) drained",
        timeout=BOUND_SECONDS + 30,
    )
    scenario.phase(f"the outbox drained ({unsent} rows unsent at the broker's return)")
    scenario.wait_for_jobs()
    drained = scenario.wait_until(
        lambda: scenario.unsent_outbox_rows() == 0,
        "the outbox drained once every job had ended",
        timeout=BOUND_SECONDS,
    )
    config = stack.kafka_config()
    expected = config.partitions()
    found = topic_partitions(config.brokers, expected)
    outcome = Outcome(
        "a broker restart (memory storage)",
        max(caught_up - back, scenario.recovery(back, remaining)),
    )
    outcome.notes["outbox drained after"] = f"{caught_up - back:.1f} s"
    outcome.notes["unsent rows then"] = str(unsent)
    outcome.notes["last job and outbox done after"] = f"{drained - back:.1f} s"
    scenario.measured(outcome)
    for topic in (config.jobs_topic, config.events_topic):
        assert found[topic] == expected[topic], (
            f"topic {topic} has {found[topic]} partitions after the restart, "
            f"expected {expected[topic]}\n{scenario.report()}"
        )
    assert found[config.dlq_topic] in (None, expected[config.dlq_topic]), found
    # Dead letters: none since the restart at least (the topic is new). A process whose
    # clients reconnected at once had no failed call to tell; one that did tells both.
    scenario.check(attempts=(1,), outage=BROKER)
    return outcome


def run_dispatcher_sigkill(scenario: Scenario) -> Outcome:
    """The dispatcher SIGKILLed while it waits on webhook POSTs (the receiver answers
    after 2 s) and relays the outbox of jobs still running: two short jobs end first, two
    longer ones run on. Then a new dispatcher. The POSTs it had in flight are made again
    once their claims run out, with a higher Stories-Attempt; the other jobs' webhooks
    are delivered and the outbox drained within BOUND_SECONDS of the new dispatcher's
    start (recovery: the latest of those, beyond the work the jobs still had)."""
    stack, receiver = scenario.stack, scenario.receiver
    receiver.delay_seconds = 2.0
    dispatcher_env = {"STORIES_WEBHOOK_TIMEOUT_SECONDS": str(WEBHOOK_TIMEOUT_SECONDS)}
    scenario.start(**dispatcher_env)
    scenario.submit(JOBS // 2, pictures=2)
    scenario.submit(JOBS - JOBS // 2, pictures=PICTURES)
    scenario.wait_until(lambda: bool(receiver.received), "a webhook POST", timeout=60)
    time.sleep(0.3)  # the POST (and its neighbours) still wait for their answers
    assert stack.stop("dispatcher", signal.SIGKILL) == -signal.SIGKILL
    killed = time.monotonic()
    in_flight = {w.header(ID_HEADER) for w in list(receiver.received)}
    receiver.delay_seconds = 0.0
    running = [j for j, (state, _, _) in scenario.snapshot(scenario.job_ids).items()
               if state != "succeeded"]  # fmt: skip
    assert running, (
        f"every job ended before the SIGKILL: nothing left to relay\n{scenario.report()}"
    )
    time.sleep(1.0)
    stack.start("dispatcher-2", "dispatcher", **dispatcher_env)
    started = time.monotonic()
    scenario.phase(f"dispatcher SIGKILLed ({len(running)} jobs running), dispatcher-2 started")
    remaining = scenario.remaining_work()
    scenario.wait_for_jobs()

    def others_delivered() -> bool:
        rows = scenario.query(
            "SELECT id FROM webhook_deliveries WHERE job_id = ANY(:ids) AND state = 'succeeded'",
            ids=scenario.job_ids,
        )
        return len({r[0] for r in rows} | in_flight) == len(scenario.job_ids) and (
            scenario.unsent_outbox_rows() == 0
        )

    settled = scenario.wait_until(
        others_delivered, "the outbox drained and the other webhooks delivered", 60
    )
    claim = WEBHOOK_TIMEOUT_SECONDS + 30  # WebhookSettings.claim_seconds
    scenario.wait_for_webhooks(timeout=claim + BOUND_SECONDS)
    redelivered = time.monotonic()
    posted = scenario.webhooks_by_job()
    late = [
        min(w.arrived for w in posted[job_id]) - started - remaining[job_id]
        for job_id in scenario.job_ids
        if not {w.header(ID_HEADER) for w in posted[job_id]} & in_flight
    ]
    recovery = max(0.0, scenario.recovery(started, remaining), *late)
    outcome = Outcome("a dispatcher SIGKILL", recovery)
    outcome.notes["POSTs in flight at the SIGKILL"] = str(len(in_flight))
    outcome.notes["outbox and other webhooks done after"] = f"{settled - started:.1f} s"
    outcome.notes["in-flight POSTs repeated after"] = f"{redelivered - killed:.1f} s"
    scenario.measured(outcome)
    by_id: dict[str | None, list[int]] = defaultdict(list)
    for webhook in receiver.received:
        by_id[webhook.header(ID_HEADER)].append(int(webhook.header(ATTEMPT_HEADER) or 0))
    for delivery_id in in_flight:
        assert len(by_id[delivery_id]) >= 2, (
            f"delivery {delivery_id} was in flight at the SIGKILL and never POSTed again: "
            f"{by_id[delivery_id]}"
        )
    scenario.check(attempts=(1,))
    return outcome


POISON_BYTES = b"\xff\xff\xff\xff\x0f not a stories.v1.JobMessage"


def run_poison_messages(scenario: Scenario) -> Outcome:
    """Three bad doorbells on the jobs topic while the batch runs: bytes that are not a
    JobMessage and a JobMessage whose job id holds a NUL byte go to the DLQ with the
    dlq-* headers (no SQL, no raw bytes); one for a job that does not exist is dropped,
    logged as such. The workers go on: every real job succeeds, attempt 1."""
    stack = scenario.stack
    scenario.start_batch()
    config = stack.kafka_config()
    nul_id = str(uuid.uuid4())[:18] + "\x00" + str(uuid.uuid4())[19:]
    ghost_id = str(uuid.uuid4())
    poison = [
        POISON_BYTES,
        queue_pb2.JobMessage(job_id=nul_id, trace_id="poison").SerializeToString(),
        queue_pb2.JobMessage(job_id=ghost_id, trace_id="ghost").SerializeToString(),
    ]
    producer = Producer({"bootstrap.servers": config.brokers})
    for partition, value in enumerate(poison):
        producer.produce(config.jobs_topic, value, partition=partition % config.jobs_partitions)
    assert producer.flush(10) == 0, "the poison messages were not produced"
    sent = time.monotonic()
    dead = []

    def both_dead() -> bool:
        dead[:] = read_dead_letters(stack)
        return len(dead) >= 2

    scenario.wait_until(both_dead, "two messages on the dead-letter topic", 30)
    outcome = scenario.measured(Outcome("poison messages", time.monotonic() - sent))
    scenario.wait_for_jobs()
    assert {m.value() for m in dead} == set(poison[:2]), [m.value() for m in dead]
    for message in dead:
        headers = dict(message.headers() or [])
        assert {"dlq-error-class", "dlq-error-message", "dlq-stage"} <= set(headers), headers
        assert headers["dlq-stage"] == b"decode", headers
        assert headers["dlq-original-topic"] == config.jobs_topic.encode(), headers
        for name, value in headers.items():
            shown = value.decode("ascii", errors="replace")
            assert all(32 <= byte < 127 for byte in value), f"raw bytes in {name}: {value!r}"
            for sql in ("SELECT", "UPDATE", "INSERT", " FROM ", " WHERE ", "[SQL", "psycopg"):
                assert sql not in shown, f"SQL text in {name}: {shown}"
            assert POISON_BYTES not in value and nul_id.encode() not in value, (name, value)
    ghost_lines = [
        line for w in ("worker-1", "worker-2") for line in scenario.log_lines(w) if ghost_id in line
    ]
    assert any(re.search("no such job|does not exist|not found", x) for x in ghost_lines), (
        ghost_lines
    )
    assert not any("held by another worker" in line for line in ghost_lines), ghost_lines
    scenario.check(attempts=(1,), dead_letters=2)
    return outcome


SCENARIOS: dict[str, Callable[[Scenario], Outcome]] = {
    "database-restart": run_database_restart,
    "database-outage": run_database_outage,
    "broker-restart": run_broker_restart,
    "object-store-outage": run_object_store_outage,
    "dispatcher-sigkill": run_dispatcher_sigkill,
    "poison-message": run_poison_messages,
}
"""Name -> scenario; "broker-restart" needs `Scenario.broker`."""
