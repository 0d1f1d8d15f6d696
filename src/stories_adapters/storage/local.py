"""The BlobStore port on a local folder, for the embedded service."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from stories_core.errors import NotFound


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self._root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root):
            raise ValueError(f"blob key escapes the store: {key!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write to a temporary file beside the target, then rename over it (atomic)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def open(self, key: str, offset: int = 0, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"blob {key} not found")
        with path.open("rb") as handle:
            handle.seek(offset)
            while chunk := handle.read(chunk_size):
                yield chunk

    def size(self, key: str) -> int:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"blob {key} not found")
        return path.stat().st_size

    def url(self, key: str) -> None:
        """None: a path on the server's disk is no address for a remote client."""
        return None
