"""Pictures for a segment, drawn with Pillow in the way the style's `visual` asks.

- diagram: the title in a central node, key terms around it, joined by arrows, on a grid;
- chart: a bar chart of the figures in the text, from zero, every bar labelled;
  a restrained card when the text has no figures, rather than an invented chart;
- scene: a letterboxed landscape (sky, horizon, silhouettes) laid out by a hash of the text;
- card: a clean title card with the key terms.

Everything is derived from the text and the style, so the same segment gives the same PNG.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageDraw

from stories_core.generation import ContentStyle, Media, SegmentBrief
from stories_local.analysis import key_terms, tokens, wordset
from stories_local.canvas import (
    RGB,
    Palette,
    fit,
    font,
    line_height,
    mix,
    png_bytes,
    text_block,
    wrap,
)
from stories_local.figures import Figure, chart_figures, format_value
from stories_local.narrator import segment_title

_BLACK: RGB = (0, 0, 0)
_WHITE: RGB = (255, 255, 255)
_CINEMA_RATIO = 2.39

_NIGHT = wordset("night moon moonlight star stars dark darkness midnight")
_DUSK = wordset("evening sunset dusk twilight dawn sunrise")
_WATER = wordset("sea ocean lake river shore beach harbour harbor waves coast bay")
_TOWN = wordset("city town street streets building buildings tower village castle")
_FOREST = wordset("forest tree trees wood woods garden jungle orchard")


@dataclass(frozen=True)
class _Frame:
    """What every renderer needs: the canvas, colours, scale and the words to show."""

    image: Image.Image
    draw: ImageDraw.ImageDraw
    palette: Palette
    scale: float
    title: str
    terms: list[str]
    brief: SegmentBrief

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height

    def px(self, value: float) -> int:
        return max(1, round(value * self.scale))

    def part_label(self) -> str:
        label = f"Part {self.brief.index + 1} of {self.brief.count}"
        return f"{self.brief.story_title} · {label}" if self.brief.story_title else label


def _card(frame: _Frame, muted: bool = False) -> None:
    """Title, key terms as chips, an accent stripe. Muted: softer colours, fewer terms."""
    colours = frame.palette
    accent = mix(colours.accent, colours.background, 0.45 if muted else 0.0)
    highlight = mix(colours.highlight, colours.background, 0.45 if muted else 0.0)
    text = mix(colours.foreground, colours.background, 0.15 if muted else 0.0)
    draw, margin = frame.draw, frame.px(72)
    draw.rectangle((0, 0, frame.px(18), frame.height), fill=accent)
    kicker = font(frame.px(22))
    draw.text((margin, frame.px(56)), frame.part_label().upper(), font=kicker, fill=highlight)
    face, lines = fit(frame.title, frame.width - 2 * margin, 3, frame.px(68), frame.px(30))
    y = frame.px(120)
    y += text_block(draw, lines, face, (margin, y), text) + frame.px(36)
    chip_face, pad = font(frame.px(24)), frame.px(14)
    x = margin
    for term in frame.terms[: 3 if muted else 5]:
        width = chip_face.getlength(term) + 2 * pad
        if x + width > frame.width - margin:
            x, y = margin, y + line_height(chip_face) + 3 * pad
        if y + line_height(chip_face) + 2 * pad > frame.height - frame.px(40):
            break
        box = (x, y, x + width, y + line_height(chip_face) + pad)
        draw.rounded_rectangle(box, radius=frame.px(18), outline=highlight, width=frame.px(2))
        draw.text((x + pad, y + pad // 2), term, font=chip_face, fill=text)
        x += width + pad
    draw.line(
        (margin, frame.height - frame.px(36), frame.width - margin, frame.height - frame.px(36)),
        fill=accent,
        width=frame.px(3),
    )


def _edge_point(
    box: tuple[float, float, float, float], toward: tuple[float, float]
) -> tuple[float, float]:
    """Where the segment from the box's centre to `toward` leaves the box."""
    left, top, right, bottom = box
    cx, cy = (left + right) / 2, (top + bottom) / 2
    dx, dy = toward[0] - cx, toward[1] - cy
    limits = [
        (right - cx) / abs(dx) if dx else math.inf,
        (bottom - cy) / abs(dy) if dy else math.inf,
    ]
    t = min(limits)
    return cx + dx * t, cy + dy * t


