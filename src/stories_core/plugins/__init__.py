"""Plugin hooks (pluggy) and the registry built from the plugins that are installed."""

from stories_core.plugins.hookspecs import hookimpl
from stories_core.plugins.registry import (
    PluginCatalog,
    PluginInfo,
    Registry,
    build_registry,
    make_plugin_manager,
)
from stories_core.plugins.settings import backend_settings

__all__ = [
    "PluginCatalog",
    "PluginInfo",
    "Registry",
    "backend_settings",
    "build_registry",
    "hookimpl",
    "make_plugin_manager",
]
