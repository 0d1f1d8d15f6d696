"""A local stand-in for an OpenAI-compatible server, for tests that must never reach the network.

It answers the endpoints the `openai` backend uses, with bodies and errors shaped like the
real API's, so the real openai client can be pointed at it through its base URL:

- `GET  /v1/models` (the model list the backend checks its models against)
- `POST /v1/chat/completions` (text; JSON through `response_format` json_schema)
- `POST /v1/audio/speech` (real audio in the format asked for: wav, pcm, mp3, opus, aac, flac)
- `POST /v1/images/generations` (a real PNG, as b64_json or as a URL it serves itself)

Tests script it: `queue()` replies (a status code, a refusal, malformed JSON...) served
first-in first-out to the next request of a kind; `always()` replaces the happy default of
a kind. With nothing queued, every endpoint answers plausibly, derived from the request
(segment offsets for the text it was sent, audio as long as the input, a PNG of the size
asked for). It checks what the real API checks: the bearer key, the model, the voice.
Knobs: `models`, `voices`, `takes_json_schema` (False: a server that rejects json_schema
with a 400, as many OpenAI-compatible servers do), `lists_models`, `image_urls`,
`speech_format` (answer in this format whatever was asked). Every request is recorded.
"""

from __future__ import annotations

import base64
import io
import json
import re
import time
import wave
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import av

from tests.fake_model_server import (
    PCM_RATE,
    PODCAST,
    RETELLING,
    FakeModelServer,
    Reply,
    png_bytes,
    segment_plan,
    sine_pcm,
)
from tests.fake_model_server import RecordedRequest as ModelRequest

FAKE_API_KEY = "sk-test-0p3nAI-not-a-real-key-5c1e"
USAGE = {"prompt_tokens": 42, "completion_tokens": 17, "total_tokens": 59}
GENERATION_KINDS = ("chat", "speech", "images")
ROUTES = {
    ("GET", "/v1/models"): "models",
    ("POST", "/v1/chat/completions"): "chat",
    ("POST", "/v1/audio/speech"): "speech",
    ("POST", "/v1/images/generations"): "images",
}
AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
# (container, codec, sample rate) PyAV encodes each format with
ENCODERS = {
    "mp3": ("mp3", "libmp3lame", 24_000),
    "opus": ("ogg", "libopus", 48_000),
    "aac": ("adts", "aac", 24_000),
    "flac": ("flac", "flac", 24_000),
}
AT_MOST = re.compile(r"at most (\d+) segments")


@dataclass
class RecordedRequest(ModelRequest):
    """`kind` is the endpoint: "models", "chat", "speech", "images" or "files"."""

    @property
    def system(self) -> str:
        return "\n".join(
            m["content"] for m in self.body.get("messages", []) if m["role"] == "system"
        )

    @property
    def prompt(self) -> str:
        """Every message's text (chat), the input (speech) or the prompt (images)."""
        texts = [m["content"] for m in self.body.get("messages", [])]
        texts += [self.body[k] for k in ("input", "prompt") if k in self.body]
        return "\n".join(texts)

    @property
    def schema(self) -> dict[str, Any] | None:
        response_format = self.body.get("response_format") if self.kind == "chat" else None
        if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
            return None
        return response_format["json_schema"]


# ---- reply builders, shaped like the real API's bodies ------------------------------------

_ids = count(1)


def chat_reply(
    content: str | None, finish_reason: str = "stop", refusal: str | None = None
) -> Reply:
    return Reply(
        body={
            "id": f"chatcmpl-fake{next(_ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": "fake",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": content,
                        "refusal": refusal,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": USAGE,
            "system_fingerprint": "fp_fake",
        }
    )


def json_reply(value: Any) -> Reply:
    return chat_reply(json.dumps(value))


def refused(reason: str = "I'm sorry, I can't help with that.") -> Reply:
    """How structured outputs refuse: no content, a `refusal`."""
    return chat_reply(None, refusal=reason)


