"""The BlobStore port on MinIO or any S3-compatible server, for the service at scale."""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

import certifi
import urllib3
from minio import Minio
from minio.datatypes import Object
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from stories_core.errors import NotFound, StorageUnavailable, StoriesError

log = logging.getLogger(__name__)

_MISSING = frozenset({"NoSuchKey", "NoSuchObject"})
_RACED = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})
RETRIED_STATUSES = (429, 500, 502, 503, 504)
"""The answers of an object store that is busy or restarting: retried by the pool."""
CALL_RETRIES = 2
"""Retries of one call (so three attempts at most), for refused or dropped connections
and 5xx."""


class CallRetry(urllib3.Retry):
    """urllib3 counts a dropped connection (a reset keep-alive, a restarting store) and a
    read timeout alike as read errors. A drop is retried like a refused connection; a
    read timeout is not (the store took the request and is stuck)."""

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: object = None,
        error: Exception | None = None,
        _pool: object = None,
        _stacktrace: object = None,
    ) -> urllib3.Retry:
        if isinstance(error, ReadTimeoutError):
            raise MaxRetryError(_pool, url, error) from error  # type: ignore[arg-type]
        return super().increment(method, url, response, error, _pool, _stacktrace)  # type: ignore[arg-type]


CHECKSUM_METADATA = "sha256"
"""Stored as `x-amz-meta-sha256`: the hex sha256 of the bytes, so a reader can verify them."""


