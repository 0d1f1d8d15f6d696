"""The S3 blob store against a real S3 API server (moto), beyond the BlobStore contract."""

import hashlib
import hmac
import os
import subprocess
import sys
import urllib.request
import uuid
from datetime import timedelta
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from minio import Minio

from stories_adapters.storage.s3 import S3BlobStore
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
