"""Every error says what it is: its `code` is a domain reason, the gRPC adapter's table
gives every error class a status code (along the MRO), and the ErrorInfo reason a client
reads is always the error's own code."""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable
from types import ModuleType

import grpc
import pytest
from google.protobuf import message as protobuf_message
from google.rpc import code_pb2, error_details_pb2, status_pb2

from stories_adapters.grpc import errors as grpc_errors
from stories_adapters.grpc.errors import (
    STATUS_CODES,
    OutOfRange,
    RateLimited,
    RequestTooLarge,
    TooManyStreams,
    lookup,
    to_status,
)
from stories_core import errors as core_errors
from stories_core.errors import (
    AlreadyExists,
    BackendMisconfigured,
    BrokerUnavailable,
    ConcurrentChange,
    ConflictingRequest,
    ContentBlocked,
    DatabaseUnavailable,
    DependencyUnavailable,
    DuplicateRegistration,
    GenerationError,
    IllegalTransition,
    InvalidInput,
    InvalidPlugin,
    LeaseLost,
    ModelOutputInvalid,
    NotEnabled,
    NotFound,
    QuotaExceeded,
    StorageUnavailable,
    StoriesError,
    Unauthenticated,
    WebhookRefused,
)

# The domain reasons spelt like a gRPC status name, on purpose: the plainest word for the
# thing, and what the API has always sent (documented in stories_core.errors). The
# adapter's OutOfRange keeps OUT_OF_RANGE, the reason ReadAsset has always sent.
GRPC_NAMED_REASONS = frozenset({"NOT_FOUND", "UNAUTHENTICATED", "INTERNAL"})
ADAPTER_GRPC_NAMED_REASONS = frozenset({"OUT_OF_RANGE"})
GRPC_STATUS_NAMES = frozenset(code_pb2.Code.keys())
UPPER_SNAKE = re.compile(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*")

# Each error class: an instance, the status a client gets, and the ErrorInfo reason (the
# wire contract: these reasons must not change). A new error class fails
# test_every_error_class_is_decided until it is added here.
EXPECTED: dict[type[StoriesError], tuple[Callable[[], StoriesError], grpc.StatusCode, str]] = {
    StoriesError: (lambda: StoriesError("boom"), grpc.StatusCode.INTERNAL, "INTERNAL"),
    InvalidInput: (
        lambda: InvalidInput("pictures", "must be 1 to 12"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_FIELD",
    ),
    NotEnabled: (
        lambda: NotEnabled("webhook_url", "webhooks are not enabled"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NOT_ENABLED",
    ),
    NotFound: (lambda: NotFound("job x not found"), grpc.StatusCode.NOT_FOUND, "NOT_FOUND"),
    IllegalTransition: (
        lambda: IllegalTransition("job x has already succeeded"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ILLEGAL_STATE",
    ),
    ConflictingRequest: (
        lambda: ConflictingRequest("request_id", "'k' was already used"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "REQUEST_ID_REUSED",
    ),
    ConcurrentChange: (
        lambda: ConcurrentChange("job x changed meanwhile"),
        grpc.StatusCode.ABORTED,
        "CONCURRENT_CHANGE",
    ),
    LeaseLost: (
        lambda: LeaseLost("job x is no longer held by w"),
        grpc.StatusCode.ABORTED,
        "CONCURRENT_CHANGE",
    ),
    AlreadyExists: (
        lambda: AlreadyExists("request_id 'k' is already taken"),
        grpc.StatusCode.ABORTED,
        "KEY_TAKEN",
    ),
    DuplicateRegistration: (
        lambda: DuplicateRegistration("style 'x' registered by a and b"),
        grpc.StatusCode.INTERNAL,
        "PLUGIN_CONFLICT",
    ),
    InvalidPlugin: (
        lambda: InvalidPlugin("unknown hook"),
        grpc.StatusCode.INTERNAL,
        "PLUGIN_INVALID",
    ),
    GenerationError: (
        lambda: GenerationError("model down", code="BACKEND_UNAVAILABLE", retryable=True),
        grpc.StatusCode.INTERNAL,
        "BACKEND_UNAVAILABLE",
    ),
    BackendMisconfigured: (
        lambda: BackendMisconfigured("STORIES_GEMINI_API_KEY is missing"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "BACKEND_MISCONFIGURED",
    ),
    ModelOutputInvalid: (
        lambda: ModelOutputInvalid("not JSON"),
        grpc.StatusCode.INTERNAL,
        "MODEL_OUTPUT_INVALID",
    ),
    ContentBlocked: (
        lambda: ContentBlocked("blocked"),
        grpc.StatusCode.INTERNAL,
        "CONTENT_BLOCKED",
    ),
    Unauthenticated: (
        lambda: Unauthenticated("missing or invalid API key"),
        grpc.StatusCode.UNAUTHENTICATED,
        "UNAUTHENTICATED",
    ),
    QuotaExceeded: (
        lambda: QuotaExceeded("quota used up", subject="key k", retry_after_seconds=60),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "QUOTA_EXCEEDED",
    ),
    WebhookRefused: (
        lambda: WebhookRefused("127.0.0.1 is a loopback address"),
        grpc.StatusCode.INTERNAL,
        "WEBHOOK_REFUSED",
    ),
    StorageUnavailable: (
        lambda: StorageUnavailable("the object store did not answer (timeout after 30 s)"),
        grpc.StatusCode.UNAVAILABLE,
        "STORAGE_UNAVAILABLE",
    ),
    DependencyUnavailable: (
        lambda: DependencyUnavailable("a service we depend on did not answer"),
        grpc.StatusCode.UNAVAILABLE,
        "DEPENDENCY_UNAVAILABLE",
    ),
    DatabaseUnavailable: (
        lambda: DatabaseUnavailable("the database did not answer; try again shortly"),
        grpc.StatusCode.UNAVAILABLE,
        "DATABASE_UNAVAILABLE",
    ),
    BrokerUnavailable: (
        lambda: BrokerUnavailable("the message broker did not acknowledge in time"),
        grpc.StatusCode.UNAVAILABLE,
        "BROKER_UNAVAILABLE",
    ),
    RateLimited: (
        lambda: RateLimited("too many calls", retry_after_seconds=0.5),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "RATE_LIMITED",
    ),
    TooManyStreams: (
        lambda: TooManyStreams("more than 32 open streams with this key"),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "TOO_MANY_STREAMS",
    ),
    OutOfRange: (
        lambda: OutOfRange("offset", "is past the end of the asset (3 bytes)"),
        grpc.StatusCode.OUT_OF_RANGE,
        "OUT_OF_RANGE",
    ),
    RequestTooLarge: (
        lambda: RequestTooLarge("the request has 9 bytes; the limit is 8", size=9, limit=8),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "REQUEST_TOO_LARGE",
    ),
}


def _error_classes(module: ModuleType) -> set[type[StoriesError]]:
    return {
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, StoriesError)
        and value.__module__ == module.__name__
    }


CORE_CLASSES = _error_classes(core_errors)
ADAPTER_CLASSES = _error_classes(grpc_errors)


def _status(error: Exception) -> tuple[grpc.Status, dict[str, protobuf_message.Message]]:
    status = to_status(error)
    (key, blob), *pushback = status.trailing_metadata
    assert key == "grpc-status-details-bin"
    assert pushback == ([] if not isinstance(error, DependencyUnavailable) else [
        ("grpc-retry-pushback-ms", "5000")
    ])  # fmt: skip
    decoded = status_pb2.Status.FromString(blob)
    assert (decoded.code, decoded.message) == (status.code.value[0], status.details)
    found: dict[str, protobuf_message.Message] = {}
    kinds = (
        error_details_pb2.ErrorInfo,
        error_details_pb2.BadRequest,
        error_details_pb2.PreconditionFailure,
        error_details_pb2.QuotaFailure,
        error_details_pb2.RetryInfo,
    )
    for detail in decoded.details:
        [kind] = [k for k in kinds if detail.Is(k.DESCRIPTOR)]
        found[kind.DESCRIPTOR.name] = kind()
        detail.Unpack(found[kind.DESCRIPTOR.name])
    assert found["ErrorInfo"].domain == "stories.v1"
    return status, found


def test_every_error_class_is_decided() -> None:
    core, adapter = CORE_CLASSES, ADAPTER_CLASSES
    assert core and adapter == {RateLimited, TooManyStreams, OutOfRange, RequestTooLarge}
    assert core | adapter == set(EXPECTED), "decide the status and reason of a new error"


@pytest.mark.parametrize(
    "kind", sorted(EXPECTED, key=lambda k: k.__name__), ids=lambda kind: kind.__name__
)
def test_every_error_has_a_status_and_sends_its_code_as_the_reason(kind, caplog) -> None:
    make, status_code, reason = EXPECTED[kind]
    error = make()
    assert type(error) is kind
    assert lookup(STATUS_CODES, kind) == status_code.value[0]
    assert error.code == reason
    with caplog.at_level(logging.ERROR, logger=grpc_errors.__name__):
        status, found = _status(error)
    assert status.code == status_code
    assert found["ErrorInfo"].reason == error.code
    if status_code == grpc.StatusCode.INTERNAL:
        assert status.details == "internal error", "our own faults never leak their text"
        assert error.message in caplog.text
    else:
        assert status.details == error.message
        assert not caplog.records


@pytest.mark.parametrize(
    "kind", sorted(EXPECTED, key=lambda k: k.__name__), ids=lambda kind: kind.__name__
)
def test_codes_are_domain_reasons_not_grpc_status_names(kind) -> None:
    code = EXPECTED[kind][0]().code
    assert UPPER_SNAKE.fullmatch(code), code
    allowed = GRPC_NAMED_REASONS | (
        ADAPTER_GRPC_NAMED_REASONS if kind in ADAPTER_CLASSES else set()
    )
    assert code not in GRPC_STATUS_NAMES or code in allowed, f"{kind.__name__}.code is {code}"


def test_a_subclass_without_an_entry_inherits_its_parents_status_and_details() -> None:
    class PictureCountNotEnabled(NotEnabled):
        pass

    class Exotic(StoriesError):
        code = "EXOTIC"

    status, found = _status(PictureCountNotEnabled("pictures", "more than 4 is not enabled"))
    assert status.code == grpc.StatusCode.FAILED_PRECONDITION
    assert found["ErrorInfo"].reason == "NOT_ENABLED"
    assert found["PreconditionFailure"].violations[0].subject == "pictures"
    status, found = _status(Exotic("a secret path /srv/x"))
    assert (status.code, status.details) == (grpc.StatusCode.INTERNAL, "internal error")
    assert found["ErrorInfo"].reason == "EXOTIC"


def test_an_unexpected_error_is_internal_logged_and_never_leaks(caplog) -> None:
    with caplog.at_level(logging.ERROR, logger=grpc_errors.__name__):
        status, found = _status(RuntimeError("password=hunter2"))
    assert (status.code, status.details) == (grpc.StatusCode.INTERNAL, "internal error")
    assert set(found) == {"ErrorInfo"} and found["ErrorInfo"].reason == "INTERNAL"
    assert "hunter2" not in str(status) and "hunter2" in caplog.text


def test_each_kind_carries_its_details() -> None:
    _, found = _status(InvalidInput("pictures", "must be 1 to 12"))
    assert dict(found["ErrorInfo"].metadata) == {"field": "pictures", "fields": "pictures"}
    [violation] = found["BadRequest"].field_violations
    assert (violation.field, violation.description) == ("pictures", "must be 1 to 12")

    _, found = _status(ConflictingRequest("request_id", "'k' was already used"))
    assert set(found) == {"ErrorInfo", "BadRequest"}
    assert found["BadRequest"].field_violations[0].field == "request_id"

    _, found = _status(OutOfRange("offset", "is past the end"))
    assert dict(found["ErrorInfo"].metadata) == {"field": "offset"}
    assert found["BadRequest"].field_violations[0].field == "offset"

    _, found = _status(NotEnabled("webhook_url", "webhooks are not enabled"))
    [violation] = found["PreconditionFailure"].violations
    assert (violation.type, violation.subject) == ("NOT_ENABLED", "webhook_url")

    _, found = _status(QuotaExceeded("used up", subject="key k", retry_after_seconds=60))
    assert found["QuotaFailure"].violations[0].subject == "key k"
    assert found["RetryInfo"].retry_delay.seconds == 60

    _, found = _status(TooManyStreams("too many"))
    assert set(found) == {"ErrorInfo", "RetryInfo"}
    assert found["RetryInfo"].retry_delay.seconds == 1

    _, found = _status(StorageUnavailable("the object store refused the connection"))
    assert set(found) == {"ErrorInfo", "RetryInfo"}
    assert found["RetryInfo"].retry_delay.seconds > 0

    _, found = _status(IllegalTransition("job j has already succeeded", job_id="j", state="s"))
    assert dict(found["ErrorInfo"].metadata) == {"job_id": "j", "state": "s"}
    [violation] = found["PreconditionFailure"].violations
    assert (violation.type, violation.subject) == ("ILLEGAL_STATE", "jobs/j")

    for plain in (NotFound("x"), Unauthenticated("x"), LeaseLost("x")):
        assert set(_status(plain)[1]) == {"ErrorInfo"}
