"""The S3 blob store against a real S3 API server (moto), beyond the BlobStore contract."""

import hashlib
import hmac
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from minio import Minio
from urllib3.exceptions import MaxRetryError, ProtocolError, ReadTimeoutError

from stories_adapters.storage.s3 import S3BlobStore
from stories_core.errors import NotFound, StorageUnavailable, StoriesError
from tests.services import S3Server

KEY = "tenants/acme/jobs/00000000-0000-0000-0000-000000000001/segments/0/image.png"


def raw_client(server: S3Server) -> Minio:
    """A client of our own, to look at what the store wrote without going through it."""
    return Minio(
        urlsplit(server.endpoint).netloc,
        access_key=server.access_key,
        secret_key=server.secret_key,
        secure=False,
        region=server.region,
    )


def sigv4_query_signature(url: str, secret_key: str, region: str) -> str:
    """Recompute the SigV4 signature of a presigned GET, as S3 does when it checks one."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    signed = sorted((k, v) for k, v in query if k != "X-Amz-Signature")
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in signed
    )
    canonical_request = "\n".join(
        ["GET", parts.path, canonical_query, f"host:{parts.netloc}", "", "host", "UNSIGNED-PAYLOAD"]
    )
    fields = dict(query)
    amz_date = fields["X-Amz-Date"]
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = f"AWS4{secret_key}".encode()
    for part in (amz_date[:8], region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def test_the_presigned_url_downloads_the_exact_bytes(s3_store: S3BlobStore) -> None:
    data = os.urandom(200_000)
    s3_store.put(KEY, data, "image/png")
    with urllib.request.urlopen(s3_store.url(KEY), timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/png"
        assert response.read() == data


def test_the_presigned_url_expires_after_the_configured_time(
    s3_server: S3Server, s3_store: S3BlobStore
) -> None:
    """moto neither checks presigned signatures nor enforces their expiry, so this test
    checks what S3 and MinIO check: X-Amz-Expires is the configured value, and it is
    covered by a valid SigV4 signature (a client cannot stretch it)."""
    s3_store.put(KEY, b"x", "image/png")
    default = dict(parse_qsl(urlsplit(s3_store.url(KEY)).query))
    assert default["X-Amz-Expires"] == "900"

    short = s3_server.store(s3_store.bucket, url_expiry=timedelta(seconds=1))
    url = short.url(KEY)
    fields = dict(parse_qsl(urlsplit(url).query))
    assert fields["X-Amz-Expires"] == "1"
    assert fields["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert fields["X-Amz-SignedHeaders"] == "host"
    expected = sigv4_query_signature(url, s3_server.secret_key, s3_server.region)
    assert fields["X-Amz-Signature"] == expected
    stretched = url.replace("X-Amz-Expires=1&", "X-Amz-Expires=604800&")
    assert sigv4_query_signature(stretched, s3_server.secret_key, s3_server.region) != expected


def test_an_https_endpoint_gives_https_urls() -> None:
    store = S3BlobStore("https://s3.example.test", "bucket", "a", "b")
    assert store.url(KEY).startswith(f"https://s3.example.test/bucket/{KEY}?")


@pytest.mark.parametrize(
    "endpoint", ["127.0.0.1:9000", "ftp://127.0.0.1:9000", "http://127.0.0.1:9000/prefix"]
)
def test_a_malformed_endpoint_is_refused(endpoint: str) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        S3BlobStore(endpoint, "bucket", "a", "b")


def test_put_records_the_content_type_and_the_sha256(
    s3_server: S3Server, s3_store: S3BlobStore
) -> None:
    data = os.urandom(5000)
    s3_store.put(KEY, data, "audio/mpeg")
    stat = raw_client(s3_server).stat_object(s3_store.bucket, KEY)
    assert stat.content_type == "audio/mpeg"
    assert stat.metadata["x-amz-meta-sha256"] == hashlib.sha256(data).hexdigest()
    assert s3_store.checksum(KEY) == hashlib.sha256(data).hexdigest()


STREAM_AND_MEASURE = """
import hashlib, sys, tracemalloc
from stories_adapters.storage.s3 import S3BlobStore
endpoint, bucket, access, secret, key = sys.argv[1:]
store = S3BlobStore(endpoint, bucket, access, secret)
digest, received = hashlib.sha256(), 0
tracemalloc.start()
for chunk in store.open(key, 0, 64 * 1024):
    digest.update(chunk)
    received += len(chunk)
