"""Fixtures for the gemini backend: a local fake Gemini API and a backend pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fake_gemini_api import FakeGemini
from stories_gemini import GeminiBackend, GeminiBackendFactory

from stories_core.generation import ContentStyle, SegmentBrief, Voices

TEST_KEY = "test-key-AIzaSyD0-not-a-real-key-7f3b"


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    """A running fake Gemini API; `.base_url`, `.queue(...)`, `.always(...)`, `.requests`."""
    fake = FakeGemini().start()
    yield fake
    fake.stop()


def gemini_environ(base_url: str, **overrides: str) -> dict[str, str]:
    """STORIES_GEMINI_* settings for a fast test run against `base_url` (backoff of ~ms)."""
    environ = {
        "STORIES_GEMINI_API_KEY": TEST_KEY,
        "STORIES_GEMINI_BASE_URL": base_url,
        "STORIES_GEMINI_TEXT_MODEL": "gemini-text-test",
        "STORIES_GEMINI_TTS_MODEL": "gemini-tts-test",
        "STORIES_GEMINI_MAX_ATTEMPTS": "3",
        "STORIES_GEMINI_BACKOFF_BASE_SECONDS": "0.01",
        "STORIES_GEMINI_BACKOFF_MAX_SECONDS": "0.05",
        "STORIES_GEMINI_TIMEOUT_SECONDS": "5",
    }
    environ.update({f"STORIES_GEMINI_{name.upper()}": value for name, value in overrides.items()})
    return environ


@pytest.fixture
def make_backend(fake_gemini: FakeGemini) -> Callable[..., GeminiBackend]:
    """Build a backend against the fake; keyword arguments override settings by field name."""

    def make(**overrides: str) -> GeminiBackend:
        return GeminiBackendFactory().create(gemini_environ(fake_gemini.base_url, **overrides))

    return make


@pytest.fixture
def backend(make_backend: Callable[..., GeminiBackend]) -> GeminiBackend:
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
