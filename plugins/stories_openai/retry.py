"""What a failed call to an OpenAI-compatible server means, and whether trying it again
may help: the translation the core's one retry layer (`stories_core.plugins.retry`) runs
every failure through. The openai SDK's own retries are off (`max_retries=0`, see
`client.py`); a server's `Retry-After` / `retry-after-ms` becomes the failure's hint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import openai

from stories_core.errors import BackendMisconfigured, ContentBlocked, GenerationError
from stories_core.plugins.retry import TransientFailure

TRANSIENT_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
# How servers say a prompt or an image broke their content policy (OpenAI's images API,
# gpt-image moderation, Azure OpenAI's content filter).
POLICY_CODES = frozenset({"content_policy_violation", "moderation_blocked", "content_filter"})
POLICY_WORDS = ("safety system", "content policy", "content management policy")
MAX_MESSAGE_CHARS = 300


class Rejected(GenerationError):
    """The server refused the request itself (a 4xx other than auth, rate or policy);
    trying again unchanged would not help. `status` and `detail` say why, for callers that
    can change the request (the text endpoint without a JSON schema, say)."""

    def __init__(self, message: str, *, status: int, detail: str) -> None:
        super().__init__(message, code="BACKEND_REJECTED", retryable=False)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Call:
    """What a call is, for messages: `what` ("segmentation"), the server, where its key comes
    from, and how to blank out the key in anything built from upstream text."""

    what: str
    server: str
    key_variables: str
    redact: Callable[[str], str]
    model: str = ""
    model_variable: str = ""


def translate(exc: Exception, call: Call) -> Exception:
    """The domain error (or TransientFailure) an SDK exception stands for."""
    if isinstance(exc, openai.APITimeoutError):
        return TransientFailure(f"no answer from {call.server} in time (timeout)")
    if isinstance(exc, openai.APIConnectionError):
        cause = type(exc.__cause__).__name__ if exc.__cause__ else "connection error"
        return TransientFailure(f"could not reach {call.server} ({cause})")
    if isinstance(exc, openai.APIStatusError):
        return _translate_status(exc, call)
    if isinstance(exc, (openai.APIResponseValidationError, json.JSONDecodeError)):
        # The HTTP body itself was not the JSON the API returns: a proxy, or a cut-off reply.
        return TransientFailure(
            f"the answer to the {call.what} call from {call.server} was not an API response"
        )
    return exc


def _translate_status(exc: openai.APIStatusError, call: Call) -> Exception:
    status = exc.status_code
    body = exc.body if isinstance(exc.body, dict) else {}
    message = _message(body)
    code = str(body.get("code") or "")
    summary = call.redact(_summary(status, code, message))
    if status in (401, 403):
        return GenerationError(
            f"{call.server} refused the key for the {call.what} call ({summary}); "
            f"check {call.key_variables}",
            code="BACKEND_AUTH_FAILED",
            retryable=False,
        )
    lowered = message.lower()
    if code in POLICY_CODES or any(words in lowered for words in POLICY_WORDS):
        return ContentBlocked(f"{call.server} refused the {call.what} prompt ({summary})")
    if status == 429 and code == "insufficient_quota":
        # Out of credit, not rate-limited: trying again in a few seconds cannot help, but
        # the job may succeed once the account is topped up.
        return GenerationError(
            f"{call.server} has no quota left for the {call.what} call ({summary})",
            code="BACKEND_UNAVAILABLE",
            retryable=True,
        )
    if status in TRANSIENT_STATUS or status >= 500:
        return TransientFailure(summary, retry_after(exc.response.headers))
    if call.model and (code == "model_not_found" or (status == 404 and call.model in message)):
        # A server that lists no models says so only when the model is used (Ollama: "model
        # 'x' not found, try pulling it first"): a setting to fix, not a request to retry.
        return BackendMisconfigured(
            f"{call.server} does not offer the model {call.model!r} (set by "
            f"{call.model_variable}): {summary}"
        )
    detail = call.redact(f"{code} {exc.param or ''} {message} {exc.body}".lower())
    return Rejected(
        f"{call.server} rejected the {call.what} request ({summary})", status=status, detail=detail
    )


def _message(body: dict[str, Any]) -> str:
    """The server's own short message: OpenAI's `error.message`, or a FastAPI `detail` (as
    Kokoro-FastAPI and speaches answer). A body that is not JSON (an HTML error page from a
    proxy) says nothing worth repeating."""
    for candidate in (body.get("message"), body.get("detail")):
        if isinstance(candidate, dict):
            candidate = candidate.get("message")
        if isinstance(candidate, str) and candidate.strip():
            return candidate
    return ""


def _summary(status: int, code: str, message: str) -> str:
    """ "HTTP 429 rate_limit_exceeded: Rate limit reached..." — the status and the server's own
    short message, never the whole body or the library's internals."""
    text = " ".join(message.split())
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    head = f"HTTP {status}" + (f" {code}" if code else "")
    return f"{head}: {text}" if text else head


def retry_after(headers: Any) -> float | None:
    """Seconds the server asks us to wait: `retry-after-ms`, then `retry-after` (seconds or
    an HTTP date)."""
    try:
        millis = headers.get("retry-after-ms")
        if millis is not None:
            return max(0.0, float(millis) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None
