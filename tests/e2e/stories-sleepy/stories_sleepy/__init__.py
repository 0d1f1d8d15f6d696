"""A test-only generator backend, installed as any plugin is: every call sleeps (so a job
is slow enough to interrupt) and appends `pid method segment-index` to a log file (so a
test can tell which process did what, across processes).

Settings: STORIES_SLEEPY_SECONDS (per call, default 0.2), STORIES_SLEEPY_LOG (no log
when unset).
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Mapping

from stories_core.generation import (
    ContentStyle,
    Media,
    Narration,
    SegmentBrief,
    SegmentSpan,
    SpokenLine,
)
from stories_core.model import AudioType
from stories_core.plugins import hookimpl
from stories_core.segmentation import sentence_boundaries


class SleepyBackend:
    name = "sleepy"

    def __init__(self, seconds: float, log_path: str | None) -> None:
        self._seconds = seconds
        self._log_path = log_path

    def _call(self, method: str, index: int | None = None) -> None:
        time.sleep(self._seconds)
        if self._log_path:
            with open(self._log_path, "a", encoding="utf-8") as log:
                log.write(f"{os.getpid()} {method} {index}\n")

    def segment(
        self, text: str, pictures: int, style: ContentStyle, language: str
    ) -> list[SegmentSpan]:
        self._call("segment")
        cuts = [0, *sentence_boundaries(text)[: pictures - 1], len(text)]
        return [
            SegmentSpan(a, b, f"Part {n + 1}") for n, (a, b) in enumerate(itertools.pairwise(cuts))
        ]

    def narrate(self, brief: SegmentBrief, audio_type: AudioType, style: ContentStyle) -> Narration:
        self._call("narrate", brief.index)
        return Narration((SpokenLine("narrator", brief.text),))

    def speak(self, narration: Narration, style: ContentStyle) -> Media:
        self._call("speak")
        return Media(
            b"ID3" + narration.text.encode(), "audio/mpeg", "mp3", {"duration_seconds": 1.0}
        )

    def image_prompt(self, brief: SegmentBrief, style: ContentStyle) -> str:
        self._call("image_prompt", brief.index)
        return f"a picture of {brief.title}"

    def draw(self, prompt: str, brief: SegmentBrief, style: ContentStyle) -> Media:
        self._call("draw", brief.index)
        return Media(b"\x89PNG" + prompt.encode(), "image/png", "png", {"width": 1, "height": 1})


class SleepyFactory:
    name = "sleepy"
    description = "sleeps on every call and logs it (tests only)"

    def create(self, environ: Mapping[str, str]) -> SleepyBackend:
        seconds = float(environ.get("STORIES_SLEEPY_SECONDS", "0.2"))
        return SleepyBackend(seconds, environ.get("STORIES_SLEEPY_LOG"))


@hookimpl
def stories_register_backends() -> list[SleepyFactory]:
    return [SleepyFactory()]
