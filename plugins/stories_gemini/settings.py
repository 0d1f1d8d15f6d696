"""The backend's `STORIES_GEMINI_*` settings, read from the mapping `create()` is given."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from stories_core.errors import GenerationError

ENV_PREFIX = "STORIES_GEMINI_"
API_KEY_VARIABLE = f"{ENV_PREFIX}API_KEY"
DEFAULT_IMAGE_MODELS = {"gemini": "gemini-3.1-flash-image", "imagen": "imagen-3.0-generate-002"}


class GeminiSettings(BaseSettings):
    """What the backend may be told. Field `x` is the variable `STORIES_GEMINI_X`."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the mapping handed to `create()`: never os.environ, a .env file or secrets."""
        return (init_settings,)


def load_settings(environ: Mapping[str, str]) -> GeminiSettings:
    """Build the settings from the `STORIES_GEMINI_*` entries, or fail naming the variable."""
    values = {
        name.removeprefix(ENV_PREFIX).lower(): value
        for name, value in environ.items()
        if name.startswith(ENV_PREFIX)
    }
    if not values.get("api_key", "").strip():
        raise GenerationError(
            f"{API_KEY_VARIABLE} is not set: the gemini backend needs a Gemini API key",
            code="BACKEND_MISCONFIGURED",
        )
    try:
        return GeminiSettings(**values)
    except ValidationError as exc:
        # Built from locations and messages only: the inputs may include the key.
        problems = "; ".join(
            f"{ENV_PREFIX}{'_'.join(map(str, error['loc'])).upper()}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        raise GenerationError(
            f"gemini backend settings are invalid: {problems}", code="BACKEND_MISCONFIGURED"
        ) from None