print(received, digest.hexdigest(), tracemalloc.get_traced_memory()[1])
"""


def test_a_5_mb_object_streams_in_bounded_memory(
    s3_server: S3Server, s3_store: S3BlobStore
) -> None:
    """Measured in a child process: tracemalloc counts every thread, and the moto server
    serving the object runs in this one."""
    size = 5 * 1024 * 1024
    data = os.urandom(size)
    s3_store.put(KEY, data, "audio/mpeg")
    server = s3_server
    arguments = [server.endpoint, s3_store.bucket, server.access_key, server.secret_key, KEY]
    result = subprocess.run(
        [sys.executable, "-c", STREAM_AND_MEASURE, *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    received, digest, peak = result.stdout.split()
    assert (int(received), digest) == (size, hashlib.sha256(data).hexdigest())
    assert int(peak) < size // 10, f"streaming peaked at {peak} bytes for a {size}-byte object"


def test_ensure_bucket_creates_it_once(s3_server: S3Server) -> None:
    bucket = f"stories-test-{uuid.uuid4().hex[:16]}"
    store = s3_server.store(bucket)
    client = raw_client(s3_server)
    assert not client.bucket_exists(bucket)
    store.ensure_bucket()
    store.ensure_bucket()
    assert client.bucket_exists(bucket)
    client.remove_bucket(bucket)


# --- faults: timeouts of seconds, errors in our words ------------------------------------


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on: a connection to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield port


@contextmanager
def silent_server() -> Iterator[int]:
    """A TCP server that accepts every connection and never answers a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


@contextmanager
def failing_server(status: int) -> Iterator[tuple[int, list[str]]]:
    """An HTTP server answering every request with `status` (and a body naming internals,
    as a proxy's error page might); the list records each request's method."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(self.command)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            body = b"upstream minio-7.internal:9000 failed"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_HEAD = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def store_at(port: int, **options: object) -> S3BlobStore:
    return S3BlobStore(f"http://127.0.0.1:{port}", "bucket", "a", "b", **options)  # type: ignore[arg-type]


CALLS: dict[str, Callable[[S3BlobStore], object]] = {
    "put": lambda store: store.put(KEY, b"data", "image/png"),
    "open": lambda store: next(store.open(KEY)),
    "size": lambda store: store.size(KEY),
    "checksum": lambda store: store.checksum(KEY),
    "ensure_bucket": lambda store: store.ensure_bucket(),
}


def assert_in_our_words(error: StorageUnavailable, port: int) -> None:
    text = str(error)
    assert error.code == "STORAGE_UNAVAILABLE" and error.retryable is True
    assert text == error.message and text.startswith("the object store ")
    for leak in (
        "127.0.0.1",
        str(port),
        KEY,
        "tenants/",
        "bucket",
        "urllib3",
        "Errno",
        "HTTPConnection",
    ):
        assert leak not in text, f"{leak!r} leaked into {text!r}"
    assert error.__cause__ is None and error.__suppress_context__


def failed_call(
    port: int, call: str, caplog: pytest.LogCaptureFixture
) -> tuple[StorageUnavailable, float, list[logging.LogRecord]]:
    """`CALLS[call]` on a store at `port` (1 s to connect, 0.5 s to read), which must fail:
    the error, how long it took, and the store's log records."""
    store = store_at(port, connect_timeout=1.0, read_timeout=0.5)
    started = time.monotonic()
    with (
        caplog.at_level(logging.DEBUG, logger="stories_adapters.storage.s3"),
        pytest.raises(StorageUnavailable) as raised,
    ):
        CALLS[call](store)
    records = [r for r in caplog.records if r.name == "stories_adapters.storage.s3"]
    return raised.value, time.monotonic() - started, records


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_refused_connection_fails_fast_as_storage_unavailable(call: str, caplog) -> None:
    with closed_port() as port:
        error, elapsed, records = failed_call(port, call, caplog)
    assert elapsed < 1.0 + 1.0, f"{call} took {elapsed:.1f}s against a closed port"
    assert_in_our_words(error, port)
    assert error.message == "the object store refused the connection"
    [record] = records
    assert record.levelno == logging.DEBUG and str(port) in record.getMessage()


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_store_that_never_answers_fails_after_the_read_timeout(call: str, caplog) -> None:
    with silent_server() as port:
        error, elapsed, records = failed_call(port, call, caplog)
    assert 0.4 < elapsed < 0.5 + 1.0, f"{call} took {elapsed:.1f}s against a silent store"
    assert_in_our_words(error, port)
    assert error.message == "the object store did not answer (timeout after 0.5 s)"
    assert len(records) == 1


