"""Domain errors.

Every error's `code` is a domain reason in UPPER_SNAKE: it says what went wrong, not how a
transport reports it. It is stable and machine-readable: a failed job stores it as its
`error_code`, the command line prints it, and the gRPC API sends it as the reason of the
`google.rpc.ErrorInfo` on every error (reason == code, always). A few reasons share their
spelling with a gRPC status name because that is also the plainest domain word and the
API has always sent it: NOT_FOUND, UNAUTHENTICATED and INTERNAL (the base class: a fault
on our side). No other code is a gRPC status name.

Which transport status an error becomes is the adapters' business, never the core's: the
gRPC mapping (a table from error class to status code, with the google.rpc details each
kind carries) lives in `stories_adapters.grpc.errors`.
"""

from __future__ import annotations

from collections.abc import Sequence

SHOWN_CHARS = 24


def shown(value: str) -> str:
    """A bad value as an error message may carry it: a short prefix, quoted, every
    character outside printable ASCII escaped, so an error never grows with the input (a
    gRPC error travels in metadata, 16 KiB at most) and no control byte reaches a log or a
    header."""
    more = f"... ({len(value):,} characters)" if len(value) > SHOWN_CHARS else ""
    return ascii(value[:SHOWN_CHARS]) + more


class StoriesError(Exception):
    """Base of every error the core raises on purpose; `code` is its domain reason."""

    code = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(StoriesError):
    """One or more request fields are wrong; nothing was changed. `violations` holds each
    (field, reason), the reason never repeating the field's name; `field` and `reason` are
    the first's. The message names them all: "pictures: must be ...; backend: unknown ..."."""

    code = "INVALID_FIELD"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message
        self.violations: tuple[tuple[str, str], ...] = ((field, message),)

    @classmethod
    def of(cls, violations: Sequence[tuple[str, str]]) -> InvalidInput:
        """One error naming every (field, reason) of `violations` (at least one)."""
        error = cls(*violations[0])
        error.violations = tuple(violations)
        error.message = "; ".join(f"{field}: {reason}" for field, reason in violations)
        error.args = (error.message,)
        return error


class NotEnabled(StoriesError):
    """A request field asks for something this deployment does not offer; nothing was
    changed. (Unlike InvalidInput, the same request can work on another deployment.)"""

    code = "NOT_ENABLED"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NotFound(StoriesError):
    """The thing does not exist, or belongs to someone else (the two are never told apart)."""

    code = "NOT_FOUND"


class IllegalTransition(StoriesError):
    """A state change the state machine does not allow; `job_id` the job's (when it is a
    job's), `state` the state it is in."""

    code = "ILLEGAL_STATE"

    def __init__(self, message: str, *, job_id: str = "", state: str = "") -> None:
        super().__init__(message)
        self.job_id = job_id
        self.state = state


class ConflictingRequest(StoriesError):
    """An idempotency key was reused with a different request."""

    code = "REQUEST_ID_REUSED"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class ConcurrentChange(StoriesError):
    """The thing changed between our read and our write; reading again and retrying is safe."""

    code = "CONCURRENT_CHANGE"


class AlreadyExists(StoriesError):
    """A unique key (such as a tenant's request_id) was taken by a concurrent writer."""

    code = "KEY_TAKEN"


class LeaseLost(StoriesError):
    """Another worker holds this job now; every write of ours must stop. (Its code is
    ConcurrentChange's: to anyone outside the worker, another writer got there first.)"""

    code = "CONCURRENT_CHANGE"


class DuplicateRegistration(StoriesError):
    """Two plugins registered the same name."""

    code = "PLUGIN_CONFLICT"


class InvalidPlugin(StoriesError):
    """An installed plugin does not fit the hook specifications (say, a misspelt hook)."""

    code = "PLUGIN_INVALID"


class GenerationError(StoriesError):
    """A generator backend failed. `retryable` says whether trying later may help."""

    code = "GENERATION_FAILED"

    def __init__(self, message: str, *, code: str | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.retryable = retryable


class BackendMisconfigured(GenerationError):
    """A backend's `STORIES_<NAME>_*` settings are missing or wrong; the message names every
    bad variable (never its value: it may be a secret). Not retryable until fixed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="BACKEND_MISCONFIGURED", retryable=False)


class ModelOutputInvalid(GenerationError):
    """A backend's answer could not be parsed or repaired."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="MODEL_OUTPUT_INVALID", retryable=False)


class ContentBlocked(GenerationError):
    """A backend refused the content on safety grounds."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="CONTENT_BLOCKED", retryable=False)


class Unauthenticated(StoriesError):
    """No valid credentials. One message for missing, unknown and revoked keys alike."""

    code = "UNAUTHENTICATED"


class QuotaExceeded(StoriesError):
    """A tenant's key used up its allowance for the period; `retry_after_seconds` until the
    next period, None when the request can never fit (it alone exceeds a whole period's)."""

    code = "QUOTA_EXCEEDED"

    def __init__(self, message: str, *, subject: str, retry_after_seconds: float | None) -> None:
        super().__init__(message)
        self.subject = subject
        self.retry_after_seconds = retry_after_seconds


class WebhookRefused(StoriesError):
    """A webhook URL that must never be called (it points inside our own network)."""

    code = "WEBHOOK_REFUSED"


class DependencyUnavailable(StoriesError):
    """A service we depend on (the database, the object store) did not answer or refused
    us. Retryable: nothing is wrong with the request or the job. The message says what
    happened in our words, never an address, a key or a library's text (the adapter
    logs those)."""

    code = "DEPENDENCY_UNAVAILABLE"
    retryable = True


class StorageUnavailable(DependencyUnavailable):
    """The object store did not answer, refused the connection, or kept failing (5xx)
    after the storage adapter's own retries."""

    code = "STORAGE_UNAVAILABLE"


class DatabaseUnavailable(DependencyUnavailable):
    """The database refused the connection, dropped it, or did not answer in time."""

    code = "DATABASE_UNAVAILABLE"


class BrokerUnavailable(DependencyUnavailable):
    """The message broker did not acknowledge what was sent to it in time."""

    code = "BROKER_UNAVAILABLE"
