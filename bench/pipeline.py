"""Pipeline benchmark: prints how well processing overlaps backend waits, and where time goes.

1. A backend whose every call sleeps 200 ms: a 10-segment job at concurrency 5 against
   its critical path (segmentation, then two rounds of the longer of the
   narration->speech and prompt->image chains). Target: within 1.2x.
2. The `local` backend on the example texts: seconds per segment, time per stage, and
   the pipeline's own overhead: wall time during which no backend call was running.
   Target: under 10%.

Runs on the embedded adapters (SQLite file, local blob folder), as `stories make` does.
"""

from __future__ import annotations

import argparse
import itertools
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        overlap_benchmark(Path(tmp))
        local_benchmark(Path(tmp))


if __name__ == "__main__":
    main()
