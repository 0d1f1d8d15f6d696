"""Fixtures for the openai backend: a local fake OpenAI-compatible server and a backend
pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fake_openai_api import FakeOpenAI
from stories_openai import OpenAIBackend, OpenAIBackendFactory

from tests.e2e.conftest import run_stories  # noqa: F401  (shared fixture: the CLI in a process)
from tests.model_backends import backend, backend_maker, brief, style  # noqa: F401  (shared fixtures)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A running fake server: `.base_url`, `.environ()`, `.queue()`, `.always()`,
    `.requests`. With nothing queued it answers every endpoint plausibly."""
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def make_backend(fake_openai: FakeOpenAI) -> Callable[..., OpenAIBackend]:
    """Build a backend against the fake; keyword arguments override settings by field name."""
    return backend_maker(OpenAIBackendFactory().create, fake_openai)
