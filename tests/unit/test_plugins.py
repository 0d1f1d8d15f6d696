"""The plugin mechanism: entry points, duplicate names, misspelt hooks, documented hooks."""

import inspect
from pathlib import Path

import pytest

from stories_core.errors import DuplicateRegistration, InvalidPlugin
from stories_core.generation import ContentStyle
from stories_core.plugins import build_registry, hookimpl, hookspecs, make_plugin_manager

ROOT = Path(__file__).resolve().parents[2]


def style(name: str) -> ContentStyle:
    return ContentStyle(name=name, description="d", tone="t", image_style="i")


class PoetryPlugin:
    @hookimpl
    def stories_register_content_styles(self):
        return [style("poetry")]


class AnotherPoetryPlugin:
    @hookimpl
    def stories_register_content_styles(self):
        return [style("poetry")]


def test_first_party_plugins_load_through_the_entry_point_group() -> None:
    registry = build_registry(make_plugin_manager())
    assert {"educational", "financial", "fictional"} <= set(registry.styles)
    assert "local" in registry.backends
    names = {info.name: info for info in registry.plugins}
    assert names["educational"].content_styles == ["educational"]
    assert names["local"].backends == ["local"]
    assert names["financial"].version == "0.2.0"


def test_each_call_builds_a_fresh_manager() -> None:
    first = make_plugin_manager(load_entrypoints=False, extra_plugins=[PoetryPlugin()])
    second = make_plugin_manager(load_entrypoints=False)
    assert "poetry" in build_registry(first).styles
    assert "poetry" not in build_registry(second).styles


def test_two_plugins_registering_one_name_is_an_error_naming_both() -> None:
    manager = make_plugin_manager(load_entrypoints=False)
    manager.register(PoetryPlugin(), name="poetry-one")
    manager.register(AnotherPoetryPlugin(), name="poetry-two")
    with pytest.raises(DuplicateRegistration) as raised:
        build_registry(manager)
    assert str(raised.value) == (
        "content style 'poetry' is registered by two plugins: 'poetry-one' and 'poetry-two'"
    )


def test_a_misspelt_hook_fails_loudly() -> None:
    class Misspelt:
        @hookimpl
        def stories_register_content_style(self):  # missing the final s
            return []

    with pytest.raises(InvalidPlugin, match="stories_register_content_style") as raised:
        make_plugin_manager(load_entrypoints=False, extra_plugins=[Misspelt()])
    assert raised.value.code == "PLUGIN_INVALID" and "Misspelt" in raised.value.message
    assert "the hooks are: stories_register_backends" in raised.value.message


def test_every_hook_is_documented_and_tested() -> None:
    hooks = [name for name, _ in inspect.getmembers(hookspecs) if name.startswith("stories_")]
    assert hooks == ["stories_register_backends", "stories_register_content_styles"]
    tests = "".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    readme = (ROOT / "README.md").read_text()
    for name in hooks:
        assert inspect.getdoc(getattr(hookspecs, name)), f"{name} has no docstring"
        assert tests.count(name) >= 2, f"{name} is not exercised by a test"
        assert name in readme, f"{name} is not documented in the README"
