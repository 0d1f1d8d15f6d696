"""Pipeline benchmark: prints how well processing overlaps backend waits, and where time goes.

1. A backend whose every call sleeps 200 ms: a 10-segment job at concurrency 5 against
   its critical path (segmentation, then two rounds of the longer of the
   narration->speech and prompt->image chains). Target: within 1.2x.
2. The `local` backend on the example texts: seconds per segment, time per stage, and
   the pipeline's own overhead: wall time during which no backend call was running.
   Target: under 10%.
3. The cost of metrics and tracing: seconds per segment of the `local` backend with both
   off, and with both on (PrometheusTelemetry and the OpenTelemetry SDK exporting every
   span over OTLP/gRPC to a receiver in this process), each in fresh processes, rounds
   alternating. Target: within 3% either way.

Runs on the embedded adapters (SQLite file, local blob folder), as `stories make` does.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from dependency_injector import providers

from stories_adapters.containers import build_application
from stories_adapters.settings import DataSettings, JobSettings, Settings
from stories_core.generation import Media, Narration, SegmentSpan, SpokenLine
from stories_core.plugins import hookimpl, make_plugin_manager
from stories_core.segmentation import sentence_boundaries

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CALL_SECONDS = 0.2


class SleepingBackend:
    """Every call sleeps like a remote model would; outputs are tiny."""

    name = "sleeping"

    def segment(self, text, pictures, style, language):
        time.sleep(CALL_SECONDS)
        cuts = [0, *sentence_boundaries(text)[: pictures - 1], len(text)]
        return [SegmentSpan(a, b) for a, b in itertools.pairwise(cuts)]

    def narrate(self, brief, audio_type, style):
        time.sleep(CALL_SECONDS)
        return Narration((SpokenLine("narrator", brief.text),))

    def speak(self, narration, style):
        time.sleep(CALL_SECONDS)
        return Media(b"ID3" + narration.text.encode(), "audio/mpeg", "mp3")

    def image_prompt(self, brief, style):
        time.sleep(CALL_SECONDS)
        return brief.title

    def draw(self, prompt, brief, style):
        time.sleep(CALL_SECONDS)
        return Media(b"\x89PNG" + prompt.encode(), "image/png", "png")


class SleepingFactory:
    name = "sleeping"
    description = "sleeps 200 ms per call (benchmarks only)"

    def create(self, environ):
        return SleepingBackend()


class BenchPlugin:
    @hookimpl
    def stories_register_backends(self):
        return [SleepingFactory()]


class TimedBackend:
    """Wraps a backend and records the interval of every call, per stage."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.name = inner.name
        self.intervals: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self._lock = threading.Lock()

    def __getattr__(self, stage):
        method = getattr(self._inner, stage)

        def timed(*args):
            start = time.perf_counter()
            try:
                return method(*args)
            finally:
                with self._lock:
                    self.intervals[stage].append((start, time.perf_counter()))

        return timed

    def busy_seconds(self, start: float, end: float) -> float:
        """Length of the union of all call intervals within [start, end]."""
        spans = sorted(i for stage in self.intervals.values() for i in stage)
        total, cursor = 0.0, start
        for a, b in spans:
            a, b = max(a, cursor), min(b, end)
            if b > a:
                total += b - a
                cursor = b
        return total


def application(home: Path, concurrency: int):
    settings = Settings(
        data=DataSettings(home=home), jobs=JobSettings(max_concurrent_segments=concurrency)
    )
    app = build_application(settings)
    app.generation.plugin_manager.override(
        providers.Singleton(make_plugin_manager, extra_plugins=[BenchPlugin()])
    )
    return app


def run_job(app, text: str, style: str, pictures: int, backend: str, audio="free_speech"):
    from stories_core.services.submit import JobRequest

    job = app.use_cases.submit_job()(
        JobRequest(text=text, content_type=style, pictures=pictures, backend=backend,
                   audio_type=audio)
    )  # fmt: skip
    started = time.perf_counter()
    app.use_cases.process_job()(job.id)
    return app.use_cases.queries().get(job.id), started, time.perf_counter()


def overlap_benchmark(home: Path) -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(30))
    app = application(home / "sleep", concurrency=5)
    job, started, ended = run_job(app, text, "educational", 10, "sleeping")
    assert job.state.value == "succeeded", job.error_message
    critical = CALL_SECONDS + 2 * (2 * CALL_SECONDS)
    wall = ended - started
    print("== overlap: 10 segments, concurrency 5, every backend call sleeps 200 ms")
    print(f"critical path      {critical:.3f} s")
    print(f"wall time          {wall:.3f} s")
    print(f"ratio              {wall / critical:.3f}x   (target <= 1.20x)")


