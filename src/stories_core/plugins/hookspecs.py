"""The hooks a `stories` plugin may implement. Few, typed, and each returns objects.

A plugin is a module named in the `stories` entry-point group that defines functions
decorated with `hookimpl` and named like the specs below.
"""

from __future__ import annotations

from collections.abc import Sequence

import pluggy

from stories_core.generation import ContentStyle
from stories_core.ports import BackendFactory

PROJECT_NAME = "stories"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def stories_register_content_styles() -> Sequence[ContentStyle]:
    """Return the content styles this plugin adds (each name unique across plugins)."""
    raise NotImplementedError


@hookspec
def stories_register_backends() -> Sequence[BackendFactory]:
    """Return factories for the generator backends this plugin adds."""
    raise NotImplementedError
