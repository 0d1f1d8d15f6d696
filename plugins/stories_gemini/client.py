"""The google-genai clients, configured from settings, with every call behind the retry policy."""

from __future__ import annotations

from functools import cached_property

from google import genai
from google.genai import types

from stories_core.plugins.retry import RetryPolicy
from stories_gemini.retry import translate
from stories_gemini.settings import GeminiSettings

# v1beta serves every feature used here (structured output, speech and image output).
DEVELOPER_API_VERSION = "v1beta"


class GeminiClient:
    """Calls Gemini. Failures leave as stories_core errors; the key never appears in them."""

    def __init__(self, settings: GeminiSettings) -> None:
        self._key = settings.api_key.get_secret_value()
        self._policy = RetryPolicy(
            attempts=settings.max_attempts,
            base_seconds=settings.backoff_base_seconds,
            max_seconds=settings.backoff_max_seconds,
        )
        self._developer = genai.Client(
            api_key=self._key,
            vertexai=False,
            http_options=_http_options(settings, DEVELOPER_API_VERSION),
        )
        self._settings = settings

    def generate(
        self, what: str, model: str, contents: str, config: types.GenerateContentConfig
    ) -> types.GenerateContentResponse:
        return self._policy.run(
            lambda: self._developer.models.generate_content(
                model=model, contents=contents, config=config
            ),
            lambda exc: translate(exc, what, self.redact),
            describe=f"Gemini {what} call",
        )

    def generate_images(
        self, what: str, model: str, prompt: str, config: types.GenerateImagesConfig
    ) -> types.GenerateImagesResponse:
        return self._policy.run(
            lambda: self._vertex.models.generate_images(model=model, prompt=prompt, config=config),
            lambda exc: translate(exc, what, self.redact),
            describe=f"Gemini {what} call",
        )

    @cached_property
    def _vertex(self) -> genai.Client:
        """google-genai serves generate_images (Imagen) in Vertex AI mode only; express mode
        takes an API key. Made on first use, so only Imagen users ever build it."""
        return genai.Client(
            api_key=self._key, vertexai=True, http_options=_http_options(self._settings, None)
        )

    def redact(self, text: str) -> str:
        """`text` with the API key blanked out, for anything built from upstream messages."""
        return text.replace(self._key, "[redacted]")


def _http_options(settings: GeminiSettings, api_version: str | None) -> types.HttpOptions:
    return types.HttpOptions(
        base_url=settings.base_url,
        api_version=api_version,
        timeout=round(settings.timeout_seconds * 1000),  # milliseconds
        # One attempt per call: RetryPolicy is the only layer that retries.
        retry_options=types.HttpRetryOptions(attempts=1),
    )
