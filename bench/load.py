"""Load benchmark (issue 15): 1,000 CreateJob calls from 50 threads on the production stack.

    .venv/bin/python bench/load.py

Starts PostgreSQL databases (PostgreSQL must be running), Tansu and moto as bench/scale.py
does, and on them `stories serve` (the API alone: Kafka is configured, so no workers run
inside), two `stories worker` processes and one `stories dispatcher`.

1. Load: an API key made with `stories keys create`; 1,000 CreateJob calls (a distinct
   request_id each; two-segment texts, no audio, the `local` backend), from 50 threads
   with a channel each, released at once. Every 20th request is sent a second time with
   the same request_id, alternately after its answer and at the same moment from another
   thread (idempotent retries: they must make no job). Prints creates per second and the
   CreateJob latency p50/p99 under that load (the workers running the batch beside the
   API on the same two cores), and the time to drain the batch with two workers (the
   first call to the last job's end, read from the database). Checks the database:
   exactly 1,000 jobs for the tenant, each SUCCEEDED with attempt 1, one job.started and
   one terminal event each in the outbox, its assets once, the outbox relayed, and every
   repeat answered with its first call's job. Then, with the workers and the dispatcher
   stopped, the bounds: the same calls one at a time on the idle API, and the same
   1,000-call load on the API alone (what the API takes when it has the machine).
   The per-key rate limit is off for this (STORIES_RATE_LIMIT_PER_SECOND=0; its default,
   20 per second, would be what is measured); the character quota is on.
2. Lease renewal: four jobs (one per worker slot) on the test-only `sleepy` backend whose
   calls sleep 7 s (two segments, no audio: about 21 s each), with triggers counting every
   row the jobs write (jobs UPDATE; segments, assets INSERT/UPDATE; outbox INSERT).
   Prints heartbeat renewals per running job per second beside 1 / (STORIES_LEASE_SECONDS
   / 3), and all write transactions and rows per running job per second; cross-checks the
   jobs UPDATEs with pg_stat_user_tables.n_tup_upd.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test suite's helpers start and drive the services

from scale import Services  # noqa: E402  (bench/: starts PostgreSQL databases, Tansu, moto)

from stories_adapters.settings import Settings  # noqa: E402
from stories_core.services.submit import JobRequest  # noqa: E402
from tests.e2e.stack import ProductionStack  # noqa: E402
from tests.e2e.test_load import (  # noqa: E402
    Load,
    create_key,
    fire,
    inspect,
    requests,
    sequential,
    start_api,
    start_workers,
    wait_until_drained,
    wait_until_relayed,
    with_repeats,
)

WORKERS = ("worker-0", "worker-1")


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(fraction * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def log_summary(stack: ProductionStack) -> list[str]:
    """WARNING and worse lines of each process, counted by message (ids and numbers
    folded), so a misbehaving process shows."""
    lines = []
    for name in stack.processes:
        seen: Counter[str] = Counter()
        for line in stack.log(name).splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                if "Traceback" in line or "Error" in line:
                    seen[f"(not JSON) {line[:160]}"] += 1
                continue
            if record.get("levelname") in ("WARNING", "ERROR", "CRITICAL"):
                message = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}|\d+", "#", record.get("message", ""))
                seen[f"{record['levelname']} {message[:160]}"] += 1
        for message, count in seen.most_common(6):
            lines.append(f"  {name}: {count} x {message}")
    return lines


def worker_counts(stack: ProductionStack) -> str:
    """Per worker: jobs it finished, how many of them it stole, doorbells it turned away."""
    counts = []
    for name in WORKERS:
        log = stack.log(name)
        counts.append(
            f"{name} {log.count(': succeeded')} jobs ({log.count(': stolen (')} stolen, "
            f"{log.count('held by another worker or ended')} doorbells turned away)"
        )
    swept = sum(int(n) for n in re.findall(r"swept (\d+) claimable jobs", stack.log("dispatcher")))
    return "; ".join(counts) + f"; the sweeper re-published {swept} doorbells"


def load(services: Services, count: int, threads: int, pictures: int, idle_calls: int) -> bool:
    """Run and print the load figures; whether the database check passed."""
    print(
        f"== load: {count} CreateJob calls from {threads} threads, distinct request_ids, "
        f"{pictures} segments each (local backend, no audio); 2 workers x "
        f"STORIES_WORKER_CONCURRENCY=2, 1 dispatcher"
    )
    stack = services.stack("load")
    try:
        target = start_api(stack)
        keys = {tenant: create_key(stack, tenant) for tenant in ("warmup", "load", "idle", "alone")}
        start_workers(stack, len(WORKERS))
        # Warm up the API (language model, caches) and the workers (fonts) off the clock.
        sequential(target, keys["warmup"], requests(10, "warmup", pictures=pictures))
        wait_until_drained(stack, "warmup", 10)

        tasks = with_repeats(requests(count, "load", pictures=pictures))
        under_load = fire(target, keys["load"], tasks, threads)
        answered = time.time()
        wait_until_drained(stack, "load", count, timeout=1800)
        drained = time.time()
        engine = stack.application.persistence.engine()
        unrelayed = wait_until_relayed(engine)
        batch = inspect(engine, "load", under_load)
        problems = batch.problems(count, pictures)

        for name in ("dispatcher", *WORKERS):
            stack.stop(name)
        idle = sequential(target, keys["idle"], requests(idle_calls, "idle", pictures=pictures))
        # The same load on the API alone (workers stopped): what the API itself can take.
        alone_tasks = with_repeats(requests(count, "alone", pictures=pictures))
        alone = fire(target, keys["alone"], alone_tasks, threads)
        alone_batch = inspect(engine, "alone", alone)
        logs = log_summary(stack)
        split = worker_counts(stack)
    finally:
        stack.close()

    runs = {
        "under load": under_load,
        "idle, one at a time": idle,
        "API alone, same load": alone,
    }
    print("".ljust(34) + "".join(f"{name:>22}" for name in runs))

    def row(label: str, value: Callable[[Load], str]) -> None:
        print(label.ljust(34) + "".join(f"{value(run):>22}" for run in runs.values()))

    row(
        "calls answered (repeats incl.)",
        lambda r: str(len(r.latencies()) + len(r.latencies(repeats=True))),
    )
    row("new jobs per second", lambda r: f"{len(r.latencies()) / r.seconds:.1f}")
    row("CreateJob p50 ms", lambda r: ms(percentile(r.latencies(), 0.5)))
    row("CreateJob p99 ms", lambda r: ms(percentile(r.latencies(), 0.99)))
    row("CreateJob max ms", lambda r: ms(r.latencies()[-1]))
    row(
        "repeated request_id p50 / p99 ms",
        lambda r: (
            f"{ms(percentile(r.latencies(repeats=True), 0.5))} / "
            f"{ms(percentile(r.latencies(repeats=True), 0.99))}"
            if r.latencies(repeats=True)
            else "-"
        ),
    )
    row("failed tries", lambda r: str(len(r.errors)))
    row("wall time s", lambda r: f"{r.seconds:.1f}")
    drain = batch.last_ended - under_load.started
    print(
        f"drain with two workers: {drain:.1f} s from the first create to the last job's end "
        f"({count / drain:.1f} jobs/s; the last answer came "
        f"{answered - under_load.started:.1f} s after the first call; the poll saw the end at "
        f"{drained - under_load.started:.1f} s)"
    )
    print(f"workers (the 10 warm-up jobs included): {split}")
    print(
        f"database: {batch.jobs} jobs, states {dict(batch.states)}, attempts "
        f"{dict(batch.attempts)}, job.started events per job {dict(batch.started_events)}, "
        f"terminal events per job {dict(batch.terminal_events)}, assets per job "
        f"{dict(batch.assets_per_job)}, outbox rows unsent {unrelayed}"
    )
    print(
        f"idempotency: {batch.repeats} repeated request_ids, "
        f"{batch.repeats - len(batch.repeats_elsewhere)} answered with their first call's "
        f"job; {batch.answered_jobs} distinct job ids answered; on the API alone: "
        f"{alone_batch.jobs} jobs recorded for {count} request_ids, "
        f"{len(alone_batch.repeats_elsewhere)} of {alone_batch.repeats} repeats answered "
        "with another job"
    )
    print("CHECK " + ("passed" if not problems else "FAILED:\n  " + "\n  ".join(problems)))
    for error in sorted({e for r in runs.values() for e in r.errors})[:10]:
        print(f"  error: {error}")
    print("warnings and errors in the processes' logs:" if logs else "logs: no warnings or errors")
    for line in logs:
        print(line)
    return not problems


TRIGGERS = """
CREATE UNLOGGED TABLE bench_writes (
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    tx bigint NOT NULL DEFAULT txid_current(),
    tbl text NOT NULL,
    op text NOT NULL,
    job_id text,
    state text,
    lease_only boolean NOT NULL
);
CREATE FUNCTION bench_note_write() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    new_row jsonb := to_jsonb(NEW);
BEGIN
    INSERT INTO bench_writes (tbl, op, job_id, state, lease_only) VALUES (
        TG_TABLE_NAME,
        TG_OP,
        CASE TG_TABLE_NAME
            WHEN 'jobs' THEN new_row->>'id'
            WHEN 'outbox' THEN new_row->>'message_key'
            ELSE new_row->>'job_id'
        END,
        new_row->>'state',
        TG_TABLE_NAME = 'jobs' AND TG_OP = 'UPDATE'
            AND to_jsonb(OLD) - 'lease_expires_at' = new_row - 'lease_expires_at'
    );
    RETURN NULL;
