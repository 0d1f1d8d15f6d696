"""Render a finished story as an MP4 with PyAV (FFmpeg's libraries inside the `av` wheel).

H.264 video (libx264) and AAC audio, `faststart` (the index first, so a browser plays
while it downloads), a soft subtitle track (mov_text, which MP4 players and browsers
read) from the story's cues, and one chapter per segment named by its title. What is on
screen when is `stories_core.video`'s plan; here it becomes pixels and samples.

Frames are made one at a time by a producer thread (crop the scene's picture for its zoom
and drift, let FFmpeg's swscale scale and convert it, blend two during a crossfade) while
this thread encodes and writes them; a scene's audio and cues are written as its frames
begin, so the muxer never holds more than a scene. Memory stays flat however long the
story.
"""

from __future__ import annotations

import io
import queue
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from pathlib import Path

import av
import numpy as np
from langcodes import Language
from PIL import Image, ImageFilter

from stories_core.captions import Cue
from stories_core.model import Asset, Job
from stories_core.video import (
    CROSSFADE_SECONDS,
    CaptionMode,
    Scene,
    VideoOptions,
    framing,
    scene_cues,
    scenes,
)

AssetReader = Callable[[Asset], Iterator[bytes]]
Progress = Callable[[float], None]
CaptionPainter = Callable[[list[str], int, int, str], Image.Image]
"""(a cue's lines, band width in pixels, font size in pixels, BCP-47 language) -> an RGBA
band: the cue as it is drawn into the frames (the `local` plugin's `caption_band`)."""
AUDIO_RATE = 48_000
AUDIO_BITRATE = 96_000
LAME_DELAY_SAMPLES = 576 + 529
"""An MP3's encoder delay plus the decoder's, in samples at its own rate (LAME's figures)."""
MS = Fraction(1, 1000)
# libx264's fastest preset: the pictures move slowly, so its frames compress well anyway,
# and on two cores a slower preset cannot keep 720p at four times real time.
X264 = {"preset": "ultrafast", "crf": "23", "tune": "stillimage"}
# FFmpeg's mov_text encoder writes the track's sample description when it opens, and
# opens only with an ASS header; the cues themselves are written directly (`_write_cue`).
ASS_HEADER = (
    b"[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n[V4+ Styles]\n"
    b"Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
    b"BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
    b"BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
    b"Style: Default,Sans,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0"
    b"\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, "
    b"Effect, Text\n"
)


@dataclass(frozen=True)
class VideoInfo:
    duration: float
    """Seconds: the sum of the scenes (of the narrations, when there is audio)."""
    frames: int
    width: int
    height: int


def render_video(
    job: Job,
    read_asset: AssetReader,
    path: Path,
    options: VideoOptions,
    paint: CaptionPainter,
    progress: Progress | None = None,
) -> VideoInfo:
    """Write `job`'s video to `path` (an MP4); `paint` draws burned-in captions;
    `progress(fraction)` is told as it goes."""
    plan = scenes(job)
    if not plan:
        raise ValueError("a story without segments has no video")
    width, height = options.size
    total = round(plan[-1].end * options.fps)
    cues = scene_cues(job)
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        video = out.add_stream("libx264", rate=options.fps, options=X264)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        audio.bit_rate = AUDIO_BITRATE
        subtitles = out.add_stream("mov_text")
        subtitles.codec_context.time_base = subtitles.time_base = MS
        subtitles.codec_context.subtitle_header = ASS_HEADER
        language = _iso639_2(job.language)
        for stream in (audio, subtitles):
            stream.metadata["language"] = language
        out.metadata["title"] = job.story_title or "Story"
        out.set_chapters(
            [
                {
                    "id": scene.index + 1,
                    "start": round(scene.start * 1000),
                    "end": round(scene.end * 1000),
                    "time_base": MS,
                    "metadata": {"title": scene.title},
                }
                for scene in plan
            ]
        )
        # A silent story's words are on screen or nowhere: its captions are always burned in.
        burned = options.captions is CaptionMode.BURNED or all(s.audio is None for s in plan)
        overlay = _Captions(cues, options.size, job.language, paint) if burned else None
        frames = _Frames(plan, read_asset, options, overlay)
        written = 0
        unheard, unshown = list(plan), list(cues)

        def begin(scene: Scene) -> int:
            """The scene's sound and cues, written as its first frame is (or at the end)."""
            samples = _write_audio(out, audio, scene, read_asset, written)
            while unshown and unshown[0].start < scene.end:
                _write_cue(out, subtitles, unshown.pop(0))
            return samples

        for number, frame in enumerate(frames.produce(total)):
            at = number / options.fps
            while unheard and unheard[0].start <= at:  # a scene shorter than a frame too
                written = begin(unheard.pop(0))
            frame.pts, frame.time_base = number, Fraction(1, options.fps)
            for packet in video.encode(frame):
                out.mux(packet)
            if progress and number % options.fps == 0:
                progress(number / total)
        for scene in unheard:
            written = begin(scene)
        for stream in (video, audio):
            for packet in stream.encode(None):
                out.mux(packet)
    if progress:
        progress(1.0)
    return VideoInfo(plan[-1].end, total, width, height)


