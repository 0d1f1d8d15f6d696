"""API benchmark: get-job and create-job rates from one client, beside a bare grpcio server.

Prints requests per second and p50/p99 latency for:
  - a bare grpcio server answering an empty unary call (the ceiling on this machine),
  - GetJob of a finished 3-segment job (FULL view), GetJob of a queued job, and
    CreateJob, on the embedded service.
Targets: GetJob >= 1/2 of the bare rate; CreateJob >= 1/4.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

from stories.v1 import common_pb2, stories_pb2, stories_pb2_grpc

EMPTY_METHOD = "/bench.Bare/Empty"


def serve_bare(port_file: Path) -> None:
    """The ceiling: a grpcio server whose one method answers an empty unary call."""
    handler = grpc.method_handlers_generic_handler(
        "bench.Bare",
        {"Empty": grpc.unary_unary_rpc_method_handler(lambda request, context: b"")},
    )
    server = grpc.server(ThreadPoolExecutor(16))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    port_file.write_text(str(port))
    server.wait_for_termination()


def wait_for_port(path: Path, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        if process.poll() is not None:
            raise SystemExit(f"server exited early with status {process.returncode}")
        time.sleep(0.05)
    raise SystemExit("server did not start")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def measure(call: Callable[[], object], seconds: float) -> tuple[float, float, float, int]:
    for _ in range(50):
        call()  # warm up connections, caches and code paths
    latencies = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        begin = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - begin)
    elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    return len(latencies) / elapsed, statistics.median(latencies), p99, len(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--serve-bare", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        # Each server runs in its own process, as in production; the client is this one.
        bare_process = subprocess.Popen(
            [sys.executable, __file__, "--serve-bare", str(home / "bare.port")]
        )
        try:
            channel = grpc.insecure_channel(
                f"127.0.0.1:{wait_for_port(home / 'bare.port', bare_process)}"
            )
            empty = channel.unary_unary(EMPTY_METHOD)
            bare = measure(lambda: empty(b""), args.seconds)
            channel.close()
        finally:
            bare_process.terminate()
            bare_process.wait()

        env = {
            **os.environ,
            "STORIES_HOME": str(home / "stories"),
            "STORIES_RATE_LIMIT_PER_SECOND": "0",
            "STORIES_QUOTA_CHARS_PER_PERIOD": "0",
        }
        stories = [sys.executable, "-m", "stories_adapters.cli"]
        key = subprocess.run(
            [*stories, "keys", "create", "--tenant", "bench"],
            env=env, check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        port = free_port()
        server = subprocess.Popen([*stories, "serve", "--port", str(port)], env=env)
        try:
            channel = grpc.insecure_channel(f"127.0.0.1:{port}")
            grpc.channel_ready_future(channel).result(timeout=30)
            stub = stories_pb2_grpc.StoryServiceStub(channel)
            metadata = (("authorization", f"Bearer {key}"),)
            create = stories_pb2.CreateJobRequest(
                text="The Sun is a star. The Moon orbits the Earth. Tides follow the Moon.",
                content_type="educational",
                pictures=3,
                audio_type=common_pb2.AUDIO_TYPE_NONE,
            )
            job = stub.CreateJob(create, metadata=metadata).job
            watch = stories_pb2.WatchJobRequest(job_id=job.id)
            for _ in stub.WatchJob(watch, metadata=metadata):
                pass
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            # Measure the API alone, as API pods run in production (workers elsewhere).
            server = subprocess.Popen(
                [*stories, "serve", "--port", str(port)],
                env={**env, "STORIES_EMBEDDED_WORKERS": "0"},
            )
            grpc.channel_ready_future(channel).result(timeout=30)
            get_request = stories_pb2.GetJobRequest(job_id=job.id)
            assert len(stub.GetJob(get_request, metadata=metadata).job.segments) == 3
            get = measure(lambda: stub.GetJob(get_request, metadata=metadata), args.seconds)
            queued = stories_pb2.GetJobRequest(
                job_id=stub.CreateJob(create, metadata=metadata).job.id
            )
            get_queued = measure(lambda: stub.GetJob(queued, metadata=metadata), args.seconds)
            created = measure(lambda: stub.CreateJob(create, metadata=metadata), args.seconds)
            channel.close()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)

    print(f"{'call':<28}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'calls':>8}{'vs bare':>9}")
    for name, (rate, p50, p99, count) in [
        ("bare grpcio empty unary", bare),
        ("GetJob (FULL, 3 segments)", get),
        ("GetJob (queued, database)", get_queued),
        ("CreateJob", created),
    ]:
        print(
            f"{name:<28}{rate:>9.0f}{p50 * 1e3:>9.2f}{p99 * 1e3:>9.2f}{count:>8}"
            f"{rate / bare[0]:>9.2f}"
        )
    print("targets: GetJob >= 0.50 of bare, CreateJob >= 0.25 of bare")
    print("(a finished job never changes and is answered from memory; a queued or running")
    print(" one is read from the database on every call)")
    print("(each server in its own process; stories serve with STORIES_EMBEDDED_WORKERS=0,")
    print(" i.e. the API alone, as API pods run: generation happens in worker processes)")


if __name__ == "__main__":
    main()
