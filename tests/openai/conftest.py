"""Fixtures for the openai backend: a local fake OpenAI-compatible server and a backend
pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fake_openai_api import FakeOpenAI
from stories_openai import OpenAIBackend, OpenAIBackendFactory

from stories_core.generation import ContentStyle, SegmentBrief, Voices
from tests.e2e.conftest import run_stories  # noqa: F401  (shared fixture: the CLI in a process)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A running fake server: `.base_url`, `.environ()`, `.queue()`, `.always()`,
    `.requests`. With nothing queued it answers every endpoint plausibly."""
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture
def make_backend(fake_openai: FakeOpenAI) -> Callable[..., OpenAIBackend]:
    """Build a backend against the fake; keyword arguments override settings by field name."""

    def make(**overrides: str) -> OpenAIBackend:
        return OpenAIBackendFactory().create(fake_openai.environ(**overrides))

    return make


@pytest.fixture
def backend(make_backend: Callable[..., OpenAIBackend]) -> OpenAIBackend:
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