class _Frames:
    """The video's frames in order, made on a thread ahead of the encoder."""

    def __init__(
        self,
        plan: list[Scene],
        read_asset: AssetReader,
        options: VideoOptions,
        captions: _Captions | None,
    ):
        self._plan = plan
        self._read = read_asset
        self._options = options
        self._captions = captions
        # Burned captions are drawn on RGB frames; otherwise frames go straight to YUV.
        self._format = "rgb24" if captions else "yuv420p"
        self._canvases: dict[int, np.ndarray] = {}

    def scene_at(self, at: float) -> Scene:
        return next((s for s in reversed(self._plan) if s.start <= at), self._plan[0])

    def produce(self, total: int) -> Iterator[av.VideoFrame]:
        made: queue.Queue[av.VideoFrame | BaseException | None] = queue.Queue(maxsize=8)
        stop = threading.Event()

        def run() -> None:
            try:
                for number in range(total):
                    if stop.is_set():
                        return
                    made.put(self._frame(number / self._options.fps))
                made.put(None)
            except BaseException as error:  # handed to the encoding thread to raise
                made.put(error)

        worker = threading.Thread(target=run, name="video-frames", daemon=True)
        worker.start()
        try:
            while (item := made.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while worker.is_alive():  # unblock a producer waiting on a full queue
                try:
                    made.get_nowait()
                except queue.Empty:
                    worker.join(0.05)

    def _frame(self, at: float) -> av.VideoFrame:
        scene = self.scene_at(at)
        current = self._view(scene, at)
        into = at - scene.start
        if scene.index != self._plan[0].index and into < CROSSFADE_SECONDS:
            previous = self._plan[self._plan.index(scene) - 1]
            # The new picture shows from the scene's first frame, fully after the crossfade.
            alpha = min(1.0, (into + 1 / self._options.fps) / CROSSFADE_SECONDS)
            blend = self._view(previous, at).to_ndarray() * (1 - alpha)
            blend += current.to_ndarray() * alpha
            current = av.VideoFrame.from_ndarray(blend.astype(np.uint8), format=self._format)
        if self._captions is None:
            return current
        pixels = current.to_ndarray()
        self._captions.draw(pixels, at)
        return av.VideoFrame.from_ndarray(pixels, format="rgb24")

    def _view(self, scene: Scene, at: float) -> av.VideoFrame:
        canvas = self._canvas(scene)
        rows, columns = canvas.shape[:2]
        into = (at - scene.start) / scene.duration if scene.duration > 0 else 1.0
        view = framing(scene.index, into)
        wide, high = round(columns / view.zoom), round(rows / view.zoom)
        left = min(max(0, round(view.x * columns - wide / 2)), columns - wide)
        top = min(max(0, round(view.y * rows - high / 2)), rows - high)
        crop = np.ascontiguousarray(canvas[top : top + high, left : left + wide])
        width, height = self._options.size
        return av.VideoFrame.from_ndarray(crop, format="rgb24").reformat(
            width=width, height=height, format=self._format, interpolation="BILINEAR"
        )

    def _canvas(self, scene: Scene) -> np.ndarray:
        """The scene's picture as the frame's shape: as it is when it has the frame's
        aspect, else whole and centred on a blurred, dimmed cover of itself (a chart is
        never cropped to fit a portrait frame)."""
        if scene.index not in self._canvases:
            for index in [i for i in self._canvases if i < scene.index - 1]:
                del self._canvases[index]  # never on screen again
            self._canvases[scene.index] = np.asarray(self._compose(scene))
        return self._canvases[scene.index]

    def _compose(self, scene: Scene) -> Image.Image:
        width, height = self._options.size
        if scene.picture is None:
            return Image.new("RGB", (width, height), "#1f2937")
        picture = Image.open(io.BytesIO(b"".join(self._read(scene.picture)))).convert("RGB")
        if abs(picture.width / picture.height - width / height) < 0.01:
            return picture
        cover = max(width / picture.width, height / picture.height)
        background = picture.resize(
            (round(picture.width * cover), round(picture.height * cover)), Image.Resampling.BILINEAR
        )
        left, top = (background.width - width) // 2, (background.height - height) // 2
        background = background.crop((left, top, left + width, top + height))
        # Blurred and dimmed enough that the picture's own text never reads through.
        background = background.filter(ImageFilter.GaussianBlur(48)).point(lambda v: v * 4 // 10)
        fit = min(width / picture.width, height / picture.height)
        size = (round(picture.width * fit), round(picture.height * fit))
        background.paste(
            picture.resize(size, Image.Resampling.LANCZOS),
            ((width - size[0]) // 2, (height - size[1]) // 2),
        )
        return background


class _Captions:
    """Burned-in captions: each cue's band (`CaptionPainter`) laid over the frames near
    the bottom while the cue is heard."""

    def __init__(
        self, cues: list[Cue], size: tuple[int, int], language: str, paint: CaptionPainter
    ) -> None:
        self._paint = paint
        self._cues = cues
        self._width, self._height = size
        self._language = language
        # 42 columns of text fit the width of every frame shape at this size.
        self._font = round(min(self._width, self._height) * 0.04)
        self._next = 0
        self._shown: tuple[Cue, int, np.ndarray, np.ndarray] | None = None

    def draw(self, pixels: np.ndarray, at: float) -> None:
        """Lay the cue heard at `at` seconds over `pixels` (rows x columns x RGB), in
        place; times only ever grow between calls."""
        while self._next < len(self._cues) and self._cues[self._next].end <= at:
            self._next += 1
        if self._next == len(self._cues) or self._cues[self._next].start > at:
            return
        cue = self._cues[self._next]
        if self._shown is None or self._shown[0] is not cue:
            self._shown = (cue, *self._band(cue))
        _, top, colour, alpha = self._shown
        region = pixels[top : top + len(alpha)]
        region[:] = (region * (1 - alpha) + colour * alpha).astype(np.uint8)

    def _band(self, cue: Cue) -> tuple[int, np.ndarray, np.ndarray]:
        lines = list(cue.lines)
        if cue.speaker:
            lines[0] = f"{cue.speaker}: {lines[0]}"
        band = self._paint(lines, self._width, self._font, self._language)
        rgba = np.asarray(band.convert("RGBA"), dtype=np.float32)
        # Low, over the picture's footer rather than a chart's axis labels above it.
        top = self._height - band.height - round(self._height * 0.025)
        return top, rgba[..., :3], rgba[..., 3:] / 255


def _write_audio(
    out: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    scene: Scene,
    read_asset: AssetReader,
    written: int,
) -> int:
    """The scene's narration (or silence), cut or padded to end exactly at the scene's end
    so that sound and pictures never drift apart; decoded, resampled and encoded a frame
    at a time. Returns the samples written in all."""
    end = round(scene.end * AUDIO_RATE)
    if scene.audio is not None:
        with av.open(io.BytesIO(b"".join(read_asset(scene.audio)))) as source:
            decoder = source.streams.audio[0]
            skip = 0
            if decoder.codec_context.name.startswith("mp3"):
                # LAME (every speech backend's encoder here) writes no gapless header, so
                # a decoder puts its delay before the speech: it would lag the pictures.
                skip = round(LAME_DELAY_SAMPLES * AUDIO_RATE / decoder.codec_context.sample_rate)
            resampler = av.AudioResampler(format="fltp", layout="mono", rate=AUDIO_RATE)
            for decoded in chain(source.decode(decoder), [None]):
                for piece in resampler.resample(decoded):
                    samples = piece.to_ndarray()[0]
                    cut = min(skip, len(samples))
                    skip -= cut
                    samples = samples[cut : cut + end - written]
                    written = _encode_audio(out, stream, samples, written)
    while written < end:  # silence: a silent scene, or a narration shorter than its scene
        written = _encode_audio(
            out, stream, np.zeros(min(end - written, AUDIO_RATE), np.float32), written
        )
    return written


def _encode_audio(
    out: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    samples: np.ndarray,
    written: int,
) -> int:
    if not len(samples):
        return written
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples.reshape(1, -1)), format="fltp", layout="mono"
    )
    frame.sample_rate = AUDIO_RATE
    frame.pts = written
    for packet in stream.encode(frame):
        out.mux(packet)
    return written + len(samples)


def _write_cue(
    out: av.container.OutputContainer, stream: av.subtitles.stream.SubtitleStream, cue: Cue
) -> None:
    """One cue as a 3GPP timed-text sample (mov_text: the UTF-8 text after its length, as
    two big-endian bytes; 3GPP TS 26.245). Written directly, not through FFmpeg's
    encoder, which reads ASS markup ("{\\b1}", "\\N") into any text."""
    text = "\n".join(cue.lines)
    if cue.speaker:
        text = f"{cue.speaker}: {text}"
    data = text.encode("utf-8")[:65_535]
    start, end = round(cue.start * 1000), round(cue.end * 1000)
    packet = av.Packet(struct.pack(">H", len(data)) + data)
    packet.stream = stream
    packet.pts = packet.dts = start
    packet.duration = end - start
    packet.time_base = MS
    out.mux(packet)


def _iso639_2(tag: str) -> str:
    """The three-letter code MP4 stores a track's language in ("en" -> "eng")."""
    try:
        return Language.get(tag).to_alpha3()
    except (LookupError, ValueError):
        return "und"
