"""The backend's `STORIES_GEMINI_*` settings, read from the mapping `create()` is given."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from stories_core.errors import BackendMisconfigured
from stories_core.plugins import backend_settings
from stories_core.plugins.settings import env_prefix

NAME = "gemini"
API_KEY_VARIABLE = f"{env_prefix(NAME)}API_KEY"
DEFAULT_IMAGE_MODELS = {"gemini": "gemini-3.1-flash-image", "imagen": "imagen-3.0-generate-002"}


class GeminiSettings(BaseModel):
    """What the backend may be told. Field `x` is the variable `STORIES_GEMINI_X`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: SecretStr
    base_url: str | None = None
    """Another endpoint that speaks the Gemini REST API (a proxy, or a fake in tests)."""
    text_model: str = "gemini-3.5-flash"
    tts_model: str = "gemini-3.8-flash-tts"
    image_api: Literal["gemini", "imagen"] = "gemini"
    """`gemini`: generateContent with image output. `imagen`: models.generate_images, which
    google-genai serves only through Vertex AI (express mode, with this same API key)."""
    image_model: str | None = None
    """Defaults to a model of the chosen `image_api`."""
    image_aspect_ratio: str = "16:9"
    narrator_voice: str = "Kore"
    second_voice: str = "Puck"
    timeout_seconds: float = Field(default=120.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    """Tries per call, the first included; only transient failures are tried again."""
    backoff_base_seconds: float = Field(default=1.0, ge=0)
    backoff_max_seconds: float = Field(default=30.0, ge=0)

    @property
    def resolved_image_model(self) -> str:
        return self.image_model or DEFAULT_IMAGE_MODELS[self.image_api]


def load_settings(environ: Mapping[str, str]) -> GeminiSettings:
    """Build the settings from the `STORIES_GEMINI_*` entries, or fail naming the variable."""
    if not environ.get(API_KEY_VARIABLE, "").strip():
        raise BackendMisconfigured(
            f"{API_KEY_VARIABLE} is not set: the gemini backend needs a Gemini API key"
        )
    return backend_settings(GeminiSettings, NAME, environ)
