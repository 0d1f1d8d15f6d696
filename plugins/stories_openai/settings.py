"""The backend's `STORIES_OPENAI_*` settings, read from the mapping `create()` is given.

Three endpoints (text, speech, image), each with its own base URL, key and model, so the
three parts may come from different servers. An endpoint's base URL and key fall back to
the shared `STORIES_OPENAI_BASE_URL` / `STORIES_OPENAI_API_KEY`. Speech and images may be
turned off in favour of the `local` backend's part (`STORIES_OPENAI_SPEECH=local`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from stories_core.errors import BackendMisconfigured
from stories_core.plugins import backend_settings
from stories_core.plugins.settings import env_prefix

NAME = "openai"
PREFIX = env_prefix(NAME)
OPENAI_BASE_URL = "https://api.openai.com/v1"
OPENAI_HOST = "api.openai.com"
NO_KEY = "no-key"
"""Sent as the bearer token to a server that needs none (the SDK always sends one)."""

Kind = Literal["text", "speech", "image"]
AudioFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]


def _base_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL, e.g. http://localhost:11434/v1")
    return value.strip().rstrip("/")


def _size(value: str) -> str:
    width, _, height = value.strip().lower().partition("x")
    if value.strip().lower() != "auto" and not (width.isdigit() and height.isdigit()):
        raise ValueError("must be WIDTHxHEIGHT in pixels (e.g. 1536x1024) or auto")
    return value.strip().lower()


BaseUrl = Annotated[str, AfterValidator(_base_url)]


class OpenAISettings(BaseModel):
    """What the backend may be told. Field `x` is the variable `STORIES_OPENAI_X`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: BaseUrl = OPENAI_BASE_URL
    """Shared by every endpoint that names no base URL of its own."""
    api_key: SecretStr | None = None
    """Shared by every endpoint that names no key of its own. Needed by api.openai.com;
    a server that takes no key (Ollama, Kokoro-FastAPI) needs none."""
    text_base_url: BaseUrl | None = None
    text_api_key: SecretStr | None = None
    text_model: str = Field(default="gpt-4.1-mini", min_length=1)
    speech: Literal["openai", "local"] = "openai"
    """`local`: the local backend speaks (eSpeak NG); no speech server is called."""
    speech_base_url: BaseUrl | None = None
    speech_api_key: SecretStr | None = None
    speech_model: str = Field(default="gpt-4o-mini-tts", min_length=1)
    speech_voice: str = Field(default="alloy", min_length=1)
    speech_second_voice: str = Field(default="echo", min_length=1)
    """The second host's voice in a podcast."""
    speech_format: AudioFormat = "wav"
    """What the speech server is asked for; whatever it returns is decoded, then stored as MP3."""
    speech_instructions: bool = True
    """Send the style's delivery as `instructions` (gpt-4o-mini-tts takes them; tts-1 does not)."""
    images: Literal["openai", "local"] = "openai"
    """`local`: the local backend draws (Pillow); no image server is called."""
    image_base_url: BaseUrl | None = None
    image_api_key: SecretStr | None = None
    image_model: str = Field(default="gpt-image-1", min_length=1)
    image_size: Annotated[str, AfterValidator(_size)] = "1536x1024"
    timeout_seconds: float = Field(default=120.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    """Tries per call, the first included; only transient failures are tried again."""
    backoff_base_seconds: float = Field(default=1.0, ge=0)
    backoff_max_seconds: float = Field(default=30.0, ge=0)
    """The longest pause between tries, a server's Retry-After included."""

    def endpoint(self, kind: Kind) -> Endpoint:
        """The base URL, key and model one part of the work is sent to."""
        own_url: str | None = getattr(self, f"{kind}_base_url")
        own_key: SecretStr | None = getattr(self, f"{kind}_api_key")
        upper = kind.upper()
        if own_key is not None:
            key_variables = f"{PREFIX}{upper}_API_KEY"
        elif self.api_key is not None:
            key_variables = f"{PREFIX}API_KEY"
        else:
            key_variables = f"{PREFIX}{upper}_API_KEY or {PREFIX}API_KEY"
        return Endpoint(
            kind=kind,
            base_url=own_url or self.base_url,
            api_key=own_key or self.api_key,
            model=getattr(self, f"{kind}_model"),
            model_variable=f"{PREFIX}{upper}_MODEL",
            key_variables=key_variables,
        )

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """The endpoints in use: text always; speech and image unless they are `local`."""
        kinds: list[Kind] = ["text"]
        if self.speech == "openai":
            kinds.append("speech")
        if self.images == "openai":
            kinds.append("image")
        return tuple(self.endpoint(kind) for kind in kinds)


@dataclass(frozen=True)
class Endpoint:
    kind: Kind
    base_url: str
    api_key: SecretStr | None
    model: str
    model_variable: str
    """The variable that names the model, for messages."""
    key_variables: str
    """The variable(s) the key comes from, for messages (never the key itself)."""

    @property
    def server(self) -> str:
        """The base URL as messages show it: no user, password, query or fragment."""
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"

    @property
    def needs_key(self) -> bool:
        return urlsplit(self.base_url).hostname == OPENAI_HOST

    @property
    def secret(self) -> str:
        """The key to send: the configured one, or a placeholder for a server that needs none."""
        return self.api_key.get_secret_value() if self.api_key is not None else NO_KEY


def load_settings(environ: Mapping[str, str]) -> OpenAISettings:
    """Build the settings from the `STORIES_OPENAI_*` entries, or fail naming each variable."""
    settings = backend_settings(OpenAISettings, NAME, environ)
    missing = [e for e in settings.endpoints if e.needs_key and e.api_key is None]
    if missing:
        own = ", ".join(f"{PREFIX}{e.kind.upper()}_API_KEY" for e in missing)
        kinds = ", ".join(e.kind for e in missing)
        raise BackendMisconfigured(
            f"openai backend settings are invalid: {PREFIX}API_KEY is not set (nor {own}), "
            f"and {OPENAI_HOST} needs a key ({kinds}); set one, or point "
            f"{PREFIX}BASE_URL at a server that needs none"
        )
    return settings
