"""What an image server returned, fetched if it is a URL and read from the bytes themselves
rather than taken on trust: PNG, JPEG and WebP are kept, any other image becomes a PNG."""

from __future__ import annotations

import base64
import binascii
import io
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from PIL import Image, UnidentifiedImageError

from stories_core.errors import ModelOutputInvalid
from stories_core.plugins.retry import TransientFailure
from stories_openai.retry import TRANSIENT_STATUS

KEPT = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
}
MAX_IMAGE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Picture:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def from_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ModelOutputInvalid("the image server's b64_json is not base64") from None


def fetch(url: str, timeout: float) -> bytes:
    """The bytes behind an image URL the server answered with (http(s) or a data: URL). A
    server's signed link carries its own authority: the API key is not sent with it."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "data":
        header, _, payload = url.partition(",")
        if not header.endswith(";base64"):
            raise ModelOutputInvalid("the image server's data: URL is not base64")
        return from_base64(payload)
    if scheme not in ("http", "https"):
        raise ModelOutputInvalid(f"the image server answered with a {scheme or 'bare'} URL")
    where = f"{scheme}://{urlsplit(url).netloc.rpartition('@')[2]}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # scheme checked above
            data = response.read(MAX_IMAGE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        if exc.code in TRANSIENT_STATUS or exc.code >= 500:
            raise TransientFailure(f"HTTP {exc.code} fetching the image from {where}") from None
        raise ModelOutputInvalid(
            f"the image URL the server gave answered HTTP {exc.code} ({where})"
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise TransientFailure(
            f"could not fetch the image from {where} ({type(exc).__name__})"
        ) from None
    if len(data) > MAX_IMAGE_BYTES:
        raise ModelOutputInvalid(f"the image at {where} is larger than {MAX_IMAGE_BYTES} bytes")
    return data


def picture(data: bytes) -> Picture:
    """The image with its size; formats other than PNG, JPEG and WebP are re-encoded as PNG."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            kind, size = image.format, image.size
            if kind not in KEPT:
                out = io.BytesIO()
                image.save(out, "PNG")
                data, kind = out.getvalue(), "PNG"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ModelOutputInvalid(
            f"the image server returned bytes that are not an image ({type(exc).__name__})"
        ) from None
    content_type, extension = KEPT[kind]
    return Picture(data, content_type, extension, *size)
