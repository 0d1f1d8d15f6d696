"""`stories make` end to end, as a newcomer runs it: real speech, real pictures."""

import html
import io
import json
import sqlite3
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import soundfile
import srt
import webvtt
from PIL import Image

from stories_core import markup
from tests.e2e.conftest import EXAMPLES


def decoded_seconds_and_loudness(path: Path) -> tuple[float, float]:
    samples, rate = soundfile.read(io.BytesIO(path.read_bytes()))
    return len(samples) / rate, float(np.sqrt(np.mean(np.square(samples))))


def seconds(stamp: str) -> float:
    """A WebVTT time stamp (hh:mm:ss.ttt) in seconds."""
    hours, minutes, rest = stamp.split(":")
    return round(int(hours) * 3600 + int(minutes) * 60 + float(rest), 3)


def test_make_writes_markup_json_assets_and_a_page(run_stories, tmp_path: Path) -> None:
    out = tmp_path / "story"
    result = run_stories(
        "make", str(EXAMPLES / "solar-system.txt"), "--type", "educational",
        "--pictures", "4", "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    job = json.loads((out / "story.json").read_text())
    text = (EXAMPLES / "solar-system.txt").read_text()
    assert job["state"] == "succeeded" and job["segment_count"] == 4
    assert [s["title"] for s in job["segments"]] == [
        "The Solar System", "The Inner Planets", "The Outer Planets", "Smaller Worlds",
    ]  # fmt: skip
    for segment in job["segments"]:
        assert text[segment["start"] : segment["end"]] == segment["text"]
        kinds = {a["kind"]: a for a in segment["assets"]}
        assert set(kinds) == {"image", "audio"}
        image = Image.open(out / kinds["image"]["path"])
        assert image.format == "PNG" and image.size == (1024, 576)
        assert kinds["image"]["metadata"]["width"] == 1024
        assert kinds["image"]["metadata"]["prompt"]
        audio_path = out / kinds["audio"]["path"]
        assert audio_path.stat().st_size == kinds["audio"]["size"]
        seconds, loudness = decoded_seconds_and_loudness(audio_path)
        words = len(segment["text"].split())
        assert 0.2 * words < seconds < 1.5 * words + 10, "speech-length audio"
        assert loudness > 0.01, "the audio is not silence"
        assert abs(seconds - kinds["audio"]["metadata"]["duration_seconds"]) < 0.5
    document = markup.parse((out / "story.markup").read_text())
    assert [s.segment_id for s in document.segments] == [s["id"] for s in job["segments"]]
    page = (out / "story.html").read_text()
    assert page.count("<img ") == 4 and page.count("<audio ") == 4
    assert "The Outer Planets" in page
    assert page.count("<h2>The Outer Planets</h2>") == 1
    assert "<p>#" not in page, "a segment's own heading line is not repeated as text"
    assert "An educational story in 4 parts" in page
    with sqlite3.connect(tmp_path / "home" / "stories.db") as database:
        pending = database.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        assert pending.fetchone() == (0,), "the job's messages were relayed, none left behind"


@pytest.mark.parametrize(
    ("example", "style", "audio"),
    [
        ("quarterly-report.txt", "financial", "podcast"),
        ("the-lighthouse.txt", "fictional", "verbatim"),
        ("solar-system.txt", "educational", "none"),
    ],
)
def test_each_style_and_audio_type(run_stories, tmp_path, example, style, audio) -> None:
    result = run_stories(
        "make", str(EXAMPLES / example), "--type", style, "--pictures", "2",
        "--audio", audio, "--out", "out", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["audio_type"] == audio and len(job["segments"]) == 2
    audio_assets = [a for s in job["segments"] for a in s["assets"] if a["kind"] == "audio"]
    if audio == "none":
        assert audio_assets == []
    else:
        assert len(audio_assets) == 2
    if audio == "podcast":
        assert all(len(set(a["metadata"]["voices"])) == 2 for a in audio_assets)
    if audio == "verbatim":
        for segment in job["segments"]:
            narration = next(a for a in segment["assets"] if a["kind"] == "audio")
            assert segment["text"].split()[-1] in narration["metadata"]["narration"]
        # Read as written: the page shows the text once, as the read-along transcript.
        page = (tmp_path / "out" / "story.html").read_text(encoding="utf-8")
        first = job["segments"][0]["assets"]
        said = next(a for a in first if a["kind"] == "audio")["metadata"]["sentences"][1]
        assert page.count(html.escape(said["text"])) == 1


@pytest.mark.parametrize(("audio", "voices"), [("free_speech", 1), ("podcast", 2)])
def test_captions_follow_the_speech_of_the_whole_story_and_each_segment(
    run_stories, tmp_path: Path, audio: str, voices: int
) -> None:
    out = tmp_path / "story"
    result = run_stories(
        "make", str(EXAMPLES / "quarterly-report.txt"), "--type", "financial",
        "--pictures", "3", "--audio", audio, "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    job = json.loads((out / "story.json").read_text())
    narrations = [
        next(a for a in s["assets"] if a["kind"] == "audio")["metadata"] for s in job["segments"]
    ]
    assert all(n["timing_source"] == "engine" for n in narrations)
    story = list(webvtt.read(out / "story.vtt"))
    subrip = list(srt.parse((out / "story.srt").read_text()))
    assert len(story) == len(subrip) >= len(narrations)
    starts = [seconds(c.start) for c in story]
    assert starts == [s.start.total_seconds() for s in subrip]
    total = sum(n["duration_seconds"] for n in narrations)
    for cue, after in pairwise(story):
        assert seconds(cue.start) < seconds(cue.end) <= seconds(after.start)
    assert seconds(story[-1].end) <= total + 1e-3
    assert {c.voice for c in story} == ({"Grace", "Tom"} if voices == 2 else {None})
    # The second segment's cues start when its narration does: after the first one's.
    segment = list(webvtt.read(out / "assets" / "01-captions.vtt"))
    offset = narrations[0]["duration_seconds"]
    first = next(c for c in story if seconds(c.start) >= offset - 1e-3)
    assert abs(seconds(first.start) - offset - seconds(segment[0].start)) < 2e-3
    assert first.text == segment[0].text
    for cue in story:
        lines = cue.text.splitlines()  # without the voice span
        assert len(lines) <= 2 and all(len(line) <= 42 for line in lines)


def test_input_from_stdin(run_stories) -> None:
    text = b"A short note about tides. The moon pulls the sea. Twice a day it rises."
    result = run_stories(
        "make", "-", "--type", "educational", "--pictures", "2", "--audio", "none",
        "--out", "out", "--json", stdin=text,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["segments"]) == 2


def test_the_same_text_gives_the_same_pictures_and_sound(run_stories, tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        result = run_stories(
            "make", str(EXAMPLES / "the-lighthouse.txt"), "--type", "fictional",
            "--pictures", "2", "--out", name, "--json",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        job = json.loads(result.stdout)
        outputs.append([a["checksum"] for s in job["segments"] for a in s["assets"]])
    assert outputs[0] == outputs[1]
