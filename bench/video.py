"""Video benchmark (issue 10): how fast a story becomes an MP4 on this machine, and the
memory it takes as the story grows.

    .venv/bin/python bench/video.py [--minutes 2 10]

Makes one story with the `local` backend (solar-system.txt, 4 segments, spoken), then, in
a fresh process for each row, renders a video of it: its segments repeated until the
story lasts `--minutes` (the same pictures and narrations, as many scenes as a story
that long has). Prints, for 16:9 1280x720 and 9:16 1080x1920 at 25 frames a second,
seconds of video rendered per second of wall time (goal: 4x real time at 720p), and each
process's peak resident memory beside the same process before it renders (goal: the same
for a 2-minute and a 10-minute story).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stories_adapters.containers import build_application
from stories_adapters.entrypoints import StoryMaker
from stories_adapters.settings import Settings
from stories_adapters.video import render_video
from stories_core.services.submit import JobRequest
from stories_core.video import VideoOptions

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "solar-system.txt"


def make_story(home: Path) -> str:
    os.environ["STORIES_HOME"] = str(home)
    settings = Settings()
    request = JobRequest(
        text=EXAMPLE.read_text(), content_type="educational", pictures=4,
        audio_type="free_speech", backend="local", tenant=settings.cli.tenant,
    )  # fmt: skip
    job = StoryMaker(settings).make(request, lambda event: None)
    return job.id


def render(home: Path, job_id: str, minutes: float, aspect: str) -> dict[str, float]:
    """In this (fresh) process: the job's segments repeated to `minutes`, rendered."""
    os.environ["STORIES_HOME"] = str(home)
    application = build_application(Settings())
    with application.persistence.unit_of_work_factory()() as uow:
        job = uow.jobs.get(job_id)
    blobs = application.storage.blobs()
    length = sum(
        float(next(a for a in s.assets if a.kind.value == "audio").metadata["duration_seconds"])
        for s in job.segments
    )
    copies = max(1, math.ceil(minutes * 60 / length))
    segments = [
        dataclasses.replace(segment, index=copy * len(job.segments) + segment.index)
        for copy in range(copies)
        for segment in job.segments
    ]
    long_job = dataclasses.replace(job, segments=segments)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    info = render_video(
        long_job,
        lambda asset: blobs.open(asset.key),
        home / f"bench-{aspect.replace(':', 'x')}.mp4",
        VideoOptions.parse(aspect),
        application.generation.caption_painter(),
    )
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "video_seconds": info.duration,
        "wall_seconds": wall,
        "rss_before_mib": before / 1024,
        "rss_peak_mib": peak / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[2, 10])
    parser.add_argument("--child", nargs=4, metavar=("HOME", "JOB", "MINUTES", "ASPECT"))
    args = parser.parse_args()
    if args.child:
        home, job_id, minutes, aspect = args.child
        print(json.dumps(render(Path(home), job_id, float(minutes), aspect)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        job_id = make_story(home)
        print(
            f"{'video':<22}{'length':>8}{'wall':>8}{'x real time':>13}{'RSS before':>12}{'peak':>8}"
        )
        for minutes in args.minutes:
            for aspect in ("16:9", "9:16"):
                result = subprocess.run(
                    [sys.executable, __file__, "--child", str(home), job_id, str(minutes), aspect],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                row = json.loads(result.stdout.splitlines()[-1])
                size = "1280x720" if aspect == "16:9" else "1080x1920"
                speed = row["video_seconds"] / row["wall_seconds"]
                print(
                    f"{aspect + ' ' + size:<22}{row['video_seconds']:>7.0f}s"
                    f"{row['wall_seconds']:>7.1f}s{speed:>12.1f}x"
                    f"{row['rss_before_mib']:>10.0f}MiB{row['rss_peak_mib']:>5.0f}MiB"
                )
        print("goal: 4x real time at 720p; peak memory the same for every length")


if __name__ == "__main__":
    main()
