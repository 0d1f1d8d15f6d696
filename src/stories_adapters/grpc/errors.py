"""Domain errors as canonical gRPC statuses with google.rpc details (via grpcio-status).

Two tables decide what a client sees, both looked up along the error's MRO, so a subclass
inherits its parent's entry until it is given its own:

- `STATUS_CODES`: the gRPC status code of each error class;
- `DETAILS`: the google.rpc details each kind carries. Every error carries an ErrorInfo
  whose reason is the error's own domain `code` (reason == code, always); some add a
  BadRequest, PreconditionFailure, QuotaFailure or RetryInfo.

An error whose status is INTERNAL is a fault on our side: its text is logged, never sent
(the client reads "internal error" and the ErrorInfo reason). An exception that is not a
StoriesError is a bug: INTERNAL with reason INTERNAL, logged.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from stories_adapters.metrics import API_ERRORS
from stories_core.errors import (
    AlreadyExists,
    BackendMisconfigured,
    ConcurrentChange,
    ConflictingRequest,
    DependencyUnavailable,
    DuplicateRegistration,
    GenerationError,
    IllegalTransition,
    InvalidInput,
    InvalidPlugin,
    LeaseLost,
    NotEnabled,
    NotFound,
    QuotaExceeded,
    StoriesError,
    Unauthenticated,
    WebhookRefused,
)

DOMAIN = "stories.v1"
HIDDEN_MESSAGE = "internal error"
log = logging.getLogger(__name__)

V = TypeVar("V")


class RateLimited(StoriesError):
    """Too many calls from one key; try again after `retry_after_seconds`."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after_seconds: float) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class TooManyStreams(RateLimited):
    """Too many WatchJob/ReadAsset streams open, on the server or with one key."""

    code = "TOO_MANY_STREAMS"

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after_seconds=1.0)


class RequestTooLarge(StoriesError):
    """A request (its message or its metadata) larger than the server takes."""

    code = "REQUEST_TOO_LARGE"

    def __init__(self, message: str, *, size: int, limit: int) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit


class OutOfRange(StoriesError):
    """A position past the end of what there is (a ReadAsset offset)."""

    code = "OUT_OF_RANGE"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


STATUS_CODES: Mapping[type[StoriesError], int] = {
    # Faults on our side. A misbuilt plugin set, a refused webhook or a backend failure
    # belong to startup, the dispatcher and the workers; reaching a call, they are ours.
    StoriesError: code_pb2.INTERNAL,
    DuplicateRegistration: code_pb2.INTERNAL,
    InvalidPlugin: code_pb2.INTERNAL,
    WebhookRefused: code_pb2.INTERNAL,
    GenerationError: code_pb2.INTERNAL,
    # The deployment's own backend settings are wrong: no retry helps until an operator
    # fixes them (a request that names the backend is refused earlier, by validate(), as
    # INVALID_ARGUMENT on `backend`).
    BackendMisconfigured: code_pb2.FAILED_PRECONDITION,
    InvalidInput: code_pb2.INVALID_ARGUMENT,
    ConflictingRequest: code_pb2.INVALID_ARGUMENT,
    OutOfRange: code_pb2.OUT_OF_RANGE,
    NotEnabled: code_pb2.FAILED_PRECONDITION,
    IllegalTransition: code_pb2.FAILED_PRECONDITION,
    NotFound: code_pb2.NOT_FOUND,
    Unauthenticated: code_pb2.UNAUTHENTICATED,
    QuotaExceeded: code_pb2.RESOURCE_EXHAUSTED,
    RateLimited: code_pb2.RESOURCE_EXHAUSTED,
    RequestTooLarge: code_pb2.RESOURCE_EXHAUSTED,
    ConcurrentChange: code_pb2.ABORTED,
    LeaseLost: code_pb2.ABORTED,
    # A concurrent twin took the request_id (SubmitJob already retried once): sending
    # the same request again returns the twin's job.
    AlreadyExists: code_pb2.ABORTED,
    # The object store is down or stuck (after the adapter's retries): trying again later
    # may work, so UNAVAILABLE with a RetryInfo.
    DependencyUnavailable: code_pb2.UNAVAILABLE,
}

UNAVAILABLE_RETRY_SECONDS = 5.0
"""The RetryInfo delay sent with UNAVAILABLE (the database or the object store is down)."""


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _info(error: StoriesError, **metadata: str) -> any_pb2.Any:
    info = error_details_pb2.ErrorInfo(reason=error.code, domain=DOMAIN, metadata=metadata)
    return _pack(info)


def _retry(seconds: float) -> any_pb2.Any:
    delay = duration_pb2.Duration()
    # Rounded up: a client that waits exactly this long must find the token free.
    delay.FromMilliseconds(max(1, math.ceil(seconds * 1000)))
    return _pack(error_details_pb2.RetryInfo(retry_delay=delay))


def _bad_request(*violations: tuple[str, str]) -> any_pb2.Any:
    """A BadRequest of (field, description) pairs."""
    return _pack(
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=field, description=description)
                for field, description in violations
            ]
        )
    )