def error_reply(
    status: int,
    message: str,
    type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    error = {"message": message, "type": type, "param": param, "code": code}
    return Reply(status=status, body={"error": error}, headers=headers or {})


def rate_limited(retry_after: str | None = None, retry_after_ms: str | None = None) -> Reply:
    headers = {}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    if retry_after_ms is not None:
        headers["retry-after-ms"] = retry_after_ms
    return error_reply(
        429,
        "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1.",
        type="requests",
        code="rate_limit_exceeded",
        headers=headers,
    )


def out_of_quota() -> Reply:
    return error_reply(
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        type="insufficient_quota",
        code="insufficient_quota",
    )


def server_error(status: int = 500) -> Reply:
    return error_reply(
        status, "The server had an error while processing your request.", type="server_error"
    )


def invalid_key(key: str = "sk-wrong") -> Reply:
    return error_reply(
        401,
        f"Incorrect API key provided: {key[:3]}*****{key[-4:]}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def content_policy() -> Reply:
    """What the images API answers a prompt its safety system refuses."""
    return error_reply(
        400,
        "Your request was rejected as a result of our safety system. Your prompt may contain "
        "text that is not allowed by our safety system.",
        code="content_policy_violation",
    )


def model_not_found(model: str) -> Reply:
    return error_reply(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def schema_unsupported() -> Reply:
    """How an OpenAI-compatible server without structured output refuses a json_schema."""
    return error_reply(
        400,
        "response_format type 'json_schema' is not supported by this server; "
        "use 'text' or 'json_object'",
        param="response_format",
    )


def audio_reply(data: bytes, audio_format: str = "wav") -> Reply:
    return Reply(raw=data, content_type=AUDIO_TYPES.get(audio_format, "application/octet-stream"))


def image_reply(data: bytes) -> Reply:
    return Reply(
        body={"created": int(time.time()), "data": [{"b64_json": base64.b64encode(data).decode()}]}
    )


# ---- real media -------------------------------------------------------------------------


def wav_bytes(pcm: bytes, rate: int = PCM_RATE) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(pcm)
    return out.getvalue()


def encoded_audio(audio_format: str, seconds: float) -> bytes:
    """`seconds` of a tone in `audio_format` (one of /audio/speech's), encoded by PyAV."""
    pcm = sine_pcm(seconds)
    if audio_format == "pcm":
        return pcm
    if audio_format == "wav":
        return wav_bytes(pcm)
    container_format, codec, rate = ENCODERS[audio_format]
    out = io.BytesIO()
    with (
        av.open(io.BytesIO(wav_bytes(pcm))) as source,
        av.open(out, "w", format=container_format) as target,
    ):
        stream = target.add_stream(codec, rate=rate, layout="mono")
        resampler = av.AudioResampler(
            format=stream.codec_context.format.name, layout="mono", rate=rate
        )
        for frame in [*source.decode(audio=0), None]:
            for resampled in resampler.resample(frame):
                target.mux(stream.encode(resampled))
        target.mux(stream.encode(None))
    return out.getvalue()


# ---- the happy default ------------------------------------------------------------------


def _segments_for(request: RecordedRequest) -> dict[str, Any]:
    """Split the sent text into at most the asked number of spans, at sentence ends."""
    schema = request.schema
    if schema is not None:
        wanted = int(schema["schema"]["properties"]["segments"]["maxItems"])
    else:
        found = AT_MOST.search(request.prompt)
        wanted = int(found.group(1)) if found else 1
    return segment_plan(request.prompt, wanted)


def _size(request: RecordedRequest) -> tuple[int, int]:
    size = str(request.body.get("size") or "1024x1024")
    if size == "auto":
        return 1024, 1024
    width, height = size.split("x")
    return int(width), int(height)


# ---- the server -------------------------------------------------------------------------


@dataclass
class FakeOpenAI(FakeModelServer[RecordedRequest]):
    """The scriptable OpenAI-compatible server. Start with `start()`, stop with `stop()` (the
    fixture does both). `queue()` and `always()` take a `kind`: "models", "chat", "speech",
    "images", "files"; None: any of chat, speech, images; "any": every request."""

    name = "OpenAI"
    base_path = "/v1"
    settings_prefix = "STORIES_OPENAI_"

    api_key: str | None = FAKE_API_KEY
    models: set[str] = field(default_factory=lambda: {"text-test", "tts-test", "image-test"})
    voices: set[str] = field(default_factory=lambda: {"voice-one", "voice-two", "alloy", "echo"})
    takes_json_schema: bool = True
    lists_models: bool = True
    image_urls: bool = False
    speech_format: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)

    def _settings(self) -> dict[str, str]:
        """STORIES_OPENAI_* settings by field name; `environ()` overrides them the same way,
        e.g. `speech="local"`."""
        return {
            "base_url": self.base_url,
            "api_key": FAKE_API_KEY,
            "text_model": "text-test",
            "speech_model": "tts-test",
            "speech_voice": "voice-one",
            "speech_second_voice": "voice-two",
            "image_model": "image-test",
            "image_size": "640x360",
        }

    @property
    def generation_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.kind in GENERATION_KINDS]

    # ---- answering ------------------------------------------------------------------------

    def _matches(self, wanted: str | None, kind: str) -> bool:
        if wanted == "any":
            return True
        if wanted is None:
            return kind in GENERATION_KINDS
        return wanted == kind

    def _request(
        self, method: str, path: str, headers: dict[str, str], body: dict[str, Any]
    ) -> RecordedRequest | Reply:
        route = path.split("?", 1)[0]
        kind = ROUTES.get((method, route))
        if kind is None and method == "GET" and route.startswith("/files/"):
            kind = "files"
        if kind is None:
            return error_reply(404, f"Invalid URL ({method} {route})")
        return RecordedRequest(method=method, path=path, kind=kind, headers=headers, body=body)

    def _happy(self, request: RecordedRequest) -> Reply:
        if request.kind == "files":
            name = request.path.split("?", 1)[0].rsplit("/", 1)[-1]
            if name not in self.files:
                return error_reply(404, "no such file")
            return Reply(raw=self.files[name], content_type="image/png")
        if self.api_key is not None and request.headers.get("authorization") != (
            f"Bearer {self.api_key}"
        ):
            return invalid_key(request.headers.get("authorization", "")[7:] or "none")
        if request.kind == "models":
            if not self.lists_models:
                return Reply(status=404, body={"detail": "Not Found"})
            return Reply(
                body={
                    "object": "list",
                    "data": [
                        {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}
                        for m in sorted(self.models)
                    ],
                }
            )
        model = request.body.get("model")
        if model not in self.models and f"{model}:latest" not in self.models:
            return model_not_found(str(model))
        return {"chat": self._chat, "speech": self._speech, "images": self._image}[request.kind](
            request
        )

    def _chat(self, request: RecordedRequest) -> Reply:
        schema = request.schema
        if schema is not None and not self.takes_json_schema:
            return schema_unsupported()
        name = schema["name"] if schema else ""
        if name == "segment_plan" or (not schema and '"segments"' in request.system):
            answer = json.dumps(_segments_for(request))
        elif name == "podcast_script" or (not schema and '"lines"' in request.system):
            answer = json.dumps(PODCAST)
        else:
            return chat_reply(RETELLING)
        if not schema:  # a model asked in words tends to wrap its JSON in a fence
            answer = f"```json\n{answer}\n```"
        return chat_reply(answer)

    def _speech(self, request: RecordedRequest) -> Reply:
        voice = request.body.get("voice")
        if voice not in self.voices:
            return error_reply(400, f"Voice '{voice}' is not available.", param="voice")
        text = str(request.body.get("input") or "")
        if not text:
            return error_reply(400, "Input must not be empty.", param="input")
        audio_format = self.speech_format or request.body.get("response_format") or "mp3"
        seconds = min(3.0, 0.2 + 0.01 * len(text))
        return audio_reply(encoded_audio(audio_format, seconds), audio_format)

    def _image(self, request: RecordedRequest) -> Reply:
        png = png_bytes(*_size(request))
        if self.image_urls or request.body.get("response_format") == "url":
            name = f"img-{next(_ids)}.png"
            self.files[name] = png
            url = f"{self.root}/files/{name}?se=2099-01-01&sig=fake"
            return Reply(body={"created": int(time.time()), "data": [{"url": url}]})
        return image_reply(png)
