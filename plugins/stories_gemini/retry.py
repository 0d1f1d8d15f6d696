"""The one retry layer: what a failed Gemini call means, and whether to try it again.

google-genai's own retries are switched off (see `client.py`) and tenacity retries here
instead, so there is exactly one layer, and it is the layer that already has to sort
every failure into a domain error: retrying follows the same classification, the same
settings govern every kind of call, and a 429's RetryInfo delay can be honoured.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import tenacity
from google.genai import errors as genai_errors

from stories_core.errors import ContentBlocked, GenerationError

logger = logging.getLogger(__name__)

T = TypeVar("T")

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


class TransientFailure(Exception):
    """A failure that trying again later may cure; `retry_after` is the server's hint."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


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


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped, for transient failures only."""

    attempts: int
    base_seconds: float
    max_seconds: float

    def run(self, what: str, call: Callable[[], T], redact: Callable[[str], str]) -> T:
        """`call()`, tried again on transient failures; every failure leaves as a domain error."""

        def attempt() -> T:
            try:
                return call()
            except Exception as exc:
                translated = translate(exc, what, redact)
                if translated is exc:
                    raise
                raise translated from None

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(TransientFailure),
            before_sleep=lambda state: _log_retry(what, self.attempts, state),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except TransientFailure as failure:
            raise GenerationError(
                f"Gemini {what} call failed {self.attempts} time(s); last: {failure}",
                code="BACKEND_UNAVAILABLE",
                retryable=True,
            ) from None

    def _wait(self, state: tenacity.RetryCallState) -> float:
        backoff = tenacity.wait_exponential_jitter(
            initial=self.base_seconds, max=self.max_seconds, jitter=self.base_seconds
        )(state)
        failure = state.outcome.exception() if state.outcome else None
        hint = getattr(failure, "retry_after", None) or 0.0
        return min(max(backoff, hint), self.max_seconds)


def _log_retry(what: str, attempts: int, state: tenacity.RetryCallState) -> None:
    failure = state.outcome.exception() if state.outcome else None
    sleep = state.next_action.sleep if state.next_action else 0.0
    logger.warning(
        "Gemini %s call failed (attempt %d of %d): %s; retrying in %.2fs",
        what,
        state.attempt_number,
        attempts,
        failure,
        sleep,
    )
