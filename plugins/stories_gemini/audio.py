"""Gemini TTS speaks raw PCM (signed 16-bit little-endian); stories stores MP3."""

from __future__ import annotations

import re
from dataclasses import dataclass

import lameenc

from stories_core.errors import ModelOutputInvalid

DEFAULT_RATE = 24_000
MP3_BITRATE_KBPS = 64  # plenty for speech
SAMPLE_WIDTH = 2


@dataclass(frozen=True)
class PcmFormat:
    rate: int
    channels: int


def pcm_format(mime_type: str) -> PcmFormat:
    """Read e.g. "audio/L16;codec=pcm;rate=24000" (rate and channels default to mono 24 kHz)."""
    essence, _, params = mime_type.lower().partition(";")
    if essence.strip() not in ("audio/l16", "audio/pcm"):
        raise ModelOutputInvalid(f"Gemini's speech is {mime_type!r}, not raw 16-bit PCM")
    values = dict(re.findall(r"(\w+)\s*=\s*(\d+)", params))
    return PcmFormat(int(values.get("rate", DEFAULT_RATE)), int(values.get("channels", 1)))


def duration_seconds(pcm: bytes, fmt: PcmFormat) -> float:
    return len(pcm) / (SAMPLE_WIDTH * fmt.channels * fmt.rate)


def encode_mp3(pcm: bytes, fmt: PcmFormat) -> bytes:
    """MP3 of whole PCM frames (a stray trailing byte is dropped)."""
    frame = SAMPLE_WIDTH * fmt.channels
    whole = pcm[: len(pcm) - len(pcm) % frame]
    if not whole:
        raise ModelOutputInvalid("Gemini's speech has no audio samples")
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(MP3_BITRATE_KBPS)
    encoder.set_in_sample_rate(fmt.rate)
    encoder.set_channels(fmt.channels)
    encoder.set_quality(2)
    return bytes(encoder.encode(whole) + encoder.flush())
