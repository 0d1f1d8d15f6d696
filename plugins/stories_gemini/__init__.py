"""The `gemini` generator backend plugin (google-genai). Nothing connects until it is used."""

from __future__ import annotations

from collections.abc import Sequence

from stories_core.plugins import hookimpl
from stories_core.ports import BackendFactory
from stories_gemini.backend import GeminiBackend, GeminiBackendFactory

__all__ = ["GeminiBackend", "GeminiBackendFactory", "stories_register_backends"]


@hookimpl
def stories_register_backends() -> Sequence[BackendFactory]:
    return [GeminiBackendFactory()]
