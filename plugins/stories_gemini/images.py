"""What an image model returned, read from the bytes themselves rather than taken on trust."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from stories_core.errors import ModelOutputInvalid

FORMATS = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
}


@dataclass(frozen=True)
class ImageInfo:
    content_type: str
    extension: str
    width: int
    height: int


def inspect_image(data: bytes) -> ImageInfo:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            kind, size = image.format, image.size
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ModelOutputInvalid(
            f"the image model returned bytes that are not an image: {exc}"
        ) from None
    if kind not in FORMATS:
        raise ModelOutputInvalid(f"the image model returned an unsupported {kind} image")
    content_type, extension = FORMATS[kind]
    return ImageInfo(content_type, extension, *size)
