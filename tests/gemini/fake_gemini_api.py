"""A local stand-in for the Gemini REST API, for tests that must never reach the network.

It answers the endpoints the `gemini` backend uses, with bodies shaped like the real
API's, so the real google-genai client can be pointed at it through its base-URL option:

- `POST /{version}/models/{model}:generateContent` (JSON, text, audio or image output)
- `POST /{version}/[publishers/google/]models/{model}:predict` (Imagen)

Tests script it: `queue()` replies (a status code, a safety block, malformed text...)
that are served first-in first-out to whatever request comes next; `always()` replaces
the happy default. With nothing queued, every endpoint answers plausibly, derived from
the request (segmentation offsets for the text it was sent, audio for the transcript,
a PNG of the requested aspect ratio). Every request is recorded in `.requests`.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

from tests.fake_model_server import (
    PCM_RATE,
    PODCAST,
    RETELLING,
    FakeModelServer,
    png_bytes,
    segment_plan,
    sine_pcm,
)
from tests.fake_model_server import RecordedRequest as ModelRequest
from tests.fake_model_server import Reply as ModelReply

FAKE_API_KEY = "test-key-AIzaSyD0-not-a-real-key-7f3b"
AUDIO_MIME = f"audio/L16;codec=pcm;rate={PCM_RATE}"
USAGE = {"promptTokenCount": 42, "candidatesTokenCount": 17, "totalTokenCount": 59}
ROUTE = re.compile(
    r"^/(?P<version>[^/]+)/(?:publishers/google/)?models/(?P<model>[^/:]+):(?P<action>\w+)$"
)
ASPECT_SIZES = {"1:1": (1024, 1024), "16:9": (1344, 768), "9:16": (768, 1344), "4:3": (1184, 864)}


@dataclass(frozen=True)
class Reply(ModelReply):
    """One scripted HTTP answer, with the content type the Gemini API sends."""

    content_type: str = "application/json; charset=UTF-8"


@dataclass
class RecordedRequest(ModelRequest):
    """`kind` is the action: "generateContent" or "predict"."""

    model: str = ""

    @property
    def action(self) -> str:
        return self.kind

    @property
    def generation_config(self) -> dict[str, Any]:
        return self.body.get("generationConfig", {})

    @property
    def prompt(self) -> str:
        """Every text part of the request (contents and system instruction), joined."""
        parts = [p for c in self.body.get("contents", []) for p in c.get("parts", [])]
        parts += self.body.get("systemInstruction", {}).get("parts", [])
        texts = [p["text"] for p in parts if "text" in p]
        texts += [i["prompt"] for i in self.body.get("instances", []) if "prompt" in i]
        return "\n".join(texts)


# ---- reply builders, shaped like the real API's bodies ------------------------------------


def candidate_reply(parts: list[dict[str, Any]], finish_reason: str = "STOP") -> Reply:
    return Reply(
        body={
            "candidates": [
                {
                    "content": {"role": "model", "parts": parts},
                    "finishReason": finish_reason,
                    "index": 0,
                }
            ],
            "usageMetadata": USAGE,
            "modelVersion": "fake-gemini",
            "responseId": "fake-response",
        }
    )


def text_reply(text: str, finish_reason: str = "STOP") -> Reply:
    return candidate_reply([{"text": text}], finish_reason)


def json_reply(value: Any) -> Reply:
    return text_reply(json.dumps(value))


def audio_reply(pcm: bytes | None = None, mime_type: str = AUDIO_MIME) -> Reply:
    data = sine_pcm(0.5) if pcm is None else pcm
    return candidate_reply(
        [{"inlineData": {"mimeType": mime_type, "data": base64.b64encode(data).decode()}}]
    )


def image_reply(image: bytes | None = None, mime_type: str = "image/png") -> Reply:
    data = png_bytes(1024, 1024) if image is None else image
    return candidate_reply(
        [
            {"text": "Here is the illustration."},
            {"inlineData": {"mimeType": mime_type, "data": base64.b64encode(data).decode()}},
        ]
    )


def imagen_reply(image: bytes | None = None) -> Reply:
    data = png_bytes(1024, 1024) if image is None else image
    return Reply(
        body={
            "predictions": [
                {"bytesBase64Encoded": base64.b64encode(data).decode(), "mimeType": "image/png"}
            ]
        }
    )


def imagen_filtered(reason: str = "The prompt could not be processed (safety filter).") -> Reply:
    """What Imagen answers when every image was filtered and `includeRaiReason` was set."""
    return Reply(body={"predictions": [{"raiFilteredReason": reason}]})


def prompt_blocked(reason: str = "SAFETY") -> Reply:
    return Reply(
        body={
            "promptFeedback": {
                "blockReason": reason,
                "safetyRatings": [
                    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}
                ],
            },
            "usageMetadata": USAGE,
            "modelVersion": "fake-gemini",
        }
    )


def finished_blocked(reason: str = "SAFETY") -> Reply:
    """A candidate stopped for safety: no content, only the reason and ratings."""
    return Reply(
        body={
            "candidates": [
                {
                    "finishReason": reason,
                    "index": 0,
                    "safetyRatings": [
                        {
                            "category": "HARM_CATEGORY_HARASSMENT",
                            "probability": "HIGH",
                            "blocked": True,
                        }
                    ],
                }
            ],
            "usageMetadata": USAGE,
            "modelVersion": "fake-gemini",
        }
    )


def error_reply(
    code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
) -> Reply:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return Reply(status=code, body={"error": error})


def api_key_invalid() -> Reply:
    return error_reply(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
        ],
    )


def rate_limited(retry_delay: str | None = None) -> Reply:
    details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}]
    return error_reply(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota.",
        details if retry_delay else None,
    )


def unavailable() -> Reply:
    return error_reply(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")


# ---- the happy default ------------------------------------------------------------------


def _schema_of(request: RecordedRequest) -> dict[str, Any]:
    config = request.generation_config
    return config.get("responseJsonSchema") or config.get("responseSchema") or {}


def _segments_for(request: RecordedRequest, schema: dict[str, Any]) -> dict[str, Any]:
    """Split the sent text into at most `maxItems` spans, at paragraph or sentence ends."""
    segments_schema = schema["properties"]["segments"]
    wanted = int(segments_schema.get("maxItems", segments_schema.get("max_items", 1)))
    return segment_plan(request.prompt, wanted)


def happy_reply(request: RecordedRequest) -> Reply:
    """A plausible answer to any request the backend makes."""
    if request.action == "predict":
        width, height = ASPECT_SIZES.get(
            request.body.get("parameters", {}).get("aspectRatio", "1:1"), (1024, 1024)
        )
        return imagen_reply(png_bytes(width, height))
    config = request.generation_config
    modalities = [m.upper() for m in config.get("responseModalities", [])]
    if "AUDIO" in modalities:
        seconds = min(5.0, 0.2 + 0.01 * len(request.prompt))
        return audio_reply(sine_pcm(seconds))
    if "IMAGE" in modalities:
        ratio = config.get("imageConfig", {}).get("aspectRatio", "1:1")
        return image_reply(png_bytes(*ASPECT_SIZES.get(ratio, (1024, 1024))))
    schema = _schema_of(request)
    properties = schema.get("properties", {})
    if "segments" in properties:
        return json_reply(_segments_for(request, schema))
    if "lines" in properties:
        return json_reply(PODCAST)
    return text_reply(RETELLING)


# ---- the server -------------------------------------------------------------------------


class FakeGemini(FakeModelServer[RecordedRequest]):
    """The scriptable Gemini API. Start with `start()`, stop with `stop()` (the fixture does
    both). `queue()` and `always()` take a `kind` ("generateContent", "predict"; None: any)."""

    name = "Gemini"
    base_path = "/"
    settings_prefix = "STORIES_GEMINI_"

    def _settings(self) -> dict[str, str]:
        """STORIES_GEMINI_* settings by field name; `environ()` overrides them the same way,
        e.g. `image_api="imagen"`."""
        return {
            "api_key": FAKE_API_KEY,
            "base_url": self.base_url,
            "text_model": "gemini-text-test",
            "tts_model": "gemini-tts-test",
        }

    def _request(
        self, method: str, path: str, headers: dict[str, str], body: dict[str, Any]
    ) -> RecordedRequest | Reply:
        route = ROUTE.match(path.split("?", 1)[0])
        if method != "POST" or route is None:
            return error_reply(404, "NOT_FOUND", f"no route for {path}")
        return RecordedRequest(method, path, route["action"], headers, body, model=route["model"])

    def _happy(self, request: RecordedRequest) -> Reply:
        return happy_reply(request)
