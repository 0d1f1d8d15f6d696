"""API benchmark: get-job and create-job rates from one client, beside a bare grpcio server.

Prints requests per second and p50/p99 latency for:
  - a bare grpcio server answering an empty unary call (the ceiling on this machine),
  - GetJob of a finished 3-segment job (FULL view), GetJob of a queued job, and
    CreateJob, on `stories serve` (SQLite, the API alone).
The calls alternate over several rounds; each ratio is to the bare server's rate in the
same round. Targets: GetJob >= 1/2 of the bare rate; CreateJob >= 1/4.

Then the cost of metrics and tracing: the same GetJob and CreateJob on a second API
process with both on (STORIES_METRICS_PORT, and every span exported over OTLP/gRPC to a
receiver in this process), side by side with the first. Target: within 3% either way.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' OTLP sink
from tests.otlp import OtlpSink

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


def measure(call: Callable[[], object], seconds: float) -> list[float]:
    """Latencies of back-to-back calls for `seconds`, after a warm-up."""
    for _ in range(50):
        call()  # warm up connections, caches and code paths
    latencies = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        begin = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - begin)
    return latencies


STORIES = [sys.executable, "-m", "stories_adapters.cli"]


def bench_environment(home: Path, **extra: str) -> dict[str, str]:
    """A `stories` process's environment for a benchmark: its home under `home`, no rate
    limit or quota (they would measure themselves), none of the caller's STORIES_*."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("STORIES_")},
        "STORIES_HOME": str(home / "stories"),
        "STORIES_RATE_LIMIT_PER_SECOND": "0",
        "STORIES_QUOTA_CHARS_PER_PERIOD": "0",
        **extra,
    }


def bench_key(env: dict[str, str]) -> str:
    """A new API key of the tenant "bench", made with `stories keys create`."""
    return subprocess.run(
        [*STORIES, "keys", "create", "--tenant", "bench"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--serve-bare", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = bench_environment(home)
        stories = STORIES
        key = bench_key(env)
        metadata = (("authorization", f"Bearer {key}"),)
        create = stories_pb2.CreateJobRequest(
            text="The Sun is a star. The Moon orbits the Earth. Tides follow the Moon.",
            content_type="educational",
            pictures=3,
            audio_type=common_pb2.AUDIO_TYPE_NONE,
        )
        port = free_port()
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub = stories_pb2_grpc.StoryServiceStub(channel)
        # First the embedded service, worker inside, makes the finished job to read.
        server = subprocess.Popen([*stories, "serve", "--port", str(port)], env=env)
        try:
            grpc.channel_ready_future(channel).result(timeout=30)
            job = stub.CreateJob(create, metadata=metadata).job
            for _ in stub.WatchJob(stories_pb2.WatchJobRequest(job_id=job.id), metadata=metadata):
                pass
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        # Then the API alone, as API pods run in production (workers elsewhere), beside the
        # bare server; each in its own process, the client in this one.
        server = subprocess.Popen(
            [*stories, "serve", "--port", str(port)],
            env={**env, "STORIES_EMBEDDED_WORKERS": "0"},
        )
        bare_process = subprocess.Popen(
            [sys.executable, __file__, "--serve-bare", str(home / "bare.port")]
        )
        receiver = OtlpSink()
        port_on = free_port()
        server_on = subprocess.Popen(
            [*stories, "serve", "--port", str(port_on)],
            env={
                **env,
                "STORIES_EMBEDDED_WORKERS": "0",
                "STORIES_METRICS_PORT": str(free_port()),
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            },
        )
        channel_on = grpc.insecure_channel(f"127.0.0.1:{port_on}")
        stub_on = stories_pb2_grpc.StoryServiceStub(channel_on)
        try:
            bare_port = wait_for_port(home / "bare.port", bare_process)
            bare_channel = grpc.insecure_channel(f"127.0.0.1:{bare_port}")
            empty = bare_channel.unary_unary(EMPTY_METHOD)
            grpc.channel_ready_future(channel).result(timeout=30)
            grpc.channel_ready_future(channel_on).result(timeout=30)
            finished = stories_pb2.GetJobRequest(job_id=job.id)
            assert len(stub.GetJob(finished, metadata=metadata).job.segments) == 3
            queued = stories_pb2.GetJobRequest(
                job_id=stub.CreateJob(create, metadata=metadata).job.id
            )
            calls: dict[str, Callable[[], object]] = {
                "bare grpcio empty unary": lambda: empty(b""),
                "GetJob (finished, FULL)": lambda: stub.GetJob(finished, metadata=metadata),
                "GetJob (queued, database)": lambda: stub.GetJob(queued, metadata=metadata),
                "CreateJob": lambda: stub.CreateJob(create, metadata=metadata),
                "GetJob (queued) +telemetry": lambda: stub_on.GetJob(queued, metadata=metadata),
                "CreateJob +telemetry": lambda: stub_on.CreateJob(create, metadata=metadata),
            }
            # Rounds alternate the calls, so a drift in the machine's speed (other load,
            # CPU frequency) shows in every call alike rather than in one.
            rounds = [
                {name: measure(call, args.seconds) for name, call in calls.items()}
                for _ in range(args.rounds)
            ]
            bare_channel.close()
            channel.close()
            channel_on.close()
        finally:
            for process in (server, bare_process, server_on):
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
            spans = receiver.exports
            receiver.close()

    print(
        f"{'call':<28}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'calls':>8}{'vs bare':>9}"
        f"{'(min-max)':>13}"
    )
    for name in calls:
        latencies = sorted(x for one in rounds for x in one[name])
        rates = [len(one[name]) / args.seconds for one in rounds]
        ratios = sorted(len(one[name]) / len(one["bare grpcio empty unary"]) for one in rounds)
        print(
            f"{name:<28}{statistics.median(rates):>9.0f}"
            f"{statistics.median(latencies) * 1e3:>9.2f}"
            f"{latencies[int(len(latencies) * 0.99) - 1] * 1e3:>9.2f}{len(latencies):>8}"
            f"{statistics.median(ratios):>9.2f}   {ratios[0]:.2f}-{ratios[-1]:.2f}"
        )
    print("targets: GetJob >= 0.50 of bare, CreateJob >= 0.25 of bare")
    print("(median of the rounds; a round's ratio compares calls measured side by side)")
    print("(a finished job never changes and is answered from memory; a queued or running")
    print(" one is read from the database on every call)")
    print("(stories serve with STORIES_EMBEDDED_WORKERS=0: the API alone, as API pods run;")
    print(" generation happens in worker processes)")
    print("\n== metrics and tracing cost: the API with both on, beside the API with both off")
    print(
        f"{'call':<28}{'off req/s':>10}{'on req/s':>10}{'on/off':>8}{'(min-max)':>15}"
        f"{'extra µs/call':>15}"
    )
    for name, off in (("GetJob (queued)", "GetJob (queued, database)"), ("CreateJob", "CreateJob")):
        on = f"{name} +telemetry"
        ratios = sorted(len(one[on]) / len(one[off]) for one in rounds)
        rate = {
            k: statistics.median(len(one[k]) / args.seconds for one in rounds) for k in (on, off)
        }
        print(
            f"{name:<28}{rate[off]:>10.0f}{rate[on]:>10.0f}{statistics.median(ratios):>8.3f}"
            f"   {ratios[0]:.3f}-{ratios[-1]:.3f}{(1 / rate[on] - 1 / rate[off]) * 1e6:>13.0f}"
        )
    print(f"target: on/off 0.97-1.03 ({spans} OTLP exports received)")


if __name__ == "__main__":
    main()
