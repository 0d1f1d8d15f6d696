"""STORIES_OPENAI_* settings: read from the mapping given to create(), and never leaked."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fake_openai_api import FAKE_API_KEY, FakeOpenAI
from stories_openai import OpenAIBackendFactory
from stories_openai.settings import load_settings

from stories_core.errors import BackendMisconfigured, GenerationError
from stories_core.generation import ContentStyle

OLLAMA = "http://localhost:11434/v1"


def test_defaults_apply_and_only_the_given_mapping_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STORIES_OPENAI_TEXT_MODEL", "from-os-environ")
    monkeypatch.setenv("OPENAI_API_KEY", "sdk-environ-key")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://sdk-environ/v1")

    settings = load_settings({"STORIES_OPENAI_API_KEY": FAKE_API_KEY, "UNRELATED": "x"})

    assert settings.text_model == "gpt-4.1-mini"
    assert (settings.speech_model, settings.image_model) == ("gpt-4o-mini-tts", "gpt-image-1")
    assert (settings.speech_voice, settings.speech_second_voice) == ("alloy", "echo")
    assert (settings.speech, settings.images) == ("openai", "openai")
    assert (settings.speech_format, settings.image_size) == ("wav", "1536x1024")
    for endpoint in settings.endpoints:
        assert endpoint.base_url == "https://api.openai.com/v1"
        assert endpoint.secret == FAKE_API_KEY


def test_each_endpoint_may_name_its_own_server_key_and_model() -> None:
    settings = load_settings(
        {
            "STORIES_OPENAI_BASE_URL": OLLAMA + "/",
            "STORIES_OPENAI_TEXT_MODEL": "llama3.2",
            "STORIES_OPENAI_SPEECH_BASE_URL": "http://localhost:8880/v1",
            "STORIES_OPENAI_SPEECH_MODEL": "kokoro",
            "STORIES_OPENAI_IMAGE_BASE_URL": "https://api.openai.com/v1",
            "STORIES_OPENAI_IMAGE_API_KEY": FAKE_API_KEY,
        }
    )

    text, speech, image = (settings.endpoint(kind) for kind in ("text", "speech", "image"))
    assert (text.base_url, text.model, text.api_key) == (OLLAMA, "llama3.2", None)
    assert (speech.base_url, speech.model) == ("http://localhost:8880/v1", "kokoro")
    assert (image.base_url, image.secret) == ("https://api.openai.com/v1", FAKE_API_KEY)
    assert text.secret == "no-key", "a placeholder for a server that takes no key"
    assert image.key_variables == "STORIES_OPENAI_IMAGE_API_KEY"
    assert text.key_variables == "STORIES_OPENAI_TEXT_API_KEY or STORIES_OPENAI_API_KEY"


@pytest.mark.parametrize("key", [None, "", "   "])
def test_openai_itself_without_a_key_fails_at_create_naming_the_variables(
    key: str | None,
) -> None:
    environ = {} if key is None else {"STORIES_OPENAI_API_KEY": key}

    with pytest.raises(BackendMisconfigured) as caught:
        OpenAIBackendFactory().create(environ)

    message = caught.value.message
    assert "STORIES_OPENAI_API_KEY" in message and "STORIES_OPENAI_TEXT_API_KEY" in message
    assert "api.openai.com" in message
    assert caught.value.retryable is False


def test_a_server_that_takes_no_key_needs_none() -> None:
    backend = OpenAIBackendFactory().create({"STORIES_OPENAI_BASE_URL": OLLAMA})

    assert backend.name == "openai"


def test_parts_that_are_local_need_no_key() -> None:
    environ = {
        "STORIES_OPENAI_TEXT_BASE_URL": OLLAMA,
        "STORIES_OPENAI_SPEECH": "local",
        "STORIES_OPENAI_IMAGES": "local",
    }

    settings = load_settings(environ)

    assert [endpoint.kind for endpoint in settings.endpoints] == ["text"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STORIES_OPENAI_MAX_ATTEMPTS", "0"),
        ("STORIES_OPENAI_TIMEOUT_SECONDS", "soon"),
        ("STORIES_OPENAI_SPEECH", "espeak"),
        ("STORIES_OPENAI_IMAGES", "dall-e"),
        ("STORIES_OPENAI_SPEECH_FORMAT", "ogg"),
        ("STORIES_OPENAI_IMAGE_SIZE", "large"),
        ("STORIES_OPENAI_BASE_URL", "localhost:11434"),
        ("STORIES_OPENAI_TEXT_BASE_URL", "ftp://models.example/v1"),
        ("STORIES_OPENAI_SPEECH_INSTRUCTIONS", "sometimes"),
        ("STORIES_OPENAI_TEXT_MODLE", "typo"),
    ],
)
def test_a_bad_setting_is_named(name: str, value: str) -> None:
    with pytest.raises(GenerationError) as caught:
        load_settings({"STORIES_OPENAI_API_KEY": FAKE_API_KEY, name: value})

    assert name in caught.value.message
    assert caught.value.code == "BACKEND_MISCONFIGURED"
    assert FAKE_API_KEY not in caught.value.message


def test_the_key_is_hidden_in_settings_and_backend_reprs(fake_openai: FakeOpenAI) -> None:
    fake_openai.api_key = None  # takes any key
    environ = fake_openai.environ(text_api_key=FAKE_API_KEY + "-text")
    settings = load_settings(environ)
    backend = OpenAIBackendFactory().create(environ)
    backend.segment("One. Two.", 1, ContentStyle("x", "d", "t", "s"), "en")  # clients built

    shown = repr(settings) + str(settings) + repr(backend) + settings.model_dump_json()
    shown += repr(settings.endpoints)
    assert FAKE_API_KEY not in shown


def test_the_sdks_own_organisation_and_project_variables_are_not_sent(
    fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_ORG_ID", "org-ambient")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-ambient")
    backend = OpenAIBackendFactory().create(fake_openai.environ())

    backend.segment("One. Two.", 1, ContentStyle("x", "d", "t", "s"), "en")

    for request in fake_openai.requests:
        assert "openai-organization" not in request.headers
        assert "openai-project" not in request.headers


def test_importing_the_plugin_builds_no_client() -> None:
    script = (
        "import openai\n"
        "def refuse(*a, **k): raise SystemExit('a client was built too early')\n"
        "openai.OpenAI.__init__ = refuse\n"
        "import stories_openai\n"
        "factory = stories_openai.stories_register_backends()[0]\n"
        "assert factory.name == 'openai'\n"
        "factory.create({'STORIES_OPENAI_BASE_URL': 'http://localhost:11434/v1'})\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