def test_a_store_answering_5xx_is_retried_twice_then_unavailable(caplog) -> None:
    with failing_server(503) as (port, seen):
        store = store_at(port, connect_timeout=1.0, read_timeout=2.0)
        with (
            caplog.at_level(logging.DEBUG, logger="stories_adapters.storage.s3"),
            pytest.raises(StorageUnavailable) as raised,
        ):
            store.put(KEY, b"data", "image/png")
    assert seen == ["PUT"] * 3, "one retry layer: the pool's, two retries"
    assert_in_our_words(raised.value, port)
    assert "minio-7.internal" not in raised.value.message
    assert raised.value.message == "the object store is unavailable (HTTP 503, after 2 retries)"
    assert KEY in caplog.text


def test_a_refusal_no_retry_fixes_is_ours_without_the_library_text() -> None:
    with failing_server(403) as (port, seen):
        store = store_at(port)
        with pytest.raises(StoriesError) as raised:
            store.put(KEY, b"data", "image/png")
    assert not isinstance(raised.value, StorageUnavailable)
    assert raised.value.code == "INTERNAL" and not getattr(raised.value, "retryable", False)
    assert seen == ["PUT"]
    assert str(port) not in raised.value.message and KEY not in raised.value.message
    assert "minio-7.internal" not in raised.value.message


def test_a_missing_key_is_not_found_without_the_key(s3_store: S3BlobStore) -> None:
    with pytest.raises(NotFound) as raised:
        s3_store.size(KEY)
    assert KEY not in raised.value.message


def test_the_client_has_our_timeouts_pool_size_and_one_retry_layer() -> None:
    store = S3BlobStore(
        "http://127.0.0.1:9", "b", "a", "b", connect_timeout=2, read_timeout=7, max_connections=44
    )
    pool = store._client._http  # the PoolManager minio was given
    timeout = pool.connection_pool_kw["timeout"]
    assert (timeout.connect_timeout, timeout.read_timeout) == (2, 7)
    assert pool.connection_pool_kw["maxsize"] == 44
    retries = pool.connection_pool_kw["retries"]
    assert (retries.total, retries.read) == (2, 2)
    assert not retries.respect_retry_after_header
    dropped = ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
    assert retries.increment("PUT", "/b/k", error=dropped).read == 1, "a drop is tried again"
    with pytest.raises(MaxRetryError):  # a stuck store is not asked again
        retries.increment("GET", "/b/k", error=ReadTimeoutError(None, "/b/k", "timed out"))


@contextmanager
def stalling_server() -> Iterator[int]:
    """An HTTP server that starts an object's body, then never sends the rest."""
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.wfile.flush()
            release.wait(10)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_download_that_stalls_midway_fails_after_the_read_timeout() -> None:
    with stalling_server() as port:
        store = store_at(port, connect_timeout=1.0, read_timeout=0.5)
        started = time.monotonic()
        with pytest.raises(StorageUnavailable) as raised:
            list(store.open(KEY))
        elapsed = time.monotonic() - started
    assert elapsed < 0.5 + 1.0
    assert_in_our_words(raised.value, port)
    assert raised.value.message == "the object store did not answer (timeout after 0.5 s)"
