"""The one retry layer of a backend that calls a remote model (gemini, openai, a plugin's).

The SDK's own retries are switched off and this layer retries instead, because it is the
layer that already sorts every failure into a domain error: retrying follows the same
classification, the same settings govern every kind of call, and a server's hint
(`Retry-After`, a 429's RetryInfo) is honoured up to the longest backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

from stories_core.errors import GenerationError
from stories_core.telemetry import record_retry

logger = logging.getLogger(__name__)

T = TypeVar("T")


class TransientFailure(Exception):
    """A failure that trying again later may cure; `retry_after` is the server's hint,
    in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter (`base_seconds` doubling up to `max_seconds`), for
    transient failures only, `attempts` tries at most (the first included)."""

    attempts: int
    base_seconds: float
    max_seconds: float

    def run(
        self,
        attempt: Callable[[], T],
        translate: Callable[[Exception], Exception],
        *,
        describe: str,
    ) -> T:
        """`attempt()`, whose failures `translate` sorts: a TransientFailure is tried
        again; anything else leaves as it is translated (a domain error). When the tries
        run out: GenerationError BACKEND_UNAVAILABLE (retryable), `describe` naming the
        call ("the segment call to http://…")."""

        def once() -> T:
            try:
                return attempt()
            except Exception as exc:
                translated = translate(exc)
                if translated is exc:
                    raise
                raise translated from None

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(TransientFailure),
            before_sleep=lambda state: self._log_retry(describe, state),
            reraise=True,
        )
        try:
            return retrying(once)
        except TransientFailure as failure:
            raise GenerationError(
                f"{describe} failed {self.attempts} time(s); last: {failure}",
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

    def _log_retry(self, describe: str, state: tenacity.RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        sleep = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "%s failed (attempt %d of %d): %s; retrying in %.2fs",
            describe,
            state.attempt_number,
            self.attempts,
            failure,
            sleep,
        )
        record_retry(state.attempt_number, str(failure), sleep)
