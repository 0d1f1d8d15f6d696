"""Fixtures for the gemini backend: a local fake Gemini API and a backend pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fake_gemini_api import FakeGemini
from stories_gemini import GeminiBackend, GeminiBackendFactory

from tests.e2e.conftest import run_stories  # noqa: F401  (shared fixture: the CLI in a process)
from tests.model_backends import backend, backend_maker, brief, style  # noqa: F401  (shared fixtures)


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    """A running fake Gemini API: `.base_url`, `.environ()`, `.queue()`, `.always()`,
    `.requests`. With nothing queued it answers every endpoint plausibly."""
    with FakeGemini() as fake:
        yield fake


@pytest.fixture
def make_backend(fake_gemini: FakeGemini) -> Callable[..., GeminiBackend]:
    """Build a backend against the fake; keyword arguments override settings by field name."""
    return backend_maker(GeminiBackendFactory().create, fake_gemini)
