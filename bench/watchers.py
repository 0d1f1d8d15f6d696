"""Watchers benchmark (issue 11): how many WatchJob streams one API process holds, and
what they cost.

    .venv/bin/python bench/watchers.py [--streams 10000] [--jobs 100]

Starts `stories serve` as an API pod runs (the API alone, STORIES_EMBEDDED_WORKERS=0, on
SQLite here), and a bare grpcio server beside it (the machine's ceiling for a unary call).
Creates `--jobs` queued jobs, then opens `--streams` WatchJob streams spread evenly over
them (from this process, on grpc.aio, over several connections) and prints:
  - streams held, and the server's resident memory per stream (RSS after minus before);
  - while they are open: GetJob and CreateJob rates and a health check's latency, beside
    the bare server's rate for an empty call;
  - event delivery: every job is cancelled (one event each, to every watcher of the job);
    the latency from the event's recorded time to its arrival at each watcher, p50/p99,
    and how many of the expected deliveries arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench/api.py's bare server, the tests' free port
from bench.api import (  # noqa: E402
    EMPTY_METHOD,
    STORIES,
    bench_environment,
    bench_key,
    measure,
    wait_for_port,
)
from stories.v1 import common_pb2, stories_pb2, stories_pb2_grpc  # noqa: E402
from tests.services import free_port  # noqa: E402

CHANNELS = 20


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def rate(call, seconds: float = 2.0) -> tuple[float, float]:
    """Calls per second back to back, and the p50 latency in ms."""
    latencies = measure(call, seconds)
    return len(latencies) / seconds, statistics.median(latencies) * 1e3


async def hold_streams(target: str, key: str, job_ids: list[str], streams: int, report) -> None:
    metadata = (("authorization", f"Bearer {key}"),)
    channels = [grpc.aio.insecure_channel(target) for _ in range(CHANNELS)]
    stubs = [stories_pb2_grpc.StoryServiceStub(c) for c in channels]
    opened = asyncio.Semaphore(0)
    arrivals: list[float] = []
    expected = 0

    async def watch(index: int) -> None:
        job_id = job_ids[index % len(job_ids)]
        call = stubs[index % CHANNELS].WatchJob(
            stories_pb2.WatchJobRequest(job_id=job_id), metadata=metadata
        )
        first = True
        async for response in call:
            if first:
                first = False
                opened.release()
                continue
            event = response.event
            sent = event.occur_time.ToDatetime(tzinfo=UTC)
            arrivals.append((datetime.now(UTC) - sent).total_seconds())

    started = time.perf_counter()
    tasks = []
    for index in range(streams):
        tasks.append(asyncio.create_task(watch(index)))
        if index % 200 == 199:
            await asyncio.sleep(0)  # let the opened ones answer
    count = 0
    try:
        while count < streams:
            await asyncio.wait_for(opened.acquire(), timeout=120)
            count += 1
    except TimeoutError:
        failed = [t for t in tasks if t.done() and t.exception() is not None]
        raise SystemExit(
            f"{count} of {streams} streams opened; {len(failed)} failed: {failed[:1]}"
        ) from None
    opening = time.perf_counter() - started
    expected = streams
    await report(opening)  # measures while the streams are open, then cancels the jobs
    deadline = time.monotonic() + 60
    while len(arrivals) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    done = sum(task.done() for task in tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for channel in channels:
        await channel.close()
    arrivals.sort()
    print("\n== event delivery: every job cancelled; one event to each of its watchers")
    print(f"delivered          {len(arrivals)} of {expected}  (streams ended: {done})")
    if arrivals:
        p99 = arrivals[max(0, int(len(arrivals) * 0.99) - 1)]
        print(f"latency p50        {statistics.median(arrivals) * 1e3:.0f} ms")
        print(f"latency p99        {p99 * 1e3:.0f} ms   (from the event's record to the watcher)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=100)
    args = parser.parse_args()
    stories = STORIES
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = bench_environment(
            home,
            STORIES_EMBEDDED_WORKERS="0",
            STORIES_GRPC_MAX_STREAMS=str(args.streams + 100),
            STORIES_GRPC_MAX_STREAMS_PER_KEY=str(args.streams + 100),
            STORIES_LOG_LEVEL="WARNING",
        )
        key = bench_key(env)
        metadata = (("authorization", f"Bearer {key}"),)
        port = free_port()
        server = subprocess.Popen([*stories, "serve", "--port", str(port)], env=env)
        bare = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "api.py"), "--serve-bare", str(home / "bare")]
        )
        target = f"127.0.0.1:{port}"
        try:
            channel = grpc.insecure_channel(target)
            grpc.channel_ready_future(channel).result(timeout=60)
            stub = stories_pb2_grpc.StoryServiceStub(channel)
            health = health_pb2_grpc.HealthStub(channel)
            empty = grpc.insecure_channel(
                f"127.0.0.1:{wait_for_port(home / 'bare', bare)}"
            ).unary_unary(EMPTY_METHOD)
            create = stories_pb2.CreateJobRequest(
                text="The Sun is a star. The Moon orbits the Earth.",
                content_type="educational",
                pictures=1,
                audio_type=common_pb2.AUDIO_TYPE_NONE,
            )
            job_ids = [stub.CreateJob(create, metadata=metadata).job.id for _ in range(args.jobs)]
            before = rss_kib(server.pid)
            get = stories_pb2.GetJobRequest(job_id=job_ids[0])

            async def report(opening: float) -> None:
                held = rss_kib(server.pid)
                print(f"== {args.streams} WatchJob streams on {args.jobs} jobs, one API process")
                print(f"opened in          {opening:.1f} s")
                print(f"server RSS         {before / 1024:.0f} MiB -> {held / 1024:.0f} MiB")
                print(f"per stream         {(held - before) / args.streams:.1f} KiB")
                figures = await asyncio.to_thread(measure)
                print("\n== while the streams are open")
                for name, (per_second, p50) in figures.items():
                    print(f"{name:<24}{per_second:>8.0f} /s   p50 {p50:.2f} ms")
                for job_id in job_ids:
                    await asyncio.to_thread(
                        stub.CancelJob, stories_pb2.CancelJobRequest(job_id=job_id),
                        metadata=metadata,
                    )  # fmt: skip

            def measure() -> dict[str, tuple[float, float]]:
                check = health_pb2.HealthCheckRequest(service="stories.v1.StoryService")
                return {
                    "bare grpcio empty unary": rate(lambda: empty(b"")),
                    "GetJob (queued)": rate(lambda: stub.GetJob(get, metadata=metadata)),
                    "CreateJob": rate(lambda: stub.CreateJob(create, metadata=metadata)),
                    "health Check": rate(lambda: health.Check(check)),
                }

            asyncio.run(hold_streams(target, key, job_ids, args.streams, report))
        finally:
            for process in (server, bare):
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)


if __name__ == "__main__":
    main()
