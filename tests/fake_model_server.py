"""What the local fake model APIs (tests/gemini/fake_gemini_api.py, tests/openai/fake_openai_api.py)
have in common: a scripted `Reply`, replies queued per endpoint, recorded requests, a
ThreadingHTTPServer in a thread, and the real media and plausible answers they serve.

Each fake extends `FakeModelServer` with what makes it that API: its routes and the request
it records (`_request`), its happy default (`_happy`), its error bodies and its settings.
"""

from __future__ import annotations

import io
import json
import math
import re
import threading
import time
from array import array
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from typing import Any, ClassVar, Generic, Self, TypeVar

from PIL import Image, ImageDraw

PCM_RATE = 24_000
# The last tagged block: the instructions may mention the tags before the text itself.
SOURCE_TEXT = re.compile(r".*<source_text>\n(?P<text>.*)\n</source_text>", re.DOTALL)
PODCAST = {
    "lines": [
        {"speaker": "narrator", "text": "Welcome back. Today we look at this part."},
        {"speaker": "second_host", "text": "And it is a good one. Let's dig in."},
    ]
}
# Retry settings both backends share, for tests that must not wait.
FAST_RETRIES = {
    "max_attempts": "3",
    "backoff_base_seconds": "0.01",
    "backoff_max_seconds": "0.05",
    "timeout_seconds": "5",
}
RETELLING = "A warm retelling of this part of the story, told for listeners."


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
    """A request as a fake received it; `kind` names the endpoint it reached."""

    method: str
    path: str
    kind: str
    headers: dict[str, str]
    body: dict[str, Any]


R = TypeVar("R", bound=RecordedRequest)


# ---- real media -------------------------------------------------------------------------


def sine_pcm(seconds: float, frequency: float = 220.0, rate: int = PCM_RATE) -> bytes:
    """Signed 16-bit little-endian mono PCM: what Gemini TTS returns (at 24 kHz) and what
    /audio/speech's `pcm` format is."""
    samples = array(
        "h",
        (
            int(8000 * math.sin(2 * math.pi * frequency * i / rate))
            for i in range(int(seconds * rate))
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


# ---- plausible answers ------------------------------------------------------------------


def segment_plan(prompt: str, wanted: int) -> dict[str, Any]:
    """Split the text sent in `prompt` (its <source_text> block, or all of it) into at most
    `wanted` titled spans, cut at paragraph or sentence ends."""
    match = SOURCE_TEXT.search(prompt)
    text = match.group("text") if match else prompt
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


# ---- the server -------------------------------------------------------------------------


@dataclass
class FakeModelServer(Generic[R]):
    """A scriptable local HTTP server. Start with `start()`, stop with `stop()` (or use it
    as a context manager).

    `queue()` replies are served first-in first-out to the next request of a kind that
    `_matches` them; `always()` answers a kind with nothing queued; otherwise `_happy`."""

    name: ClassVar[str] = "model"  # each API's own: its name, base path, settings prefix
    base_path: ClassVar[str] = "/"
    settings_prefix: ClassVar[str] = "STORIES_"

    requests: list[R] = field(default_factory=list)
    _queue: deque[tuple[str | None, Reply]] = field(default_factory=deque)
    _always: dict[str | None, Reply] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # ---- what each API defines ------------------------------------------------------------

    def _settings(self) -> dict[str, str]:
        """The backend's own settings for this server, by field name (base URL, key, models)."""
        raise NotImplementedError

    def _request(
        self, method: str, path: str, headers: dict[str, str], body: dict[str, Any]
    ) -> R | Reply:
        """The request to record for this route, or the API's own answer to a bad route."""
        raise NotImplementedError

    def _happy(self, request: R) -> Reply:
        """A plausible answer to a request nothing was scripted for."""
        raise NotImplementedError

    def _matches(self, wanted: str | None, kind: str) -> bool:
        """Whether a reply scripted for `wanted` (None: any) answers a request of `kind`."""
        return wanted is None or wanted == kind

    # ---- scripting ------------------------------------------------------------------------

    @property
    def root(self) -> str:
        assert self._server is not None, f"the fake {self.name} server is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """Where a client is pointed: the root and the API's base path."""
        return f"{self.root}{self.base_path}"

    def environ(self, **overrides: str) -> dict[str, str]:
        """The backend's settings for a fast run against this server: its own (`_settings`)
        and retries bounded with a backoff of ~ms; keyword arguments override settings by
        field name."""
        settings = {**self._settings(), **FAST_RETRIES, **overrides}
        return {f"{self.settings_prefix}{k.upper()}": v for k, v in settings.items()}

    def queue(self, *replies: Reply, kind: str | None = None, times: int = 1) -> None:
        """Serve these replies (each `times` times, in order) to the next requests of `kind`
        before falling back."""
        with self._lock:
            for reply in replies:
                self._queue.extend([(kind, reply)] * times)

    def always(self, reply: Reply, kind: str | None = None) -> None:
        """Answer every request of `kind` that has nothing queued with `reply` (e.g. 503
        forever)."""
        self._always[kind] = reply

    def requests_to(self, kind: str) -> list[R]:
        return [r for r in self.requests if r.kind == kind]

    def _answer(self, request: R) -> Reply:
        with self._lock:
            self.requests.append(request)
            for entry in self._queue:
                if self._matches(entry[0], request.kind):
                    self._queue.remove(entry)
                    return entry[1]
        for kind, reply in self._always.items():
            if self._matches(kind, request.kind):
                return reply
        return self._happy(request)

    # ---- serving --------------------------------------------------------------------------

    def start(self) -> Self:
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
                request = fake._request(
                    method,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    json.loads(payload) if payload else {},
                )
                self._send(request if isinstance(request, Reply) else fake._answer(request))

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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
