"""The `local` generator backend: offline, deterministic, and the default.

Registered through the `stories` entry-point group like any third-party plugin.
"""

from __future__ import annotations

from stories_core.plugins import hookimpl
from stories_local.backend import LocalBackend, LocalBackendFactory, LocalSettings

__all__ = ["LocalBackend", "LocalBackendFactory", "LocalSettings", "stories_register_backends"]


@hookimpl
def stories_register_backends() -> list[LocalBackendFactory]:
    """The local backend's factory."""
    return [LocalBackendFactory()]