class S3BlobStore:
    """Assets as objects in one bucket, under the deterministic keys the core chooses.

    A retry writes the same key again, so it replaces the object instead of adding one.
    """

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        *,
        region: str = "us-east-1",
        url_expiry: timedelta = timedelta(minutes=15),
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_connections: int = 32,
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"S3 endpoint must be an http(s) URL, got {endpoint!r}")
        if parts.path not in ("", "/") or parts.query:
            raise ValueError(f"S3 endpoint must not carry a path or query: {endpoint!r}")
        if connect_timeout <= 0 or read_timeout <= 0 or max_connections < 1:
            raise ValueError("timeouts must be > 0 and max_connections >= 1")
        self.bucket = bucket
        self.url_expiry = url_expiry
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        # Giving the region up front spares the client a bucket-location lookup per URL.
        self._client = Minio(
            parts.netloc,
            access_key=access_key,
            secret_key=secret_key,
            secure=parts.scheme == "https",
            region=region,
            http_client=http_client(connect_timeout, read_timeout, max_connections),
        )
        self._region = region

    def ensure_bucket(self) -> None:
        """Create the bucket if it is absent (at start-up); an existing one is left alone."""
        with self._translated("bucket check", None):
            exists = self._client.bucket_exists(self.bucket)
        if exists:
            return
        try:
            with self._translated("bucket creation", None, passed=_RACED):
                self._client.make_bucket(self.bucket, location=self._region)
        except S3Error:
            pass  # another replica starting at the same moment won the race

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """One PUT (or a multipart upload completed at once): S3 makes it visible whole."""
        digest = hashlib.sha256(data).hexdigest()
        with self._translated("put", key):
            self._client.put_object(
                self.bucket,
                key,
                io.BytesIO(data),
                len(data),
                content_type=content_type,
                metadata={CHECKSUM_METADATA: digest},
            )

    def open(self, key: str, offset: int = 0, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        """Stream from `offset` with one ranged GET, `chunk_size` bytes at a time, so a large
        asset never sits whole in memory. Lazy, like the local store: the GET (and NotFound)
        happen on the first `next()`, and the connection goes back to the pool at the end."""
        if offset < 0 or chunk_size <= 0:
            raise ValueError("offset must be >= 0 and chunk_size > 0")
        try:
            with self._translated("get", key, passed={"InvalidRange"}):
                response = self._client.get_object(self.bucket, key, offset=offset)
        except S3Error:
            return  # an offset at or past the end: nothing left to read, as with a file
        try:
            # Raw bytes: the object is what was put, whatever Content-Encoding it claims.
            with self._translated("read", key):
                for chunk in response.stream(chunk_size, decode_content=False):
                    if chunk:
                        yield chunk
        finally:
            response.close()
            response.release_conn()

    def size(self, key: str) -> int:
        return self._stat(key).size or 0

    def checksum(self, key: str) -> str | None:
        """The hex sha256 recorded when the object was put (None if written by someone else)."""
        metadata = self._stat(key).metadata or {}
        return metadata.get(f"x-amz-meta-{CHECKSUM_METADATA}")

    def url(self, key: str) -> str:
        """A presigned GET that works for `url_expiry` only: clients download straight from
        the store, without credentials and without the service relaying the bytes."""
        with self._translated("presign", key):
            return self._client.presigned_get_object(self.bucket, key, expires=self.url_expiry)

    def _stat(self, key: str) -> Object:
        with self._translated("stat", key):
            return self._client.stat_object(self.bucket, key)

    @contextmanager
    def _translated(
        self, operation: str, key: str | None, passed: Collection[str] = ()
    ) -> Iterator[None]:
        """Errors in our words: whatever minio or urllib3 raise becomes a StoriesError whose
        message names neither the store's address, nor the key, nor the library's text.
        The detail goes to the log, once, at WARNING (the key may appear there).

        An unavailable store (no connection, no answer in time, 5xx after the retries) is
        StorageUnavailable, retryable; a missing key NotFound; an S3 error code in
        `passed` is re-raised as is, for the caller to decide; any other refusal (bad
        credentials, no bucket) is a fault of ours, INTERNAL."""
        try:
            yield
        except S3Error as error:
            status = _status_of(error)
            if status >= 500 or status == 429:
                raise self._unavailable(operation, key, error, f"HTTP {status}") from None
            if error.code in passed:
                raise
            if key is not None and error.code in _MISSING:
                raise NotFound("blob not found") from None
            raise self._refused(operation, key, error) from None
        except (ServerError, InvalidResponseError) as error:
            status = _status_of(error)
            if status >= 500 or status == 429:
                raise self._unavailable(operation, key, error, f"HTTP {status}") from None
            raise self._refused(operation, key, error) from None
        except (HTTPError, MinioException, OSError) as error:
            raise self._unavailable(operation, key, error, None) from None

    def _unavailable(
        self, operation: str, key: str | None, error: BaseException, status: str | None
    ) -> StorageUnavailable:
        # Debug only: a worker tells the outage once each way (stories_core.outages), and
        # the API answers UNAVAILABLE; this line has the details.
        log.debug(
            "object store %s of %s in bucket %s failed: %s: %s",
            operation,
            key or "-",
            self.bucket,
            type(error).__name__,
            error,
        )
        return StorageUnavailable(self._explain(error, status))

    def _refused(self, operation: str, key: str | None, error: BaseException) -> StoriesError:
        """A refusal no retry fixes (credentials, a missing bucket): our fault, not the
        store's availability, so INTERNAL; still without the library's text."""
        log.warning(
            "object store %s of %s in bucket %s refused: %s: %s",
            operation,
            key or "-",
            self.bucket,
            type(error).__name__,
            error,
        )
        code = getattr(error, "code", None)
        status = _status_of(error)
        said = f" ({code})" if isinstance(code, str) and code.isalnum() else ""
        return StoriesError(f"the object store refused the request with HTTP {status}{said}")

    def _explain(self, error: BaseException, status: str | None) -> str:
        if status is not None:
            return f"the object store is unavailable ({status}, after {CALL_RETRIES} retries)"
        cause = error.reason if isinstance(error, MaxRetryError) else error
        if isinstance(cause, NameResolutionError):
            return "the object store's name did not resolve"
        if isinstance(cause, NewConnectionError):
            # A subclass of ConnectTimeoutError, so it is told apart first.
            if isinstance(cause.__cause__, ConnectionRefusedError):
                return "the object store refused the connection"
            if isinstance(cause.__cause__, TimeoutError):
                return self._connect_timeout()
            return "the object store could not be reached"
        if isinstance(cause, ConnectTimeoutError):
            return self._connect_timeout()
        if isinstance(cause, ReadTimeoutError | TimeoutError):
            return f"the object store did not answer (timeout after {self.read_timeout:g} s)"
        if isinstance(cause, ProtocolError | ConnectionError):
            return "the object store dropped the connection"
        return "the object store could not be reached"

    def _connect_timeout(self) -> str:
        return (
            "the object store could not be reached "
            f"(connect timeout after {self.connect_timeout:g} s)"
        )


def _status_of(error: BaseException) -> int:
    if isinstance(error, S3Error):
        return error.response.status if error.response is not None else 0
    if isinstance(error, ServerError):
        return error.status_code
    return int(getattr(error, "_code", 0) or 0)  # InvalidResponseError keeps it private


def http_client(
    connect_timeout: float, read_timeout: float, max_connections: int
) -> urllib3.PoolManager:
    """The store's HTTP client, replacing minio's default (300 s timeouts, 10 connections,
    5 retries).

    - Timeouts of seconds: `connect_timeout` to open a connection, `read_timeout` for
      each wait on the socket (an answer that never comes fails after it, not after 300 s).
    - `max_connections` kept per host: as many as the threads that call the store, so
      none are opened and thrown away ("connection pool is full").
    - Short retries of one call, within about a second: minio itself does not retry, and
      a worker waits out a longer outage one level up (a running job's step is tried again
      with backoff for `STORIES_OUTAGE_PATIENCE_SECONDS`; the API answers UNAVAILABLE and
      the client retries). Here a refused or dropped connection or a 5xx answer is retried
      `CALL_RETRIES` times with a short backoff; a read timeout is not (the store took the
      request and is stuck: asking again only piles on), so a stuck store costs one
      `read_timeout`, never several. Retry-After headers are not obeyed, so a busy store
      cannot stall a worker for its own chosen time.
    """
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        maxsize=max_connections,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=CallRetry(
            total=CALL_RETRIES,
            connect=CALL_RETRIES,
            read=CALL_RETRIES,
            status=CALL_RETRIES,
            other=0,
            backoff_factor=0.2,
            backoff_max=2.0,
            status_forcelist=RETRIED_STATUSES,
            respect_retry_after_header=False,
            # The last answer goes back to minio, which reads its S3 error code.
            raise_on_status=False,
        ),
    )


def open_bucket(
    endpoint: str,
    bucket: str,
    access_key: str,
    secret_key: str,
    region: str,
    url_expiry_seconds: int,
    connect_timeout_seconds: float = 5.0,
    read_timeout_seconds: float = 30.0,
    max_connections: int = 32,
) -> S3BlobStore:
    """The store of a running service: its bucket is made at start-up if it is missing."""
    store = S3BlobStore(
        endpoint,
        bucket,
        access_key,
        secret_key,
        region=region,
        url_expiry=timedelta(seconds=url_expiry_seconds),
        connect_timeout=connect_timeout_seconds,
        read_timeout=read_timeout_seconds,
        max_connections=max_connections,
    )
    store.ensure_bucket()
    return store