def _reason_only(error: StoriesError) -> list[any_pb2.Any]:
    return [_info(error)]


def _invalid_field(error: InvalidInput) -> list[any_pb2.Any]:
    fields = ",".join(dict.fromkeys(field for field, _ in error.violations))
    info = _info(error, field=error.field, fields=fields)
    return [info, _bad_request(*error.violations)]


def _request_id_reused(error: ConflictingRequest) -> list[any_pb2.Any]:
    return [_info(error), _bad_request((error.field, error.message))]


def _out_of_range(error: OutOfRange) -> list[any_pb2.Any]:
    return [_info(error, field=error.field), _bad_request((error.field, error.message))]


def _not_enabled(error: NotEnabled) -> list[any_pb2.Any]:
    violation = error_details_pb2.PreconditionFailure.Violation(
        type=error.code, subject=error.field, description=error.message
    )
    failure = error_details_pb2.PreconditionFailure(violations=[violation])
    return [_info(error, field=error.field), _pack(failure)]


def _quota_exceeded(error: QuotaExceeded) -> list[any_pb2.Any]:
    violation = error_details_pb2.QuotaFailure.Violation(
        subject=error.subject, description=error.message
    )
    failure = error_details_pb2.QuotaFailure(violations=[violation])
    if error.retry_after_seconds is None:  # it can never fit: waiting will not help
        return [_info(error), _pack(failure)]
    return [_info(error), _pack(failure), _retry(error.retry_after_seconds)]


def _illegal_state(error: IllegalTransition) -> list[any_pb2.Any]:
    """AIP-193: a FAILED_PRECONDITION names what is not so; here the job and its state."""
    subject = f"jobs/{error.job_id}" if error.job_id else ""
    violation = error_details_pb2.PreconditionFailure.Violation(
        type=error.code, subject=subject, description=error.message
    )
    failure = error_details_pb2.PreconditionFailure(violations=[violation])
    metadata = {"job_id": error.job_id, "state": error.state} if error.job_id else {}
    return [_info(error, **metadata), _pack(failure)]


def _too_large(error: RequestTooLarge) -> list[any_pb2.Any]:
    return [_info(error, size_bytes=str(error.size), limit_bytes=str(error.limit))]


def _rate_limited(error: RateLimited) -> list[any_pb2.Any]:
    return [_info(error), _retry(error.retry_after_seconds)]


def _unavailable(error: DependencyUnavailable) -> list[any_pb2.Any]:
    return [_info(error), _retry(UNAVAILABLE_RETRY_SECONDS)]


DETAILS: Mapping[type[StoriesError], Callable[[Any], list[any_pb2.Any]]] = {
    StoriesError: _reason_only,
    InvalidInput: _invalid_field,
    ConflictingRequest: _request_id_reused,
    OutOfRange: _out_of_range,
    NotEnabled: _not_enabled,
    IllegalTransition: _illegal_state,
    RequestTooLarge: _too_large,
    QuotaExceeded: _quota_exceeded,
    RateLimited: _rate_limited,
    DependencyUnavailable: _unavailable,
}


def lookup(table: Mapping[type[StoriesError], V], kind: type[StoriesError]) -> V:
    """`kind`'s entry in `table`, else its nearest ancestor's (along the MRO)."""
    for ancestor in kind.__mro__:
        if ancestor in table:
            return table[ancestor]
    raise KeyError(kind)


class _Status(NamedTuple):
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]


PUSHBACK_HEADER = "grpc-retry-pushback-ms"
"""gRPC's own retry pushback (gRFC A6): a client whose channel has a retry policy waits
this long before its next try. Sent with UNAVAILABLE beside the RetryInfo, so stock gRPC
clients in any language wait as the server asks without reading the details."""


def to_status(error: Exception) -> grpc.Status:
    """The status a client sees for `error`; our own faults never leak their text."""
    if not isinstance(error, StoriesError):
        log.error("unexpected error in a gRPC call", exc_info=error)
        code, message = code_pb2.INTERNAL, HIDDEN_MESSAGE
        details = [_info(StoriesError(HIDDEN_MESSAGE))]
    else:
        code = lookup(STATUS_CODES, type(error))
        message, details = error.message, lookup(DETAILS, type(error))(error)
        if code == code_pb2.INTERNAL:
            log.error("%s in a gRPC call", error.code, exc_info=error)
            message = HIDDEN_MESSAGE
    API_ERRORS.labels(error.code if isinstance(error, StoriesError) else "INTERNAL").inc()
    status = rpc_status.to_status(status_pb2.Status(code=code, message=message, details=details))
    if isinstance(error, DependencyUnavailable):
        pushback = (PUSHBACK_HEADER, str(int(UNAVAILABLE_RETRY_SECONDS * 1000)))
        return _Status(status.code, status.details, (*status.trailing_metadata, pushback))  # type: ignore[return-value]
    return status
