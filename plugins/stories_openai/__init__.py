"""The `openai` generator backend plugin (the official openai SDK), for any server that speaks
OpenAI's API. Nothing connects until it is used."""

from __future__ import annotations

from collections.abc import Sequence

from stories_core.plugins import hookimpl
from stories_core.ports import BackendFactory
from stories_openai.backend import OpenAIBackend, OpenAIBackendFactory

__all__ = ["OpenAIBackend", "OpenAIBackendFactory", "stories_register_backends"]


@hookimpl
def stories_register_backends() -> Sequence[BackendFactory]:
    return [OpenAIBackendFactory()]
