"""Speech servers answer in whichever format they like (mp3, wav, opus, aac, flac, raw pcm);
PyAV decodes any of them to one PCM format, and stories stores MP3 (lameenc)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import lameenc

from stories_core.errors import ModelOutputInvalid

RATE = 24_000  # what OpenAI's and Kokoro's voices speak at; anything else is resampled
SAMPLE_WIDTH = 2  # signed 16-bit, mono
MP3_BITRATE_KBPS = 64  # plenty for speech
# `pcm` from /audio/speech is headerless: signed 16-bit little-endian mono at 24 kHz.
RAW_PCM_OPTIONS = {"sample_rate": str(RATE), "ch_layout": "mono"}
CONTAINER_MAGIC = (b"RIFF", b"ID3", b"OggS", b"fLaC", b"\xff\xf1", b"\xff\xf9", b"\xff\xfb")


@dataclass(frozen=True)
class Decoded:
    pcm: bytes
    """Signed 16-bit little-endian mono at RATE."""
    source_format: str
    """The container the server sent, as FFmpeg names it (wav, mp3, ogg, aac, flac, pcm)."""


def decode(data: bytes, asked: str) -> Decoded:
    """The audio in `data`, whatever its format, as mono PCM at RATE. `asked` is the format
    the server was asked for: `pcm` has no header to recognise it by."""
    if not data:
        raise ModelOutputInvalid("the speech server returned no audio")
    raw = asked == "pcm" and not data.startswith(CONTAINER_MAGIC)
    chunks: list[bytes] = []
    try:
        with av.open(
            io.BytesIO(data),
            format="s16le" if raw else None,
            options=RAW_PCM_OPTIONS if raw else {},
        ) as container:
            if not container.streams.audio:
                raise ModelOutputInvalid("the speech server's answer holds no audio stream")
            source = "pcm" if raw else container.format.name.split(",")[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            for frame in container.decode(container.streams.audio[0]):
                chunks += [_samples(out) for out in resampler.resample(frame)]
            chunks += [_samples(out) for out in resampler.resample(None)]
    except (av.FFmpegError, ValueError) as exc:
        raise ModelOutputInvalid(
            f"the speech server returned bytes that are not {asked} or any audio "
            f"({type(exc).__name__})"
        ) from None
    pcm = b"".join(chunks)
    if not pcm:
        raise ModelOutputInvalid("the speech server's audio has no samples")
    return Decoded(pcm, source)


def _samples(frame: av.AudioFrame) -> bytes:
    return bytes(frame.planes[0])[: frame.samples * SAMPLE_WIDTH]


def silence(seconds: float) -> bytes:
    return bytes(round(seconds * RATE) * SAMPLE_WIDTH)


def duration_seconds(pcm: bytes) -> float:
    return len(pcm) / (SAMPLE_WIDTH * RATE)


def encode_mp3(pcm: bytes) -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(MP3_BITRATE_KBPS)
    encoder.set_in_sample_rate(RATE)
    encoder.set_channels(1)
    encoder.set_quality(2)
    return bytes(encoder.encode(pcm) + encoder.flush())
