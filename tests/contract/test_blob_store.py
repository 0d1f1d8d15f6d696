"""The BlobStore contract, for the fake, the local folder and S3 (moto)."""

import hashlib
import os

import pytest

from stories_adapters.storage.s3 import S3BlobStore
from stories_core.errors import NotFound

KEY = "tenants/acme/jobs/00000000-0000-0000-0000-000000000001/segments/0/image.png"


def read(store, key: str, offset: int = 0, chunk_size: int = 64 * 1024) -> bytes:
    return b"".join(store.open(key, offset, chunk_size))


def test_put_then_open_round_trips(blob_store) -> None:
    data = os.urandom(1000)
    blob_store.put(KEY, data, "image/png")
    assert read(blob_store, KEY) == data
    assert blob_store.size(KEY) == len(data)


def test_open_from_an_offset(blob_store) -> None:
    data = bytes(range(256)) * 4
    blob_store.put(KEY, data, "image/png")
    assert read(blob_store, KEY, offset=300) == data[300:]
    assert read(blob_store, KEY, offset=len(data) - 1) == data[-1:]
    assert read(blob_store, KEY, offset=len(data)) == b""


def test_a_large_object_streams_in_bounded_chunks(blob_store) -> None:
    data = os.urandom(3 * 1024 * 1024 + 123)
    chunk_size = 64 * 1024
    blob_store.put(KEY, data, "audio/mpeg")
    chunks = list(blob_store.open(KEY, 0, chunk_size))
    assert len(chunks) >= len(data) // chunk_size
    assert all(0 < len(chunk) <= chunk_size for chunk in chunks)
    assert hashlib.sha256(b"".join(chunks)).digest() == hashlib.sha256(data).digest()
    tail = list(blob_store.open(KEY, 1_000_000, 100_000))
    assert all(len(chunk) <= 100_000 for chunk in tail)
    assert b"".join(tail) == data[1_000_000:]


def test_put_again_replaces_the_object(blob_store) -> None:
    blob_store.put(KEY, b"first version, longer than the second", "image/png")
    blob_store.put(KEY, b"second", "image/png")
    assert read(blob_store, KEY) == b"second"
    assert blob_store.size(KEY) == len(b"second")


def test_an_empty_object(blob_store) -> None:
    blob_store.put(KEY, b"", "image/png")
    assert read(blob_store, KEY) == b""
    assert blob_store.size(KEY) == 0


def test_keys_are_separate(blob_store) -> None:
    other = KEY.replace("image.png", "audio.mp3")
    blob_store.put(KEY, b"image", "image/png")
    blob_store.put(other, b"audio", "audio/mpeg")
    assert (read(blob_store, KEY), read(blob_store, other)) == (b"image", b"audio")


def test_opening_a_missing_key_is_not_found(blob_store) -> None:
    blob_store.put(KEY, b"x", "image/png")
    missing = KEY.replace("segments/0", "segments/9")
    with pytest.raises(NotFound):
        read(blob_store, missing)
    with pytest.raises(NotFound):
        read(blob_store, missing, offset=10)


def test_the_size_of_a_missing_key_is_not_found(blob_store) -> None:
    with pytest.raises(NotFound):
        blob_store.size(KEY)


def test_a_url_is_one_a_remote_client_can_use_or_none(blob_store) -> None:
    blob_store.put(KEY, b"x", "image/png")
    url = blob_store.url(KEY)
    if not isinstance(blob_store, S3BlobStore):
        assert url is None, "a path on the server's disk is no address for a client"
    else:
        assert url is not None and url.startswith(("http://", "https://")) and KEY in url
