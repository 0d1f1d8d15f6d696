"""The BlobStore port on MinIO or any S3-compatible server, for the service at scale."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

from minio import Minio
from minio.datatypes import Object
from minio.error import S3Error

from stories_core.errors import NotFound

_MISSING = {"NoSuchKey", "NoSuchObject"}
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
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"S3 endpoint must be an http(s) URL, got {endpoint!r}")
        if parts.path not in ("", "/") or parts.query:
            raise ValueError(f"S3 endpoint must not carry a path or query: {endpoint!r}")
        self.bucket = bucket
        self.url_expiry = url_expiry
        # Giving the region up front spares the client a bucket-location lookup per URL.
        self._client = Minio(
            parts.netloc,
            access_key=access_key,
            secret_key=secret_key,
            secure=parts.scheme == "https",
            region=region,
        )
        self._region = region

    def ensure_bucket(self) -> None:
        """Create the bucket if it is absent (at start-up); an existing one is left alone."""
        if self._client.bucket_exists(self.bucket):
            return
        try:
            self._client.make_bucket(self.bucket, location=self._region)
        except S3Error as error:
            # Another replica starting at the same moment may have won the race.
            if error.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """One PUT (or a multipart upload completed at once): S3 makes it visible whole."""
        digest = hashlib.sha256(data).hexdigest()
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
            response = self._client.get_object(self.bucket, key, offset=offset)
        except S3Error as error:
            if error.code in _MISSING:
                raise NotFound(f"blob {key} not found") from error
            if error.code == "InvalidRange":
                # An offset at or past the end: nothing left to read, as with a file.
                return
            raise
        try:
            # Raw bytes: the object is what was put, whatever Content-Encoding it claims.
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
        return self._client.presigned_get_object(self.bucket, key, expires=self.url_expiry)

    def _stat(self, key: str) -> Object:
        try:
            return self._client.stat_object(self.bucket, key)
        except S3Error as error:
            if error.code in _MISSING:
                raise NotFound(f"blob {key} not found") from error
            raise


def open_bucket(
    endpoint: str,
    bucket: str,
    access_key: str,
    secret_key: str,
    region: str,
    url_expiry_seconds: int,
) -> S3BlobStore:
    """The store of a running service: its bucket is made at start-up if it is missing."""
    store = S3BlobStore(
        endpoint,
        bucket,
        access_key,
        secret_key,
        region=region,
        url_expiry=timedelta(seconds=url_expiry_seconds),
    )
    store.ensure_bucket()
    return store
