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
import io
import json
import math
import re
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from typing import Any

from PIL import Image, ImageDraw

FAKE_API_KEY = "test-key-AIzaSyD0-not-a-real-key-7f3b"
PCM_RATE = 24_000
AUDIO_MIME = f"audio/L16;codec=pcm;rate={PCM_RATE}"
USAGE = {"promptTokenCount": 42, "candidatesTokenCount": 17, "totalTokenCount": 59}
ROUTE = re.compile(
    r"^/(?P<version>[^/]+)/(?:publishers/google/)?models/(?P<model>[^/:]+):(?P<action>\w+)$"
)
# The last tagged block: the instructions may mention the tags before the text itself.
SOURCE_TEXT = re.compile(r".*<source_text>\n(?P<text>.*)\n</source_text>", re.DOTALL)
ASPECT_SIZES = {"1:1": (1024, 1024), "16:9": (1344, 768), "9:16": (768, 1344), "4:3": (1184, 864)}


@dataclass(frozen=True)
class Reply:
    """One scripted HTTP answer; `delay` holds it back (to provoke client timeouts)."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    content_type: str = "application/json; charset=UTF-8"
    delay: float = 0.0

    def encode(self) -> bytes:
        return self.raw if self.raw is not None else json.dumps(self.body).encode()


@dataclass
class RecordedRequest:
    path: str
    model: str
    action: str
    headers: dict[str, str]
    body: dict[str, Any]

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


# ---- real media -------------------------------------------------------------------------


def sine_pcm(seconds: float, frequency: float = 220.0) -> bytes:
    """Signed 16-bit little-endian mono PCM at 24 kHz: what Gemini TTS returns."""
    samples = array(
        "h",
        (
            int(8000 * math.sin(2 * math.pi * frequency * i / PCM_RATE))
            for i in range(int(seconds * PCM_RATE))
        ),
    )
    return samples.tobytes()


def png_bytes(width: int, height: int, image_format: str = "PNG") -> bytes:
    image = Image.new("RGB", (width, height), "#1f2937")
    ImageDraw.Draw(image).ellipse(
        (width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill="#f59e0b"
    )
    out = io.BytesIO()
    image.save(out, image_format)
    return out.getvalue()


# ---- the happy default ------------------------------------------------------------------


def _schema_of(request: RecordedRequest) -> dict[str, Any]:
    config = request.generation_config
    return config.get("responseJsonSchema") or config.get("responseSchema") or {}


def _segments_for(request: RecordedRequest, schema: dict[str, Any]) -> dict[str, Any]:
    """Split the sent text into at most `maxItems` spans, at paragraph or sentence ends."""
    match = SOURCE_TEXT.search(request.prompt)
    text = match.group("text") if match else request.prompt
    segments_schema = schema["properties"]["segments"]
    wanted = int(segments_schema.get("maxItems", segments_schema.get("max_items", 1)))
    cuts = [m.end() for m in re.finditer(r"[.!?]\s+|\n\s*\n", text)]
    step = len(text) / wanted
    bounds = [0]
    for k in range(1, wanted):
        target = k * step
        cut = min(cuts, key=lambda c: abs(c - target), default=round(target))
        if bounds[-1] < cut < len(text):
            bounds.append(cut)
    bounds.append(len(text))
    return {
        "segments": [
            {"title": f"Part {i + 1}", "start": start, "end": end}
            for i, (start, end) in enumerate(pairwise(bounds))
        ]
    }


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
        return json_reply(
            {
                "lines": [
                    {"speaker": "narrator", "text": "Welcome back. Today we look at this part."},
                    {"speaker": "second_host", "text": "And it is a good one. Let's dig in."},
                ]
            }
        )
    return text_reply("A warm retelling of this part of the story, told for listeners.")


# ---- the server -------------------------------------------------------------------------


@dataclass
class FakeGemini:
    """The scriptable server. Start with `start()`, stop with `stop()` (the fixture does both)."""

    requests: list[RecordedRequest] = field(default_factory=list)
    _queue: deque[Reply] = field(default_factory=deque)
    _default: Callable[[RecordedRequest], Reply] = happy_reply
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "the fake Gemini server is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def environ(self, **overrides: str) -> dict[str, str]:
        """STORIES_GEMINI_* settings for a fast run against this server (backoff of ~ms);
        keyword arguments override settings by field name, e.g. `image_api="imagen"`."""
        environ = {
            "STORIES_GEMINI_API_KEY": FAKE_API_KEY,
            "STORIES_GEMINI_BASE_URL": self.base_url,
            "STORIES_GEMINI_TEXT_MODEL": "gemini-text-test",
            "STORIES_GEMINI_TTS_MODEL": "gemini-tts-test",
            "STORIES_GEMINI_MAX_ATTEMPTS": "3",
            "STORIES_GEMINI_BACKOFF_BASE_SECONDS": "0.01",
            "STORIES_GEMINI_BACKOFF_MAX_SECONDS": "0.05",
            "STORIES_GEMINI_TIMEOUT_SECONDS": "5",
        }
        environ.update({f"STORIES_GEMINI_{k.upper()}": v for k, v in overrides.items()})
        return environ

    def queue(self, *replies: Reply, times: int = 1) -> None:
        """Serve these replies (each `times` times, in order) before falling back."""
        with self._lock:
            for reply in replies:
                self._queue.extend([reply] * times)

    def always(self, reply: Reply) -> None:
        """Answer every request without a queued reply with `reply` (e.g. 503 forever)."""
        self._default = lambda _request: reply

    def requests_to(self, action: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.action == action]

    def _answer(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._queue:
                return self._queue.popleft()
        return self._default(request)

    def start(self) -> FakeGemini:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                payload = self.rfile.read(length)
                route = ROUTE.match(self.path.split("?", 1)[0])
                if route is None:
                    self._send(error_reply(404, "NOT_FOUND", f"no route for {self.path}"))
                    return
                request = RecordedRequest(
                    path=self.path,
                    model=route["model"],
                    action=route["action"],
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=json.loads(payload or b"{}"),
                )
                self._send(fake._answer(request))

            def _send(self, reply: Reply) -> None:
                if reply.delay:
                    time.sleep(reply.delay)
                data = reply.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing to answer

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
