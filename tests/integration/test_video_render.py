"""The video renderer on hand-made stories, read back with PyAV: the edges a real story
rarely shows (a scene shorter than a frame, a backend that records no timings, caption
text that looks like markup) and sound that starts exactly with its picture."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import av
import lameenc
import numpy as np
import pytest
from PIL import Image
from stories_local.captions import caption_band

from stories_adapters.video import render_video
from stories_core.model import Asset, AssetKind, AudioType, Job, JobState, Segment
from stories_core.video import VideoOptions

RATE = 22_050
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def mp3_with_click(seconds: float, click_at: float) -> bytes:
    """Silence with one loud click: where the click is heard shows where speech starts."""
    samples = np.zeros(round(seconds * RATE), np.int16)
    at = round(click_at * RATE)
    samples[at : at + 40] = 20_000
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(64)
    encoder.set_in_sample_rate(RATE)
    encoder.set_channels(1)
    return bytes(encoder.encode(samples.tobytes()) + encoder.flush())


def png(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (1024, 576), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def story(scenes: list[tuple[str, float, dict | None]]) -> tuple[Job, dict[str, bytes]]:
    """A finished job with one segment per (colour, narration seconds, audio metadata
    beyond the duration: None for the engine timings of one sentence)."""
    job = Job(
        id="job", tenant="t", text="", content_type="educational", pictures=len(scenes),
        audio_type=AudioType.FREE_SPEECH, backend="local", created_at=NOW, updated_at=NOW,
        state=JobState.SUCCEEDED,
    )  # fmt: skip
    blobs: dict[str, bytes] = {}
    for index, (colour, seconds, extra) in enumerate(scenes):
        segment = Segment(f"s{index}", "job", index, 0, 1, f"Part {index}", f"Part {index}.")
        sentence = {"text": f"Part {index}.", "start": 0.0, "end": seconds, "line": 0}
        metadata = extra if extra is not None else {"sentences": [sentence], "words": []}
        for kind, data in (
            (AssetKind.IMAGE, png(colour)),
            (AssetKind.AUDIO, mp3_with_click(max(seconds, 0.1), 0.5)),
        ):
            key = f"{segment.id}-{kind.value}"
            blobs[key] = data
            segment.assets.append(
                Asset(
                    key, "job", segment.id, kind, key, "", len(data), "",
                    {"duration_seconds": seconds, **metadata}
                    if kind is AssetKind.AUDIO else {},
                )
            )  # fmt: skip
        job.segments.append(segment)
    return job, blobs


def render(tmp_path, job: Job, blobs: dict[str, bytes], captions: str = "soft"):
    path = tmp_path / "story.mp4"
    render_video(
        job,
        lambda asset: iter([blobs[asset.key]]),
        path,
        VideoOptions.parse("1:1", 25, captions),
        caption_band,
    )
    return av.open(str(path))


def test_speech_starts_with_its_picture_not_after_the_mp3s_delay(tmp_path) -> None:
    job, blobs = story([("#204080", 1.0, None), ("#a04020", 1.2, None)])
    with render(tmp_path, job, blobs) as container:
        samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
    rate = 48_000
    clicks = np.flatnonzero(np.abs(samples) > 0.3)
    first = clicks[0] / rate
    second = clicks[clicks > 0.9 * rate][0] / rate
    assert first == pytest.approx(0.5, abs=0.005)  # 0.5 s into the first scene
    assert second == pytest.approx(1.5, abs=0.005)  # 0.5 s into the second, at 1.0 s
    assert len(samples) == pytest.approx(2.2 * rate, abs=2 * 1024)  # whole AAC frames


def test_a_scene_shorter_than_a_frame_neither_crashes_nor_shifts_the_sound(tmp_path) -> None:
    job, blobs = story([("#204080", 1.0, None), ("#00ff00", 0.0, None), ("#a04020", 1.0, None)])
    with render(tmp_path, job, blobs) as container:
        assert container.duration / 1e6 == pytest.approx(2.0, abs=0.05)
        chapters = container.chapters()
        samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
    assert [c["metadata"]["title"] for c in chapters] == ["Part 0", "Part 1", "Part 2"]
    clicks = np.flatnonzero(np.abs(samples) > 0.3) / 48_000
    assert clicks[-1] == pytest.approx(1.5, abs=0.005), "the third narration is on time"


def test_a_backend_without_timings_still_gets_its_narration_and_captions(tmp_path) -> None:
    narration = {"narration": "narrator: Hello there. Goodbye now."}
    job, blobs = story([("#204080", 2.0, narration)])
    with render(tmp_path, job, blobs) as container:
        samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
        container.seek(0)
        texts = [
            bytes(sub.dialogue).decode()
            for packet in container.demux(container.streams.subtitles[0])
            for sub in packet.decode()
        ]
    assert np.abs(samples).max() > 0.3, "the audio is there, not silence"
    assert texts == ["Hello there.", "Goodbye now."]


def test_caption_text_that_looks_like_markup_is_shown_as_written(tmp_path) -> None:
    sentence = r"Save C:\new\{draft} as {\b1}bold."
    metadata = {
        "sentences": [{"text": sentence, "start": 0.0, "end": 1.0, "line": 0}],
        "words": [],
    }
    job, blobs = story([("#204080", 1.0, metadata)])
    with render(tmp_path, job, blobs) as container:
        samples = [bytes(packet) for packet in container.demux(container.streams.subtitles[0])]
    # 3GPP timed text: the text's length in two bytes, then the text, exactly.
    shown = [sample[2:].decode() for sample in samples if len(sample) > 2]
    assert shown == [sentence]
