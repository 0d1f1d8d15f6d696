"""Drawing helpers: the style's palette, scalable fonts, wrapped text and PNG bytes.

Fonts come from Pillow itself (`load_default(size=...)` ships a scalable face), so the
backend draws the same pictures on a machine without system fonts.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageColor, ImageDraw, ImageFont

from stories_core.generation import ContentStyle

RGB = tuple[int, int, int]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

_DEFAULT_PALETTE = ("#1f2937", "#f9fafb", "#2563eb", "#f59e0b")


def _rgb(value: str, fallback: str) -> RGB:
    try:
        red, green, blue = ImageColor.getrgb(value)[:3]
    except (ValueError, AttributeError):
        red, green, blue = ImageColor.getrgb(fallback)[:3]
    return red, green, blue


def mix(a: RGB, b: RGB, amount: float) -> RGB:
    """`a` moved `amount` of the way towards `b`."""
    red, green, blue = (round(x + (y - x) * amount) for x, y in zip(a, b, strict=True))
    return red, green, blue


def luminance(colour: RGB) -> float:
    red, green, blue = colour
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


@dataclass(frozen=True)
class Palette:
    """The style's colours: background, foreground (text) and two accents."""

    background: RGB
    foreground: RGB
    accent: RGB
    highlight: RGB

    @classmethod
    def of(cls, style: ContentStyle) -> Palette:
        """Read the style's hex colours; a missing or unreadable one takes the default."""
        given = tuple(style.palette) + _DEFAULT_PALETTE[len(style.palette) :]
        colours = [
            _rgb(value, default) for value, default in zip(given, _DEFAULT_PALETTE, strict=False)
        ]
        return cls(*colours)

    def text_on(self, colour: RGB) -> RGB:
        """Whichever of background and foreground reads better on `colour`."""
        return max(
            (self.foreground, self.background),
            key=lambda text: abs(luminance(text) - luminance(colour)),
        )


@lru_cache(maxsize=64)
def font(size: int) -> Font:
    return ImageFont.load_default(size=max(8, size))


def _break_word(word: str, face: Font, width: float):
    """Split a word too long for a line into pieces that fit."""
    piece = ""
    for char in word:
        if piece and face.getlength(piece + char) > width:
            yield piece
            piece = ""
        piece += char
    yield piece


def wrap(text: str, face: Font, width: float) -> list[str]:
    """Greedy word wrap to `width` pixels."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        for piece in _break_word(word, face, width):
            candidate = f"{current} {piece}".strip()
            if current and face.getlength(candidate) > width:
                lines.append(current)
                current = piece
            else:
                current = candidate
    if current:
        lines.append(current)
    return lines


def fit(
    text: str, width: float, max_lines: int, largest: int, smallest: int
) -> tuple[Font, list[str]]:
    """The largest font size whose wrap of `text` fits in `max_lines` lines of `width`.

    At the smallest size the last line that fits is ended with an ellipsis.
    """
    size = largest
    while True:
        face = font(size)
        lines = wrap(text, face, width)
        if len(lines) <= max_lines or size <= smallest:
            break
        size = max(smallest, int(size * 0.88))
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and face.getlength(last + "…") > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return face, lines


def line_height(face: Font) -> int:
    top, bottom = face.getbbox("Ag")[1::2]
    return round((bottom - top) * 1.3)


def text_block(
    draw: ImageDraw.ImageDraw,
    lines: list[str],
    face: Font,
    anchor_xy: tuple[float, float],
    fill: RGB,
    align: str = "left",
) -> int:
    """Draw lines from the top-left (or top-centre, for align="center"); returns the height."""
    x, y = anchor_xy
    step = line_height(face)
    for index, line in enumerate(lines):
        anchor = "ma" if align == "center" else "la"
        draw.text((x, y + index * step), line, font=face, fill=fill, anchor=anchor)
    return step * len(lines)


def png_bytes(image: Image.Image) -> bytes:
    """PNG without metadata chunks, so equal pictures are equal bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()
