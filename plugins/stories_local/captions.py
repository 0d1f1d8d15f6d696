"""Captions drawn into a video's frames, set like the pictures' text: in the fonts of the
text's script, with font fallback, right-to-left and CJK line layout (`canvas`)."""

from __future__ import annotations

from PIL import Image, ImageDraw

from stories_local import canvas
from stories_local.canvas import Typesetter


def caption_band(lines: list[str], width: int, font_px: int, language: str) -> Image.Image:
    """An RGBA band `width` pixels wide: `lines` (a cue's, each already short enough)
    centred in white on a translucent dark box, transparent around it, all at one size
    (`font_px`, or smaller down to half of it when a line needs; then a line still too
    long ends with "…")."""
    line_height = round(font_px * 1.45)
    pad = round(font_px * 0.5)
    band = Image.new("RGBA", (width, line_height * len(lines) + 2 * pad), (0, 0, 0, 0))
    draw = ImageDraw.Draw(band)
    setter = Typesetter.for_language(language, " ".join(lines))
    fitted = [
        canvas.fit(setter, line, width * 0.9, line_height, 1, font_px, font_px // 2)
        for line in lines
    ]
    # Every line at the size the longest needs: one cue, one size.
    size = min((block.size for block in fitted if block), default=font_px)
    blocks = [canvas.fit(setter, line, width * 0.9, line_height, 1, size, size) for line in lines]
    widest = max((block.width for block in blocks if block), default=0)
    left = (width - widest) / 2 - pad
    draw.rounded_rectangle(
        (left, 0, width - left, band.height - 1), radius=pad, fill=(0, 0, 0, 150)
    )
    for row, block in enumerate(blocks):
        if block is None:
            continue
        box = (0, pad + row * line_height, width, pad + (row + 1) * line_height)
        canvas.render(
            draw,
            block,
            canvas.arrange(block, box, align="center", valign="middle"),
            (255, 255, 255),
        )
    return band
