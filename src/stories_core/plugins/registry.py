"""Load plugins through the `stories` entry points and index what they register."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pluggy

from stories_core.errors import DuplicateRegistration, InvalidInput, InvalidPlugin
from stories_core.generation import ContentStyle
from stories_core.plugins import hookspecs
from stories_core.ports import BackendFactory, GeneratorBackend


def make_plugin_manager(
    *, load_entrypoints: bool = True, extra_plugins: Iterable[object] = ()
) -> pluggy.PluginManager:
    """A fresh plugin manager; nothing is loaded until this is called."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    try:
        if load_entrypoints:
            manager.load_setuptools_entrypoints(hookspecs.PROJECT_NAME)
        for plugin in extra_plugins:
            manager.register(plugin)
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        hooks = sorted(name for name in vars(hookspecs) if name.startswith("stories_"))
        raise InvalidPlugin(f"{error}; the hooks are: {', '.join(hooks)}") from error
    return manager


@dataclass
class PluginInfo:
    name: str
    version: str | None
    content_styles: list[str] = field(default_factory=list)
    backends: list[str] = field(default_factory=list)


@dataclass
class Registry:
    """Every content style and backend factory the installed plugins registered, by name."""

    styles: dict[str, ContentStyle]
    backends: dict[str, BackendFactory]
    plugins: list[PluginInfo]


def build_registry(manager: pluggy.PluginManager) -> Registry:
    """Call the registration hooks plugin by plugin, refusing a name registered twice."""
    versions = {
        manager.get_name(plugin): dist.version for plugin, dist in manager.list_plugin_distinfo()
    }
    infos: dict[str, PluginInfo] = {}

    def info(plugin_name: str) -> PluginInfo:
        if plugin_name not in infos:
            infos[plugin_name] = PluginInfo(plugin_name, versions.get(plugin_name))
        return infos[plugin_name]

    styles: dict[str, ContentStyle] = {}
    style_owner: dict[str, str] = {}
    for impl in manager.hook.stories_register_content_styles.get_hookimpls():
        for style in impl.function() or ():
            _refuse_duplicate("content style", style.name, impl.plugin_name, style_owner)
            styles[style.name] = style
            info(impl.plugin_name).content_styles.append(style.name)

    backends: dict[str, BackendFactory] = {}
    backend_owner: dict[str, str] = {}
    for impl in manager.hook.stories_register_backends.get_hookimpls():
        for factory in impl.function() or ():
            _refuse_duplicate("backend", factory.name, impl.plugin_name, backend_owner)
            backends[factory.name] = factory
            info(impl.plugin_name).backends.append(factory.name)

    for plugin in manager.get_plugins():
        name = manager.get_name(plugin)
        if name is not None and name != hookspecs.__name__:
            info(name)
    return Registry(styles, backends, sorted(infos.values(), key=lambda p: p.name))


def _refuse_duplicate(what: str, name: str, plugin: str, owners: dict[str, str]) -> None:
    if name in owners:
        raise DuplicateRegistration(
            f"{what} {name!r} is registered by two plugins: {owners[name]!r} and {plugin!r}"
        )
    owners[name] = plugin


class PluginCatalog:
    """The Catalog port over a Registry: backends are built once, on first use."""

    def __init__(self, registry: Registry, environ: Mapping[str, str]) -> None:
        self._registry = registry
        self._environ = environ
        self._backends: dict[str, GeneratorBackend] = {}
        self._lock = threading.Lock()

    def style_names(self) -> list[str]:
        return sorted(self._registry.styles)

    def backend_names(self) -> list[str]:
        return sorted(self._registry.backends)

    def style(self, name: str) -> ContentStyle:
        try:
            return self._registry.styles[name]
        except KeyError:
            raise InvalidInput("content_type", _unknown(name, self.style_names())) from None

    def backend(self, name: str) -> GeneratorBackend:
        with self._lock:
            if name not in self._backends:
                factory = self._registry.backends.get(name)
                if factory is None:
                    raise InvalidInput("backend", _unknown(name, self.backend_names()))
                self._backends[name] = factory.create(self._environ)
            return self._backends[name]


def _unknown(name: str, known: list[str]) -> str:
    return f"unknown value {name!r}; expected one of: {', '.join(known) or '(none installed)'}"