END $$;
CREATE TRIGGER bench_jobs AFTER UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION bench_note_write();
CREATE TRIGGER bench_segments AFTER INSERT OR UPDATE ON segments
    FOR EACH ROW EXECUTE FUNCTION bench_note_write();
CREATE TRIGGER bench_assets AFTER INSERT OR UPDATE ON assets
    FOR EACH ROW EXECUTE FUNCTION bench_note_write();
CREATE TRIGGER bench_outbox AFTER INSERT ON outbox
    FOR EACH ROW EXECUTE FUNCTION bench_note_write();
"""


def jobs_updates(engine: Engine) -> int:
    """pg_stat_user_tables' count of updated rows of `jobs` (a fresh snapshot)."""
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        return connection.execute(
            text("SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'jobs'")
        ).scalar_one()


def lease_rate(services: Services, jobs: int, call_seconds: float, pictures: int) -> None:
    stack = services.stack("lease", STORIES_SLEEPY_SECONDS=str(call_seconds))
    lease = Settings.from_variables(stack.env).jobs.lease_seconds
    beat = lease / 3
    print(
        f"\n== lease renewal: {jobs} jobs at once on the sleepy backend ({call_seconds:g} s per "
        f"call, {pictures} segments, no audio), STORIES_LEASE_SECONDS={lease:g}"
    )
    try:
        engine = stack.application.persistence.engine()
        with engine.begin() as connection:
            connection.execute(text(TRIGGERS))
        before = jobs_updates(engine)
        start_workers(stack, len(WORKERS))
        submit = stack.application.use_cases.submit_job()
        text_ = " ".join(f"Sentence {n} of a slow story." for n in range(pictures * 2))
        ids = [
            submit(
                JobRequest(f"{text_} ({n})", "educational", pictures, "none", backend="sleepy")
            ).id
            for n in range(jobs)
        ]
        wait_until_drained(stack, "default", jobs, timeout=600, poll=0.5)
        for name in ("dispatcher", *WORKERS):
            stack.stop(name)
        time.sleep(1.5)  # exited backends have flushed their statistics
        after = jobs_updates(engine)
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT at, tx, tbl, op, job_id, state, lease_only FROM bench_writes")
            ).all()
            states = dict(
                connection.execute(
                    text("SELECT id, state FROM jobs WHERE id = ANY(:ids)"), {"ids": ids}
                ).all()
            )
    finally:
        stack.close()

    by_tx: dict[int, list] = defaultdict(list)
    for row in rows:
        by_tx[row.tx].append(row)
    running = 0.0
    heartbeats = transactions = jobs_rows = 0
    rows_by_kind: Counter[str] = Counter()
    durations = []
    for job_id in ids:
        mine = sorted((r for r in rows if r.job_id == job_id), key=lambda r: r.at)
        claimed = next(r.at for r in mine if r.tbl == "jobs" and r.state == "running")
        ended = next(r.at for r in mine if r.tbl == "jobs" and r.state == "succeeded")
        seconds = (ended - claimed).total_seconds()
        durations.append(seconds)
        running += seconds
        inside = [r for r in mine if r.at >= claimed]  # the end's transaction included
        txs = {r.tx for r in inside}
        transactions += len(txs)
        heartbeats += sum(
            1
            for tx in txs
            if len(by_tx[tx]) == 1 and by_tx[tx][0].tbl == "jobs" and by_tx[tx][0].lease_only
        )
        jobs_rows += sum(1 for r in inside if r.tbl == "jobs")
        rows_by_kind.update(f"{r.tbl} {r.op}" for r in inside)
    rows_total = sum(rows_by_kind.values())
    duration = statistics.mean(durations)
    # Besides the heartbeats, a job writes at its claim, its plan, each segment and its end.
    other = pictures + 3
    expected_all = (int(duration // beat) + other) / duration
    trigger_updates = sum(1 for r in rows if r.tbl == "jobs")
    print(
        f"states {Counter(states.values())}; each job ran {duration:.1f} s on average "
        f"(claim to success), {running:.1f} running job-seconds in all"
    )
    print(f"{'':<40}{'count':>7}{'per running job per s':>24}{'expected':>12}")
    print(
        f"{'heartbeat renewals (lease UPDATE alone)':<40}{heartbeats:>7}"
        f"{heartbeats / running:>24.3f}{1 / beat:>12.3f}   1 / (STORIES_LEASE_SECONDS/3)"
    )
    print(
        f"{'write transactions (all of the job)':<40}{transactions:>7}"
        f"{transactions / running:>24.3f}{expected_all:>12.3f}   "
        f"heartbeats + claim, plan, {pictures} segments, end"
    )
    print(f"{'jobs-table UPDATEs':<40}{jobs_rows:>7}{jobs_rows / running:>24.3f}")
    print(f"{'rows written (all tables)':<40}{rows_total:>7}{rows_total / running:>24.3f}")
    print("  rows: " + ", ".join(f"{k} {v}" for k, v in sorted(rows_by_kind.items())))
    print(
        f"pg_stat_user_tables n_tup_upd for jobs: {after - before} over the phase "
        f"(the triggers saw {trigger_updates} jobs UPDATEs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="CreateJob calls (distinct)")
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--pictures", type=int, default=2, help="segments per job")
    parser.add_argument("--idle-calls", type=int, default=200, help="sequential calls, idle")
    parser.add_argument("--lease-jobs", type=int, default=4)
    parser.add_argument("--lease-call-seconds", type=float, default=7.0)
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-lease", action="store_true")
    args = parser.parse_args()
    passed = True
    with tempfile.TemporaryDirectory() as tmp:
        services = Services(Path(tmp))
        try:
            if not args.skip_load:
                passed = load(services, args.jobs, args.threads, args.pictures, args.idle_calls)
            if not args.skip_lease:
                lease_rate(services, args.lease_jobs, args.lease_call_seconds, 2)
        finally:
            services.close()
    if not passed:
        sys.exit(1)


if __name__ == "__main__":
    main()