def _diagram(frame: _Frame) -> None:
    """A concept map: title node in the centre, key terms around it, arrows outwards."""
    colours, draw = frame.palette, frame.draw
    grid = mix(colours.background, colours.foreground, 0.07)
    step = frame.px(32)
    for x in range(0, frame.width, step):
        draw.line((x, 0, x, frame.height), fill=grid)
    for y in range(0, frame.height, step):
        draw.line((0, y, frame.width, y), fill=grid)
    cx, cy = frame.width / 2, frame.height / 2
    face, lines = fit(frame.title, frame.width * 0.28, 3, frame.px(40), frame.px(20))
    node_w = max(face.getlength(line) for line in lines) + frame.px(56)
    node_h = line_height(face) * len(lines) + frame.px(40)
    node = (cx - node_w / 2, cy - node_h / 2, cx + node_w / 2, cy + node_h / 2)
    title_words = {token.key for token in tokens(frame.title)}
    terms = [term for term in frame.terms if term.lower() not in title_words][:6]
    term_face, pad = font(frame.px(26)), frame.px(16)
    boxes = []
    for index, term in enumerate(terms):
        angle = -math.pi / 2 + 2 * math.pi * index / max(1, len(terms))
        term_lines = wrap(term, term_face, frame.width * 0.2)[:2]
        w = max(term_face.getlength(line) for line in term_lines) + 2 * pad
        h = line_height(term_face) * len(term_lines) + 2 * pad
        x = min(
            max(cx + math.cos(angle) * frame.width * 0.34, w / 2 + pad), frame.width - w / 2 - pad
        )
        y = min(
            max(cy + math.sin(angle) * frame.height * 0.34, h / 2 + pad), frame.height - h / 2 - pad
        )
        boxes.append(((x - w / 2, y - h / 2, x + w / 2, y + h / 2), term_lines))
    arrow = frame.px(14)
    for box, _ in boxes:
        centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        start = _edge_point(node, centre)
        tip = _edge_point(box, (cx, cy))
        draw.line((start, tip), fill=colours.highlight, width=frame.px(3))
        angle = math.atan2(tip[1] - start[1], tip[0] - start[0])
        wings = [
            (tip[0] - arrow * math.cos(angle + side), tip[1] - arrow * math.sin(angle + side))
            for side in (0.45, -0.45)
        ]
        draw.polygon([tip, *wings], fill=colours.highlight)
    box_fill = mix(colours.background, colours.highlight, 0.14)
    for box, term_lines in boxes:
        draw.rounded_rectangle(
            box, radius=frame.px(12), fill=box_fill, outline=colours.highlight, width=frame.px(2)
        )
        centre_x = (box[0] + box[2]) / 2
        text_block(
            draw, term_lines, term_face, (centre_x, box[1] + pad), colours.foreground, "center"
        )
    draw.rounded_rectangle(node, radius=frame.px(18), fill=colours.accent)
    text_block(
        draw, lines, face, (cx, node[1] + frame.px(20)), colours.text_on(colours.accent), "center"
    )
    caption = font(frame.px(18))
    draw.text(
        (frame.px(20), frame.height - frame.px(20)),
        frame.part_label(),
        font=caption,
        fill=mix(colours.foreground, colours.background, 0.4),
        anchor="ld",
    )