def local_benchmark(home: Path) -> None:
    """Each example twice in one process: the first run also pays what a process loads
    once (fonts' character maps, the speech normaliser's rules per language); the second
    is what a running worker pays per story."""
    print("\n== local backend (concurrency 5)")
    print(f"{'example':<24}{'segs':>5}{'wall s':>9}{'s/seg':>8}{'overhead':>10}{'first s/seg':>13}")
    totals: dict[str, float] = defaultdict(float)
    all_wall = all_busy = 0.0
    for example, style in [
        ("solar-system.txt", "educational"),
        ("quarterly-report.txt", "financial"),
        ("the-lighthouse.txt", "fictional"),
    ]:
        app = application(home / example, concurrency=5)
        catalog = app.generation.catalog()
        timed = TimedBackend(catalog.backend("local"))
        catalog._backends["local"] = timed  # measure the real backend in place
        text = (EXAMPLES / example).read_text()
        first, started, ended = run_job(app, text, style, 4, "local")
        first_per_segment = (ended - started) / len(first.segments)
        timed.intervals.clear()
        job, started, ended = run_job(app, text, style, 4, "local")
        assert job.state.value == "succeeded", job.error_message
        wall = ended - started
        busy = timed.busy_seconds(started, ended)
        all_wall += wall
        all_busy += busy
        for stage, spans in timed.intervals.items():
            totals[stage] += sum(b - a for a, b in spans)
        segments = len(job.segments)
        print(
            f"{example:<24}{segments:>5}{wall:>9.3f}{wall / segments:>8.3f}"
            f"{(wall - busy) / wall:>9.1%}{first_per_segment:>13.3f}"
        )
    print(f"\npipeline overhead  {(all_wall - all_busy) / all_wall:.1%} of wall time "
          "(no backend call running; target < 10%)")  # fmt: skip
    print("backend time by stage (summed over calls, which overlap):")
    for stage, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {stage:<14}{seconds:>8.3f} s")


COST_JOBS = 6


def cost_child() -> None:
    """One process's seconds per segment over COST_JOBS jobs (after a warm-up job), with
    metrics and tracing on when the parent set their variables, as a worker would have."""
    from stories_adapters import metrics
    from stories_adapters.tracing import configure_tracing
    from stories_core.services.submit import JobRequest
    from stories_core.telemetry import tracer

    settings = Settings()
    configure_tracing("stories-bench")
    app = build_application(settings)
    if settings.metrics.port is not None:
        app.core.events().subscribe(metrics.count_job_event)
        metrics.serve_metrics("127.0.0.1", settings.metrics.port, dict)
    text = (EXAMPLES / "solar-system.txt").read_text()
    seconds = segments = 0.0
    for round_ in range(COST_JOBS + 1):
        with tracer.start_as_current_span("CreateJob"):
            job = app.use_cases.submit_job()(JobRequest(text, "educational", 4, backend="local"))
        started = time.perf_counter()
        app.use_cases.process_job()(job.id, job.trace_parent)
        if round_:  # the first pays for what a process loads once
            seconds += time.perf_counter() - started
            segments += len(app.use_cases.queries().get(job.id).segments)
    print(seconds / segments)


def telemetry_cost(home: Path, rounds: int) -> None:
    sys.path.insert(0, str(EXAMPLES.parent))  # the test suite's OTLP sink
    from tests.otlp import OtlpSink
    from tests.services import free_port

    receiver = OtlpSink()
    figures: dict[str, list[float]] = {"off": [], "on": []}
    try:
        for round_ in range(rounds):
            for mode in ("off", "on"):
                env = {
                    k: v for k, v in os.environ.items()
                    if not k.startswith(("STORIES_", "OTEL_"))
                } | {"STORIES_HOME": str(home / f"cost-{mode}-{round_}")}  # fmt: skip
                if mode == "on":
                    env["STORIES_METRICS_PORT"] = str(free_port())
                    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
                child = subprocess.run(
                    [sys.executable, __file__, "--cost-child"],
                    env=env, capture_output=True, text=True, check=True,
                )  # fmt: skip
                figures[mode].append(float(child.stdout.split()[-1]))
        spans = receiver.exports
    finally:
        receiver.close()
    off, on = (statistics.median(figures[m]) for m in ("off", "on"))
    print(f"\n== metrics and tracing cost: local backend, {COST_JOBS} jobs of 4 segments per "
          f"process, {rounds} rounds")  # fmt: skip
    print(f"{'':<26}{'s/segment':>10}{'(min-max)':>18}")
    for mode, label in (("off", "both off"), ("on", "metrics + traces on")):
        low, high = min(figures[mode]), max(figures[mode])
        print(f"{label:<26}{statistics.median(figures[mode]):>10.4f}   {low:.4f}-{high:.4f}")
    print(
        f"on / off                  {on / off:>10.3f}   (target 0.97-1.03; "
        f"{spans} OTLP exports received)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cost-rounds", type=int, default=3, help="rounds of the cost figure")
    parser.add_argument("--cost-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cost_child:
        cost_child()
        return
    with tempfile.TemporaryDirectory() as tmp:
        overlap_benchmark(Path(tmp))
        local_benchmark(Path(tmp))
        telemetry_cost(Path(tmp), args.cost_rounds)


if __name__ == "__main__":
    main()
