"""`stories make --video`: the MP4 read back with PyAV, as a player and a publisher see it."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import pytest
import webvtt

from stories_core.text import plain
from tests.e2e.conftest import EXAMPLES

pytestmark = pytest.mark.slow


SHORT = (
    "# The Moon\n\nThe Moon circles the Earth once a month. It pulls the sea, twice a day.\n\n"
    "# Tides\n\nThe water rises and falls along every coast. Sailors plan around it.\n\n"
    "# Eclipses\n\nSometimes the Moon hides the Sun. The sky goes dark for minutes."
)


def make(
    run_stories, tmp_path: Path, *options: str, audio: str = "podcast", text: str | None = None
) -> Path:
    out = tmp_path / "story"
    source = "-" if text else str(EXAMPLES / "solar-system.txt")
    result = run_stories(
        "make", source, "--type", "educational", "--pictures", "3", "--audio", audio,
        "--out", str(out), "--video", *options, stdin=text.encode() if text else None,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def frame_means(path: Path) -> tuple[list[float], list[np.ndarray]]:
    """Each frame's time and its luma plane, small (every 4th pixel): enough to see cuts."""
    times, lumas = [], []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            times.append(float(frame.pts * frame.time_base))
            lumas.append(frame.to_ndarray(format="gray")[::4, ::4].astype(np.int16))
    return times, lumas


def test_the_video_is_the_narrations_with_their_pictures_chapters_and_captions(
    run_stories, tmp_path: Path
) -> None:
    out = make(run_stories, tmp_path)
    job = json.loads((out / "story.json").read_text())
    narrations = [
        next(a for a in s["assets"] if a["kind"] == "audio")["metadata"]["duration_seconds"]
        for s in job["segments"]
    ]
    starts = np.cumsum([0.0, *narrations[:-1]])
    path = out / "story.mp4"
    head = path.read_bytes()[:200_000]
    assert 0 <= head.find(b"moov") < max(head.find(b"mdat"), 0) or b"mdat" not in head, (
        "faststart: the index comes before the media"
    )
    with av.open(str(path)) as container:
        kinds = {s.type: s.codec_context.name for s in container.streams if s.codec_context}
        assert kinds == {"video": "h264", "audio": "aac", "subtitle": "mov_text"}
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (1280, 720)
        assert abs(container.duration / 1e6 - sum(narrations)) < 0.1
        audio = container.streams.audio[0]
        assert abs(float(audio.duration * audio.time_base) - sum(narrations)) < 0.1
        chapters = container.chapters()
        assert [c["metadata"]["title"] for c in chapters] == [s["title"] for s in job["segments"]]
        assert [c["start"] / 1000 for c in chapters] == pytest.approx(starts, abs=1e-3)
        subtitles = container.streams.subtitles[0]
        assert subtitles.metadata["language"] == "eng"
        shown = [
            (float(packet.pts * packet.time_base), packet)
            for packet in container.demux(subtitles)
            if packet.size > 2  # not an empty sample (a gap between cues)
        ]
    cues = list(webvtt.read(out / "story.vtt"))
    assert len(shown) == len(cues) > len(narrations)

    # The picture changes on the frame where each segment's narration starts, not before.
    times, lumas = frame_means(path)
    fps = 25
    assert len(times) == round(sum(narrations) * fps)
    steps = [float(np.abs(b - a).mean()) for a, b in pairwise(lumas)]
    calm = float(np.median(steps))
    for start in starts[1:]:
        first = int(np.ceil(start * fps - 1e-6))  # the first frame at or after the start
        assert steps[first - 1] > 5 * calm + 0.5, (start, steps[first - 3 : first + 2], calm)
        assert steps[first - 2] <= 3 * calm + 0.5, "nothing changes before the narration does"


def test_a_portrait_video_keeps_the_whole_picture_and_a_silent_story_gets_reading_time(
    run_stories, tmp_path: Path
) -> None:
    out = make(run_stories, tmp_path, "--aspect", "9:16", "--fps", "24", audio="none", text=SHORT)
    job = json.loads((out / "story.json").read_text())
    with av.open(str(out / "story.mp4")) as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (1080, 1920)
        assert video.average_rate == 24
        words = [len(plain(s["text"]).split()) for s in job["segments"]]  # not "#" marks
        expected = sum(max(3.0, 0.4 * count) for count in words)
        assert abs(container.duration / 1e6 - expected) < 0.1
        assert container.streams.subtitles, "the text is shown as captions"
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")

    # The 16:9 picture sits whole in the middle (sharp), on a blur of itself (smooth).
    def sharpness(rows: np.ndarray) -> float:
        return float(np.abs(np.diff(rows.astype(np.int16), axis=1)).mean())

    assert sharpness(frame[760:1160]) > 3 * sharpness(frame[40:440])
    # A silent story's words are burned in: white text on the band near the bottom, where
    # the dimmed background is never that bright.
    white = (frame[1600:1920] > 235).all(axis=2)
    assert white.sum() > 500, "the first sentence is drawn over the picture"
    assert not (frame[40:440] > 235).all(axis=2).any()
    assert not (out / "story.vtt").exists(), "captions files follow speech; there is none"


def test_bad_video_options_are_refused_by_name_and_nothing_is_made(
    run_stories, tmp_path: Path
) -> None:
    result = run_stories(
        "make", str(EXAMPLES / "solar-system.txt"), "--type", "educational", "--pictures", "2",
        "--out", str(tmp_path / "story"), "--video", "--aspect", "4:3", "--fps", "7",
        "--captions", "loud",
    )  # fmt: skip
    assert result.returncode == 2
    for name in ("--aspect", "--fps", "--captions"):
        assert name in result.stderr
    assert not (tmp_path / "story").exists()


def test_a_video_option_without_video_is_refused(run_stories, tmp_path: Path) -> None:
    result = run_stories(
        "make", str(EXAMPLES / "solar-system.txt"), "--type", "educational", "--pictures", "2",
        "--out", str(tmp_path / "story"), "--aspect", "9:16", "--captions", "burned",
    )  # fmt: skip
    assert result.returncode == 2
    assert "--aspect, --captions: only with --video" in result.stderr
    assert not (tmp_path / "story").exists()
