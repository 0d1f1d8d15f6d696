"""Domain errors as canonical gRPC statuses with google.rpc details (via grpcio-status)."""

from __future__ import annotations

import logging

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from stories_core.errors import (
    ConcurrentChange,
    ConflictingRequest,
    IllegalTransition,
    InvalidInput,
    LeaseLost,
    NotEnabled,
    NotFound,
    QuotaExceeded,
    StoriesError,
    Unauthenticated,
)

DOMAIN = "stories.v1"
log = logging.getLogger(__name__)


class RateLimited(StoriesError):
    """Too many calls from one key; try again after `retry_after_seconds`."""

    code = "RESOURCE_EXHAUSTED"

    def __init__(self, message: str, retry_after_seconds: float) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class TooManyStreams(RateLimited):
    """Too many WatchJob/ReadAsset streams open, on the server or with one key."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after_seconds=1.0)


class OutOfRange(StoriesError):
    code = "OUT_OF_RANGE"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _info(reason: str, **metadata: str) -> any_pb2.Any:
    return _pack(error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata=metadata))


def _retry(seconds: float) -> any_pb2.Any:
    delay = duration_pb2.Duration()
    delay.FromMilliseconds(max(1, int(seconds * 1000)))
    return _pack(error_details_pb2.RetryInfo(retry_delay=delay))


def _bad_request(field: str, description: str) -> any_pb2.Any:
    violation = error_details_pb2.BadRequest.FieldViolation(field=field, description=description)
    return _pack(error_details_pb2.BadRequest(field_violations=[violation]))


def to_status(error: Exception) -> grpc.Status:
    """The status a client sees for `error`; unexpected errors never leak their text."""
    code, message, details = code_pb2.INTERNAL, "internal error", [_info("INTERNAL")]
    if isinstance(error, ConflictingRequest):
        code, message = code_pb2.INVALID_ARGUMENT, error.message
        details = [_info("REQUEST_ID_REUSED"), _bad_request(error.field, error.message)]
    elif isinstance(error, InvalidInput):
        code, message = code_pb2.INVALID_ARGUMENT, error.message
        details = [
            _info("INVALID_FIELD", field=error.field),
            _bad_request(error.field, error.reason),
        ]
    elif isinstance(error, OutOfRange):
        code, message = code_pb2.OUT_OF_RANGE, error.message
        details = [_info("OUT_OF_RANGE", field=error.field), _bad_request(error.field, message)]
    elif isinstance(error, NotEnabled):
        code, message = code_pb2.FAILED_PRECONDITION, error.message
        violation = error_details_pb2.PreconditionFailure.Violation(
            type="NOT_ENABLED", subject=error.field, description=error.message
        )
        details = [
            _info("NOT_ENABLED", field=error.field),
            _pack(error_details_pb2.PreconditionFailure(violations=[violation])),
        ]
    elif isinstance(error, NotFound):
        code, message, details = code_pb2.NOT_FOUND, error.message, [_info("NOT_FOUND")]
    elif isinstance(error, IllegalTransition):
        code, message = code_pb2.FAILED_PRECONDITION, error.message
        details = [_info("ILLEGAL_STATE")]
    elif isinstance(error, Unauthenticated):
        code, message = code_pb2.UNAUTHENTICATED, error.message
        details = [_info("UNAUTHENTICATED")]
    elif isinstance(error, QuotaExceeded):
        code, message = code_pb2.RESOURCE_EXHAUSTED, error.message
        violation = error_details_pb2.QuotaFailure.Violation(
            subject=error.subject, description=error.message
        )
        details = [
            _info("QUOTA_EXCEEDED"),
            _pack(error_details_pb2.QuotaFailure(violations=[violation])),
            _retry(error.retry_after_seconds),
        ]
    elif isinstance(error, RateLimited):
        code, message = code_pb2.RESOURCE_EXHAUSTED, error.message
        reason = "TOO_MANY_STREAMS" if isinstance(error, TooManyStreams) else "RATE_LIMITED"
        details = [_info(reason), _retry(error.retry_after_seconds)]
    elif isinstance(error, LeaseLost | ConcurrentChange):
        code, message, details = code_pb2.ABORTED, error.message, [_info("CONCURRENT_CHANGE")]
    else:
        log.exception("unexpected error in a gRPC call", exc_info=error)
    return rpc_status.to_status(status_pb2.Status(code=code, message=message, details=details))