def _nice_step(span: float) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about five ticks."""
    raw = span / 5
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _chart(frame: _Frame, figures: list[Figure]) -> None:
    """Bars from a zero baseline, each with its stated value above and its label below."""
    colours, draw = frame.palette, frame.draw
    face, lines = fit(frame.title, frame.width - frame.px(80), 2, frame.px(38), frame.px(22))
    top = (
        frame.px(28)
        + text_block(draw, lines, face, (frame.px(40), frame.px(28)), colours.foreground)
        + frame.px(36)
    )
    left, right, bottom = frame.px(120), frame.width - frame.px(40), frame.height - frame.px(96)
    values = [figure.value for figure in figures]
    low, high = min(0.0, *values), max(0.0, *values)
    step = _nice_step((high - low) or 1.0)
    axis_low, axis_high = math.floor(low / step) * step, math.ceil(high / step) * step
    if axis_high == axis_low:
        axis_high = axis_low + step

    def y_of(value: float) -> float:
        return bottom - (value - axis_low) / (axis_high - axis_low) * (bottom - top)

    tick_face = font(frame.px(18))
    muted = mix(colours.foreground, colours.background, 0.45)
    for number in range(round((axis_high - axis_low) / step) + 1):
        tick = axis_low + number * step
        y = y_of(tick)
        draw.line((left, y, right, y), fill=mix(colours.background, colours.foreground, 0.12))
        draw.text(
            (left - frame.px(12), y),
            format_value(tick, figures[0].unit),
            font=tick_face,
            fill=muted,
            anchor="rm",
        )
    draw.line((left, top, left, bottom), fill=muted, width=frame.px(2))
    slot = (right - left) / len(figures)
    bar_w = min(slot * 0.6, frame.px(150))
    value_face, label_face = font(frame.px(22)), font(frame.px(19))
    zero = y_of(0.0)
    for index, figure in enumerate(figures):
        x = left + slot * index + (slot - bar_w) / 2
        y = y_of(figure.value)
        fill = colours.accent if figure.value >= 0 else colours.highlight
        draw.rectangle((x, min(y, zero), x + bar_w, max(y, zero)), fill=fill)
        above = figure.value >= 0
        draw.text(
            (x + bar_w / 2, y - frame.px(8) if above else y + frame.px(8)),
            figure.text,
            font=value_face,
            fill=colours.foreground,
            anchor="md" if above else "ma",
        )
        label = wrap(figure.label or f"#{index + 1}", label_face, slot - frame.px(8))[:2]
        text_block(draw, label, label_face, (x + bar_w / 2, bottom + frame.px(14)), muted, "center")
    draw.line((left, zero, right, zero), fill=colours.foreground, width=frame.px(2))
    note = "Figures as stated in the text. Bars start at zero."
    draw.text(
        (right, frame.height - frame.px(14)), note, font=font(frame.px(16)), fill=muted, anchor="rd"
    )


def _ridge(
    rng: random.Random, width: int, base: float, amplitude: float
) -> list[tuple[float, float]]:
    """A horizon line as a sum of three sines with seeded phases and frequencies."""
    waves = [(rng.uniform(1, 4) * (k + 1), rng.uniform(0, math.tau), 1 / (k + 1)) for k in range(3)]
    points = []
    for x in range(0, width + 16, 16):
        t = x / width
        height = sum(
            weight * math.sin(freq * math.tau * t + phase) for freq, phase, weight in waves
        )
        points.append((float(x), base - amplitude * (0.5 + height / 3.6)))
    return points


def _sky(frame: _Frame, rng: random.Random, top: float, height: int, words: set[str]) -> RGB:
    """Gradient sky, stars at night, a sun or moon; returns the horizon colour."""
    colours, draw, w = frame.palette, frame.draw, frame.width
    night = bool(words & _NIGHT)
    if night:
        zenith, horizon = (
            mix(colours.background, _BLACK, 0.55),
            mix(colours.accent, colours.background, 0.6),
        )
    elif words & _DUSK:
        zenith, horizon = mix(colours.accent, _BLACK, 0.2), mix(colours.highlight, _WHITE, 0.15)
    else:
        zenith, horizon = mix(colours.accent, _WHITE, 0.2), mix(colours.highlight, _WHITE, 0.55)
    mask = Image.linear_gradient("L").resize((w, height))
    sky = Image.composite(
        Image.new("RGB", (w, height), horizon), Image.new("RGB", (w, height), zenith), mask
    )
    frame.image.paste(sky, (0, round(top)))
    if night:
        for _ in range(70):
            x, y = rng.uniform(0, w), rng.uniform(top, top + height * 0.55)
            r = rng.choice((1, 1, 2)) * frame.scale
            draw.ellipse((x - r, y - r, x + r, y + r), fill=mix(colours.foreground, _WHITE, 0.5))
    x, y = rng.uniform(0.15, 0.85) * w, top + rng.uniform(0.15, 0.35) * height
    r = height * (0.06 if night else 0.09)
    orb = mix(colours.foreground, _WHITE, 0.6) if night else mix(colours.highlight, _WHITE, 0.45)
    draw.ellipse((x - r, y - r, x + r, y + r), fill=orb)
    return horizon


def _land(
    frame: _Frame, rng: random.Random, top: float, height: int, shore: float, horizon: RGB
) -> RGB:
    """Hills fading into the distance, and water up to `shore`; returns the ground colour."""
    draw, w, bottom = frame.draw, frame.width, top + height
    ground = mix(frame.palette.background, _BLACK, 0.35)
    for level, amplitude, darkness in ((0.62, 0.30, 0.35), (0.72, 0.22, 0.65), (0.84, 0.14, 1.0)):
        ridge = _ridge(rng, w, top + height * level, height * amplitude)
        draw.polygon([(0, bottom), *ridge, (w, bottom)], fill=mix(horizon, ground, darkness))
    if shore < bottom:
        draw.rectangle((0, shore, w, bottom), fill=mix(frame.palette.accent, ground, 0.55))
        for _ in range(24):
            x, y = rng.uniform(0, w), rng.uniform(shore + 4, bottom)
            length = rng.uniform(20, 90) * frame.scale
            draw.line((x, y, x + length, y), fill=mix(horizon, _WHITE, 0.1))
    return ground


def _town(frame: _Frame, rng: random.Random, base: float, height: int, colour: RGB) -> None:
    """A skyline of blocks with a few lit windows."""
    scale, x = frame.scale, rng.uniform(0, 30) * frame.scale
    while x < frame.width:
        bw, bh = rng.uniform(40, 110) * scale, rng.uniform(0.12, 0.42) * height
        frame.draw.rectangle((x, base - bh, x + bw, base), fill=colour)
        for _ in range(int(bh // (24 * scale))):
            wx, wy = x + rng.uniform(0.15, 0.75) * bw, base - rng.uniform(0.1, 0.9) * bh
            if rng.random() < 0.5:
                window = (wx, wy, wx + 6 * scale, wy + 8 * scale)
                frame.draw.rectangle(window, fill=frame.palette.highlight)
        x += bw + rng.uniform(4, 24) * scale


def _forest(frame: _Frame, rng: random.Random, base: float, height: int, colour: RGB) -> None:
    """Conifers: three stacked triangles each."""
    for _ in range(rng.randint(9, 16)):
        x, tree = rng.uniform(0, frame.width), rng.uniform(0.18, 0.4) * height
        for tier in range(3):
            foot, half = base - tree * 0.3 * tier, tree * (0.28 - 0.06 * tier)
            peak = base - tree * (0.45 + 0.25 * tier)
            frame.draw.polygon([(x - half, foot), (x + half, foot), (x, peak)], fill=colour)


def _scene(frame: _Frame) -> None:
    """A letterboxed 2.39:1 landscape whose mood and features follow the text's words."""
    draw, w, h = frame.draw, frame.width, frame.height
    words = {token.key for token in tokens(f"{frame.title} {frame.brief.text}")}
    digest = hashlib.sha256(f"{frame.title}\n{frame.brief.text}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    inner = min(h, round(w / _CINEMA_RATIO))
    band = (h - inner) // 2
    horizon = _sky(frame, rng, band, inner, words)
    shore = band + inner * (0.8 if words & _WATER else 1.0)
    ground = _land(frame, rng, band, inner, shore, horizon)
    silhouette = mix(ground, _BLACK, 0.5)
    if words & _TOWN:
        _town(frame, rng, shore, inner, silhouette)
    elif words & _FOREST:
        _forest(frame, rng, shore, inner, silhouette)
    draw.rectangle((0, 0, w, band), fill=_BLACK)
    draw.rectangle((0, band + inner, w, h), fill=_BLACK)
    roomy = band >= 24
    size = round(max(12, min(band * 0.42, frame.px(30)))) if roomy else frame.px(26)
    face, lines = fit(frame.title, w * 0.8, 1, size, 12)
    caption_y = band + inner + (band - line_height(face)) / 2 if roomy else h - frame.px(56)
    caption = mix(frame.palette.foreground, _WHITE, 0.3)
    text_block(draw, lines, face, (w / 2, caption_y), caption, "center")


_RENDERERS: dict[str, Callable[[_Frame], None]] = {
    "diagram": _diagram,
    "scene": _scene,
    "card": _card,
}


def draw(prompt: str, brief: SegmentBrief, style: ContentStyle, width: int, height: int) -> Media:
    """A PNG for the segment; metadata names the renderer that drew it."""
    palette = Palette.of(style)
    image = Image.new("RGB", (width, height), palette.background)
    frame = _Frame(
        image=image,
        draw=ImageDraw.Draw(image),
        palette=palette,
        scale=min(width / 1024, height / 576),
        title=segment_title(brief),
        terms=key_terms(brief.text, limit=6),
        brief=brief,
    )
    renderer = style.visual if style.visual in _RENDERERS or style.visual == "chart" else "card"
    if renderer == "chart":
        figures = chart_figures(brief.text)
        if figures:
            _chart(frame, figures)
        else:
            renderer = "card"
            _card(frame, muted=True)
    else:
        _RENDERERS[renderer](frame)
    return Media(
        data=png_bytes(image),
        content_type="image/png",
        extension="png",
        metadata={"width": width, "height": height, "renderer": renderer, "prompt": prompt},
    )
