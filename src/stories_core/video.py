"""The story as a video: what is on screen when, decided here; the pixels are an adapter's.

One scene per segment, in order. A scene lasts exactly as long as its narration (the
audio's `duration_seconds`), so a picture is on screen while its words are heard; a story
without audio gives each scene a readable time for its words instead. Scenes follow one
another without gaps, so scene i starts at the sum of the earlier scenes' lengths: the
same time line the story's captions use (`job_captions`). The next picture fades in over
the first `CROSSFADE_SECONDS` of its scene, while a slow zoom and drift (the "Ken Burns"
effect) keeps a still picture alive; one chapter per scene carries its title.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from stories_core.captions import Cue, story_cues
from stories_core.errors import InvalidInput
from stories_core.model import Asset, AssetKind, Job
from stories_core.text import plain
from stories_core.timing import Timings, estimate

CROSSFADE_SECONDS = 0.4
ZOOM = 0.05
"""How much closer the picture is at one end of its scene than at the other: little, as a
chart's axis labels sit at its edges and must stay in view."""
SECONDS_PER_WORD, MIN_SCENE_SECONDS = 0.4, 3.0
"""A silent scene's length: a comfortable reading pace (150 words a minute), at least 3 s."""


class Aspect(StrEnum):
    LANDSCAPE = "16:9"
    PORTRAIT = "9:16"
    SQUARE = "1:1"


class CaptionMode(StrEnum):
    SOFT = "soft"
    """A subtitle track the viewer turns on or off (mov_text in the MP4)."""
    BURNED = "burned"
    """Drawn into the picture, for players and platforms that show no subtitle track."""


SIZES = {Aspect.LANDSCAPE: (1280, 720), Aspect.PORTRAIT: (1080, 1920), Aspect.SQUARE: (1080, 1080)}
FRAME_RATES = (24, 25, 30, 50, 60)


@dataclass(frozen=True)
class VideoOptions:
    """`aspect` picks the frame size (16:9 1280x720, 9:16 1080x1920, 1:1 1080x1080);
    `fps` is frames per second; captions are soft or burned in."""

    aspect: Aspect = Aspect.LANDSCAPE
    fps: int = 25
    captions: CaptionMode = CaptionMode.SOFT

    @property
    def size(self) -> tuple[int, int]:
        return SIZES[self.aspect]

    @classmethod
    def parse(cls, aspect: str = "16:9", fps: int = 25, captions: str = "soft") -> VideoOptions:
        """Options from a request's strings; InvalidInput names every wrong field
        (`video.aspect`, `video.fps`, `video.captions`)."""
        wrong = []
        if aspect not in {a.value for a in Aspect}:
            wrong.append(("video.aspect", f"must be one of {', '.join(a.value for a in Aspect)}"))
        if fps not in FRAME_RATES:
            wrong.append(("video.fps", f"must be one of {', '.join(map(str, FRAME_RATES))}"))
        if captions not in {c.value for c in CaptionMode}:
            wrong.append(("video.captions", "must be soft or burned"))
        if wrong:
            raise InvalidInput.of(wrong)
        return cls(Aspect(aspect), fps, CaptionMode(captions))


@dataclass(frozen=True)
class Scene:
    """One segment on screen: from `start` to `end` seconds of the video."""

    index: int
    title: str
    start: float
    end: float
    picture: Asset | None
    audio: Asset | None
    timings: Timings
    """When each sentence is heard (or, without audio, shown), from the scene's start."""

    @property
    def duration(self) -> float:
        return self.end - self.start


def scenes(job: Job) -> list[Scene]:
    """The job's segments as scenes on one time line (see the module's docstring)."""
    found: list[Scene] = []
    at = 0.0
    for segment in job.segments:
        audio = segment.asset(AssetKind.AUDIO)
        if audio is not None:
            length = max(0.0, float(audio.metadata.get("duration_seconds", 0.0)))
            # A backend that records no timings: estimated from what it was asked to say,
            # the script's "role: text" lines.
            script = str(audio.metadata.get("narration") or f"narrator: {segment.text}")
            lines = [line.partition(": ")[::2] for line in script.splitlines()]
            timings = Timings.from_metadata(audio.metadata) or estimate(lines, length, job.language)
        else:
            words = len(plain(segment.text).split())
            length = max(MIN_SCENE_SECONDS, SECONDS_PER_WORD * words)
            timings = estimate([("narrator", segment.text)], length, job.language)
        found.append(
            Scene(
                segment.index,
                segment.title,
                at,
                at + length,
                segment.asset(AssetKind.IMAGE),
                audio,
                timings,
            )
        )
        at += length
    return found


def _script_lines(script: str) -> list[tuple[str, str]]:
    """(role, text) of a narration's script ("narrator: ..." lines; a line that names no
    role goes on the one before)."""
    lines: list[tuple[str, str]] = []
    for line in script.splitlines():
        role, colon, text = line.partition(": ")
        if colon and role in ("narrator", "second_host"):
            lines.append((role, text))
        elif lines:
            lines[-1] = (lines[-1][0], f"{lines[-1][1]}\n{line}")
        else:
            lines.append(("narrator", line))
    return lines


def job_captions(job: Job) -> tuple[list[Cue], dict[int, list[Cue]]]:
    """The story's cues on the scenes' time line, and each segment's own, from its start
    (by segment index), for the caption files. Only segments with audio have cues: a
    silent part's words are shown by the video alone (`scene_cues`)."""
    spoken = [scene for scene in scenes(job) if scene.audio is not None]
    # A part of a podcast names its speakers even where one host speaks throughout.
    speakers = len({s.role for scene in spoken for s in scene.timings.sentences}) > 1
    story = story_cues([(scene.start, scene.timings) for scene in spoken], job.language)
    return story, {
        scene.index: story_cues([(0.0, scene.timings)], job.language, speakers=speakers)
        for scene in spoken
    }


def scene_cues(job: Job) -> list[Cue]:
    """Every scene's cues on the video's time line, spoken or not: what the video shows."""
    return story_cues([(scene.start, scene.timings) for scene in scenes(job)], job.language)


@dataclass(frozen=True)
class Framing:
    """Which part of the picture fills the frame: `zoom` >= 1 (1 is the whole picture),
    and the centre of the view as fractions of the picture's width and height."""

    zoom: float
    x: float
    y: float


def framing(scene: int, progress: float) -> Framing:
    """The view of scene `scene` at `progress` (0 at its start, 1 at its end): even scenes
    zoom in, odd ones out, each drifting gently another way, so cuts never repeat a move."""
    progress = min(1.0, max(0.0, progress)) if math.isfinite(progress) else 1.0
    eased = progress * progress * (3 - 2 * progress)  # smoothstep: no jolt at either end
    zoom = 1 + ZOOM * (eased if scene % 2 == 0 else 1 - eased)
    room = (1 - 1 / zoom) / 2  # how far the centre can move without showing an edge
    drift = (1, 1), (-1, 1), (1, -1), (-1, -1)
    dx, dy = drift[scene % len(drift)]
    return Framing(zoom, 0.5 + dx * room * (eased - 0.5), 0.5 + dy * room * (eased - 0.5) / 2)
