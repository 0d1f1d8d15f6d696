"""What the test groups of the language-model backends (tests/gemini, tests/openai) share:
the `backend`, `style` and `brief` fixtures their conftests import, a way to build their
`make_backend` fixture, and helpers for checking media."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import TypeVar

import pytest
import soundfile

from stories_core.generation import ContentStyle, SegmentBrief, Voices
from stories_core.ports import GeneratorBackend
from tests.fake_model_server import FakeModelServer

B = TypeVar("B", bound=GeneratorBackend)


def backend_maker(
    create: Callable[[Mapping[str, str]], B], fake: FakeModelServer
) -> Callable[..., B]:
    """What a `make_backend` fixture gives: build a backend (with `create`, a factory's)
    against the running `fake`; keyword arguments override settings by field name."""

    def make(**overrides: str) -> B:
        return create(fake.environ(**overrides))

    return make


@pytest.fixture
def backend(make_backend: Callable[..., GeneratorBackend]) -> GeneratorBackend:
    return make_backend()


@pytest.fixture
def style() -> ContentStyle:
    return ContentStyle(
        name="financial",
        description="Reports and explainers about money and markets",
        tone="Calm, precise and plain-spoken; define jargon the first time it appears.",
        image_style="clean flat vector infographic, muted blues and greens",
        visual="chart",
        disclaimer="This is not financial advice.",
        voices=Voices(narrator_name="Alex", second_host_name="Sam"),
    )


@pytest.fixture
def brief() -> SegmentBrief:
    return SegmentBrief(
        index=1,
        count=3,
        title="Why rates matter",
        text="When interest rates rise, borrowing costs more. Companies delay new projects.",
        story_title="Money basics",
    )


def is_mp3(data: bytes) -> bool:
    return data[:3] == b"ID3" or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0)


def audio_seconds(data: bytes) -> float:
    """How long an audio file (WAV, FLAC, MP3...) plays, read back with soundfile."""
    samples, rate = soundfile.read(io.BytesIO(data))
    return len(samples) / rate


HELLO_TIMINGS = {
    "timing_source": "estimated",
    "sentences": [
        {
            **{"text": "Hello, listeners.", "start": 0.0, "end": 1.5, "line": 0},
            **{"speaker": "Alex", "role": "narrator"},
        }
    ],
    "words": [
        {"text": "Hello,", "start": 0.0, "end": 0.536, "line": 0},  # 5 letters of 14
        {"text": "listeners.", "start": 0.536, "end": 1.5, "line": 0},
    ],
}
"""The estimated timings of "Hello, listeners." spoken in 1.5 s (neither Gemini's nor an
OpenAI-compatible server's speech reports any)."""
