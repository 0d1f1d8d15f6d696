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
import math
import re
import threading
import time
import wave
from array import array
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count, pairwise
from typing import Any

import av
from PIL import Image, ImageDraw

FAKE_API_KEY = "sk-test-0p3nAI-not-a-real-key-5c1e"
PCM_RATE = 24_000
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
SOURCE_TEXT = re.compile(r".*<source_text>\n(?P<text>.*)\n</source_text>", re.DOTALL)
AT_MOST = re.compile(r"at most (\d+) segments")


@dataclass(frozen=True)
class Reply:
    """One scripted HTTP answer; `delay` holds it back (to provoke client timeouts)."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def encode(self) -> bytes:
        return self.raw if self.raw is not None else json.dumps(self.body).encode()


@dataclass
class RecordedRequest:
    method: str
    path: str
    kind: str
    headers: dict[str, str]
    body: dict[str, Any]

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


def sine_pcm(seconds: float, frequency: float = 220.0, rate: int = PCM_RATE) -> bytes:
    """Signed 16-bit little-endian mono PCM: what /audio/speech's `pcm` format is."""
    samples = array(
        "h",
        (
            int(8000 * math.sin(2 * math.pi * frequency * i / rate))
            for i in range(int(seconds * rate))
        ),
    )
    return samples.tobytes()


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


def png_bytes(width: int, height: int, image_format: str = "PNG") -> bytes:
    image = Image.new("RGB", (width, height), "#1f2937")
    ImageDraw.Draw(image).ellipse(
        (width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill="#f59e0b"
    )
    out = io.BytesIO()
    image.save(out, image_format)
    return out.getvalue()


# ---- the happy default ------------------------------------------------------------------


def _segments_for(request: RecordedRequest) -> dict[str, Any]:
    """Split the sent text into at most the asked number of spans, at sentence ends."""
    match = SOURCE_TEXT.search(request.prompt)
    text = match.group("text") if match else request.prompt
    schema = request.schema
    if schema is not None:
        wanted = int(schema["schema"]["properties"]["segments"]["maxItems"])
    else:
        found = AT_MOST.search(request.prompt)
        wanted = int(found.group(1)) if found else 1
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


PODCAST = {
    "lines": [
        {"speaker": "narrator", "text": "Welcome back. Today we look at this part."},
        {"speaker": "second_host", "text": "And it is a good one. Let's dig in."},
    ]
}


def _size(request: RecordedRequest) -> tuple[int, int]:
    size = str(request.body.get("size") or "1024x1024")
    if size == "auto":
        return 1024, 1024
    width, height = size.split("x")
    return int(width), int(height)


# ---- the server -------------------------------------------------------------------------


@dataclass
class FakeOpenAI:
    """The scriptable server. Start with `start()`, stop with `stop()` (the fixture does both)."""

    api_key: str | None = FAKE_API_KEY
    models: set[str] = field(default_factory=lambda: {"text-test", "tts-test", "image-test"})
    voices: set[str] = field(default_factory=lambda: {"voice-one", "voice-two", "alloy", "echo"})
    takes_json_schema: bool = True
    lists_models: bool = True
    image_urls: bool = False
    speech_format: str | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    _queue: deque[tuple[str | None, Reply]] = field(default_factory=deque)
    _always: dict[str | None, Reply] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def root(self) -> str:
        assert self._server is not None, "the fake OpenAI server is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    def environ(self, **overrides: str) -> dict[str, str]:
        """STORIES_OPENAI_* settings for a fast run against this server (backoff of ~ms);
        keyword arguments override settings by field name, e.g. `speech="local"`."""
        environ = {
            "STORIES_OPENAI_BASE_URL": self.base_url,
            "STORIES_OPENAI_API_KEY": FAKE_API_KEY,
            "STORIES_OPENAI_TEXT_MODEL": "text-test",
            "STORIES_OPENAI_SPEECH_MODEL": "tts-test",
            "STORIES_OPENAI_SPEECH_VOICE": "voice-one",
            "STORIES_OPENAI_SPEECH_SECOND_VOICE": "voice-two",
            "STORIES_OPENAI_IMAGE_MODEL": "image-test",
            "STORIES_OPENAI_IMAGE_SIZE": "640x360",
            "STORIES_OPENAI_MAX_ATTEMPTS": "3",
            "STORIES_OPENAI_BACKOFF_BASE_SECONDS": "0.01",
            "STORIES_OPENAI_BACKOFF_MAX_SECONDS": "0.05",
            "STORIES_OPENAI_TIMEOUT_SECONDS": "5",
        }
        environ.update({f"STORIES_OPENAI_{k.upper()}": v for k, v in overrides.items()})
        return environ

    def queue(self, *replies: Reply, kind: str | None = None, times: int = 1) -> None:
        """Serve these replies (each `times` times, in order) to the next requests of `kind`
        ("models", "chat", "speech", "images", "files"; None: any of chat, speech, images)."""
        with self._lock:
            for reply in replies:
                self._queue.extend([(kind, reply)] * times)

    def always(self, reply: Reply, kind: str | None = None) -> None:
        """Answer every request of `kind` (None: chat, speech and images; "any": every
        request) that has nothing queued with `reply` (e.g. 503 forever)."""
        self._always[kind] = reply

    def requests_to(self, kind: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.kind == kind]

    @property
    def generation_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.kind in GENERATION_KINDS]

    # ---- answering ------------------------------------------------------------------------

    def _answer(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            for entry in self._queue:
                if _matches(entry[0], request.kind):
                    self._queue.remove(entry)
                    return entry[1]
        for kind, reply in self._always.items():
            if _matches(kind, request.kind):
                return reply
        return self._happy(request)

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
            return chat_reply("A warm retelling of this part of the story, told for listeners.")
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

    # ---- serving --------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length", 0))
                payload = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                kind = ROUTES.get((method, path))
                if kind is None and method == "GET" and path.startswith("/files/"):
                    kind = "files"
                if kind is None:
                    self._send(error_reply(404, f"Invalid URL ({method} {path})"))
                    return
                request = RecordedRequest(
                    method=method,
                    path=self.path,
                    kind=kind,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=json.loads(payload) if payload else {},
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
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
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


def _matches(wanted: str | None, kind: str) -> bool:
    if wanted == "any":
        return True
    if wanted is None:
        return kind in GENERATION_KINDS
    return wanted == kind
