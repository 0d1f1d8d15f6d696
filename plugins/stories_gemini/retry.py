"""What a failed Gemini call means, and whether trying it again may help: the translation
the core's one retry layer (`stories_core.plugins.retry`) runs every failure through.
google-genai's own retries are off (see `client.py`); a 429's RetryInfo delay becomes the
failure's hint.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

from google.genai import errors as genai_errors

from stories_core.errors import ContentBlocked, GenerationError
from stories_core.plugins.retry import TransientFailure

TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def _transport_errors() -> tuple[type[Exception], ...]:
    """Connection failures and timeouts of whichever httpx flavour google-genai uses."""
    found = []
    for name in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(name).TransportError)
        except ImportError:
            continue
    return tuple(found)


TRANSPORT_ERRORS = _transport_errors()


def translate(exc: Exception, what: str, redact: Callable[[str], str]) -> Exception:
    """The domain error (or TransientFailure) an SDK or transport exception stands for."""
    if isinstance(exc, genai_errors.APIError):
        return _translate_api_error(exc, what, redact)
    if isinstance(exc, TRANSPORT_ERRORS):
        return TransientFailure(redact(f"{type(exc).__name__}: {exc}"))
    if isinstance(exc, (json.JSONDecodeError, genai_errors.UnknownApiResponseError)):
        # The HTTP body itself (not the model's text) was not JSON: a proxy or a cut-off reply.
        return TransientFailure(f"the answer to the {what} call was not a JSON response")
    return exc


def _translate_api_error(
    exc: genai_errors.APIError, what: str, redact: Callable[[str], str]
) -> Exception:
    body = exc.details if isinstance(exc.details, dict) else {}
    error = body.get("error", body)
    details = (error.get("details") if isinstance(error, dict) else None) or []
    reasons = {d.get("reason", "") for d in details if isinstance(d, dict)}
    summary = redact(f"HTTP {exc.code} {exc.status or ''}: {exc.message or ''}".strip())
    if exc.code in (401, 403) or any(reason.startswith("API_KEY_") for reason in reasons):
        return GenerationError(
            f"Gemini refused the credentials ({summary}); check STORIES_GEMINI_API_KEY",
            code="BACKEND_AUTH_FAILED",
            retryable=False,
        )
    if exc.code in TRANSIENT_STATUS:
        return TransientFailure(summary, _retry_delay(details))
    if exc.code == 400 and "responsible ai" in (exc.message or "").lower():
        # How Imagen refuses a prompt it will not draw: a 400 citing Responsible AI practices.
        return ContentBlocked(f"Gemini refused the {what} prompt ({summary})")
    return GenerationError(
        f"Gemini rejected the {what} request ({summary})", code="BACKEND_REJECTED"
    )


def _retry_delay(details: list[Any]) -> float | None:
    """Seconds from a google.rpc.RetryInfo detail, e.g. {"retryDelay": "37s"}."""
    for detail in details:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            try:
                return float(str(detail.get("retryDelay", "")).removesuffix("s"))
            except ValueError:
                return None
    return None
