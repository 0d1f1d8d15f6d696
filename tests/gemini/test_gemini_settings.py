"""STORIES_GEMINI_* settings: read from the mapping given to create(), and never leaked."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fake_gemini_api import FAKE_API_KEY, FakeGemini
from stories_gemini import GeminiBackendFactory
from stories_gemini.settings import load_settings

from stories_core.errors import GenerationError


@pytest.mark.parametrize("key", [None, "", "   "])
def test_a_missing_key_fails_at_create_naming_the_variable(
    fake_gemini: FakeGemini, key: str | None
) -> None:
    environ = fake_gemini.environ()
    if key is None:
        del environ["STORIES_GEMINI_API_KEY"]
    else:
        environ["STORIES_GEMINI_API_KEY"] = key

    with pytest.raises(GenerationError) as caught:
        GeminiBackendFactory().create(environ)

    assert "STORIES_GEMINI_API_KEY" in caught.value.message
    assert caught.value.retryable is False


def test_defaults_apply_and_only_the_given_mapping_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STORIES_GEMINI_TEXT_MODEL", "from-os-environ")
    monkeypatch.setenv("STORIES_GEMINI_API_KEY", "os-environ-key")

    settings = load_settings({"STORIES_GEMINI_API_KEY": FAKE_API_KEY, "UNRELATED": "x"})

    assert settings.text_model == "gemini-3.5-flash"
    assert settings.api_key.get_secret_value() == FAKE_API_KEY
    assert settings.image_api == "gemini"
    assert settings.resolved_image_model == "gemini-3.1-flash-image"
    assert (settings.narrator_voice, settings.second_voice) == ("Kore", "Puck")


def test_imagen_gets_an_imagen_model_by_default() -> None:
    settings = load_settings(
        {"STORIES_GEMINI_API_KEY": FAKE_API_KEY, "STORIES_GEMINI_IMAGE_API": "imagen"}
    )

    assert settings.resolved_image_model.startswith("imagen-")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STORIES_GEMINI_MAX_ATTEMPTS", "0"),
        ("STORIES_GEMINI_TIMEOUT_SECONDS", "soon"),
        ("STORIES_GEMINI_IMAGE_API", "dall-e"),
        ("STORIES_GEMINI_TEXT_MODLE", "typo"),
    ],
)
def test_a_bad_setting_is_named(name: str, value: str) -> None:
    with pytest.raises(GenerationError) as caught:
        load_settings({"STORIES_GEMINI_API_KEY": FAKE_API_KEY, name: value})

    assert name in caught.value.message
    assert caught.value.code == "BACKEND_MISCONFIGURED"
    assert FAKE_API_KEY not in caught.value.message


def test_the_key_is_hidden_in_settings_and_backend_reprs() -> None:
    settings = load_settings({"STORIES_GEMINI_API_KEY": FAKE_API_KEY})
    backend = GeminiBackendFactory().create({"STORIES_GEMINI_API_KEY": FAKE_API_KEY})

    assert FAKE_API_KEY not in repr(settings) + str(settings) + repr(backend)
    assert FAKE_API_KEY not in settings.model_dump_json()


def test_importing_the_plugin_builds_no_client() -> None:
    script = (
        "import google.genai\n"
        "def refuse(*a, **k): raise SystemExit('a client was built at import time')\n"
        "google.genai.Client.__init__ = refuse\n"
        "import stories_gemini\n"
        "assert stories_gemini.stories_register_backends()[0].name == 'gemini'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
