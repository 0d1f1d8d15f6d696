"""Pictures for a segment, drawn with Pillow in the way the style's `visual` asks.

- diagram: the title in a central node, key terms around it, joined by arrows, on a grid;
- chart: a bar chart of the figures in the text, from zero, every bar labelled;
  a restrained card when the text has no figures, rather than an invented chart;
- scene: a letterboxed landscape (sky, horizon, silhouettes) laid out by a hash of the text;
- card: a clean title card with the key terms.

Every text is set in shipped fonts that cover its script (see `fonts` and `canvas`) and
fitted to its box: wrapped, then shrunk, then ended with "…", never cut at the edge. Each
one drawn is listed in the metadata's "text_elements" (role, text, box, fonts).

Everything is derived from the text and the style, so the same segment gives the same PNG.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image, ImageDraw

from stories_core.generation import ContentStyle, Media, SegmentBrief
from stories_core.text import plain, primary_language
from stories_local import fonts
from stories_local.analysis import key_phrase, key_terms, sentences, tokens, wordset
from stories_local.canvas import (
    RGB,
    Block,
    Palette,
    Placed,
    Typesetter,
    arrange,
    fit,
    mix,
    png_bytes,
    render,
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

Box = tuple[float, float, float, float]

# The English titles a segment gets when it has none; a picture of a text in another
# language shows its own words or the neutral "2 / 4" instead.
_ENGLISH_FALLBACK_TITLE = re.compile(r"Part \d+|Untitled")


def _english(language: str) -> bool:
    """Whether the text is English: only then do pictures carry English words of their own
    (the "Part 2 of 4" label, the chart's note); other languages get neutral forms."""
    return primary_language(language or "") == "en"


def _part_numbers(brief: SegmentBrief) -> str:
    return f"{brief.index + 1} / {brief.count}"


def _title(brief: SegmentBrief) -> str:
    """The segment's title; in a language other than English, never an English fallback
    ("Part 2", "Untitled"): a key phrase of the text's first sentence, else "2 / 4"."""
    title = segment_title(brief)
    if _english(brief.language) or not _ENGLISH_FALLBACK_TITLE.fullmatch(title):
        return title
    opening = sentences(plain(brief.text), language=brief.language or "en")[:1]
    phrase = (
        key_phrase(opening[0], context=plain(brief.text), language=brief.language)
        if opening
        else ""
    )
    if phrase and not _ENGLISH_FALLBACK_TITLE.fullmatch(phrase):
        return phrase
    return _part_numbers(brief)


@dataclass(frozen=True)
class _Frame:
    """What every renderer needs: the canvas, colours, scale, fonts and the words to show.

    Every text goes through `text` or `put`, which fit it to its box and record it in
    `elements` (the image metadata's "text_elements").
    """

    image: Image.Image
    draw: ImageDraw.ImageDraw
    palette: Palette
    scale: float
    title: str
    terms: list[str]
    brief: SegmentBrief
    setter: Typesetter
    elements: list[dict[str, object]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    """Characters of any text set (drawn or not) that no shipped font has."""

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height

    @property
    def rtl(self) -> bool:
        """Whether the segment reads right to left (its title, else its text)."""
        sample = self.title if fonts.strong_direction(self.title) else self.brief.text
        return fonts.paragraph_direction(sample, self.brief.language) == "rtl"

    def px(self, value: float) -> int:
        return max(1, round(value * self.scale))

    def size(self, value: float, floor: int) -> int:
        """A font size: `value` scaled to the picture, but never below `floor` pixels."""
        return max(floor, round(value * self.scale))

    def part_label(self) -> str:
        """ "Part 2 of 4" in English, "2 / 4" in any other language."""
        if _english(self.brief.language):
            label = f"Part {self.brief.index + 1} of {self.brief.count}"
        else:
            label = _part_numbers(self.brief)
        return f"{self.brief.story_title} · {label}" if self.brief.story_title else label

    def clamp(self, box: Box) -> Box:
        left, top, right, bottom = box
        return max(0.0, left), max(0.0, top), min(self.width, right), min(self.height, bottom)

    def fit(
        self,
        text: str,
        box: Box,
        largest: int,
        smallest: int,
        max_lines: int = 1,
        bold: bool = False,
    ) -> Block | None:
        """`text` set to fit `box` (clamped to the canvas), or None if it cannot be shown."""
        left, top, right, bottom = self.clamp(box)
        if right - left < 1 or bottom - top < 1:
            return None
        setter = self.setter.bold() if bold else self.setter
        block = fit(setter, text, right - left, bottom - top, max_lines, largest, smallest)
        self.left_out.append(block.missing if block else setter.missing(text))
        return block

    def put(
        self,
        role: str,
        block: Block,
        box: Box,
        fill: RGB,
        align: str = "start",
        valign: str = "top",
        unless_crowded: bool = False,
    ) -> Placed | None:
        """Draw a fitted block in `box` and record it.

        unless_crowded: leave it out instead if it would overlap a text already drawn.
        """
        placed = arrange(block, self.clamp(box), align, valign)
        if unless_crowded and any(
            _overlaps(placed.box, element["box"], 0) for element in self.elements
        ):
            return None
        render(self.draw, block, placed, fill)
        self.elements.append(
            {
                "role": role,
                "text": placed.text,
                "box": list(placed.box),
                "fonts": list(dict.fromkeys(face.name for face in placed.faces)),
                "faces": [{"file": face.name, "index": face.index} for face in placed.faces],
                "lines": placed.lines,
                "size": placed.size,
                "weight": block.setter.weight,
                "missing": block.missing,
            }
        )
        return placed

    def text(
        self,
        role: str,
        text: str,
        box: Box,
        fill: RGB,
        largest: int,
        smallest: int,
        max_lines: int = 1,
        align: str = "start",
        valign: str = "top",
        bold: bool = False,
    ) -> Placed | None:
        """Fit `text` to `box`, draw and record it; None if there was nothing to draw."""
        block = self.fit(text, box, largest, smallest, max_lines, bold)
        return self.put(role, block, box, fill, align, valign) if block else None


def _card(frame: _Frame, muted: bool = False) -> None:
    """Title, key terms as chips, an accent stripe. Muted: softer colours, fewer terms."""
    colours = frame.palette
    accent = mix(colours.accent, colours.background, 0.45 if muted else 0.0)
    highlight = mix(colours.highlight, colours.background, 0.45 if muted else 0.0)
    text = mix(colours.foreground, colours.background, 0.15 if muted else 0.0)
    draw, margin, w, h = frame.draw, frame.px(72), frame.width, frame.height
    draw.rectangle((0, 0, frame.px(18), h), fill=accent)
    rule = h - frame.px(36)
    floor = rule - frame.px(8)
    y = float(frame.px(44))
    kicker = frame.text(
        "part_label",
        frame.part_label().upper(),
        (margin, y, w - margin, floor),
        highlight,
        frame.size(22, 8),
        frame.size(14, 7),
    )
    if kicker:
        y = kicker.box[3] + frame.px(20)
    y = max(y, frame.px(120)) if h >= 320 else y
    title = frame.text(
        "title",
        frame.title,
        (margin, y, w - margin, floor),
        text,
        frame.size(68, 12),
        frame.size(30, 9),
        max_lines=3,
        bold=True,
    )
    if title:
        y = title.box[3] + frame.px(36)
    _chips(frame, frame.terms[: 3 if muted else 5], y, floor, margin, highlight, text)
    draw.line((margin, rule, w - margin, rule), fill=accent, width=frame.px(3))


def _chips(
    frame: _Frame, terms: list[str], y: float, floor: float, margin: int, outline: RGB, fill: RGB
) -> None:
    """Key terms as rounded chips, flowing from the reading side, while there is room."""
    pad = frame.px(14)
    size = frame.size(24, 8)
    room = frame.width - 2 * margin - 2 * pad
    fitted = (
        frame.fit(term, (0, 0, room, floor - y), size, max(7, size * 3 // 4)) for term in terms
    )
    blocks = [block for block in fitted if block]
    chip_h = max((block.height for block in blocks), default=0.0) + pad
    x = float(margin)
    for block in blocks:
        chip_w = block.width + 2 * pad
        if x > margin and x + chip_w > frame.width - margin:
            x, y = float(margin), y + chip_h + pad
        if y + chip_h > floor:
            break
        left = frame.width - x - chip_w if frame.rtl else x
        box = (left, y, left + chip_w, y + chip_h)
        frame.draw.rounded_rectangle(box, radius=frame.px(18), outline=outline, width=frame.px(2))
        inner = (left + pad, y + pad / 2, left + chip_w - pad, y + chip_h - pad / 2)
        frame.put("term", block, inner, fill, "center", "middle")
        x += chip_w + pad


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


def _overlaps(a: Box, b: Box, gap: float) -> bool:
    return not (
        a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]
    )


def _diagram(frame: _Frame) -> None:
    """A concept map: title node in the centre, key terms around it, arrows outwards."""
    colours, draw, w, h = frame.palette, frame.draw, frame.width, frame.height
    grid = mix(colours.background, colours.foreground, 0.07)
    step = frame.px(32)
    for x in range(0, w, step):
        draw.line((x, 0, x, h), fill=grid)
    for y in range(0, h, step):
        draw.line((0, y, w, y), fill=grid)
    edge = frame.px(20)
    caption_fill = mix(colours.foreground, colours.background, 0.4)
    caption = frame.fit(
        frame.part_label(), (edge, 0, w - edge, h * 0.2), frame.size(18, 7), frame.size(12, 6)
    )
    caption_box = (edge, h - edge - (caption.height if caption else 0), w - edge, h - edge)
    cx, cy = w / 2, h / 2
    pad_x, pad_y = frame.px(28), frame.px(20)
    face = None
    # A compact node first; a long title that would lose words gets a wider, taller one.
    for share, least, lines in ((0.28, 160, 3), (0.42, 240, 5)):
        text_w = max(w * share, min(w * (share + 0.32), least)) - 2 * pad_x
        face = frame.fit(
            frame.title,
            (0, 0, text_w, h * 0.6 - 2 * pad_y),
            frame.size(40, 10),
            frame.size(20, 8),
            max_lines=lines,
            bold=True,
        )
        if face is None or not face.text.endswith("…"):
            break
    node_w = (face.width if face else 0) + 2 * pad_x
    node_h = (face.height if face else 0) + 2 * pad_y
    node = (cx - node_w / 2, cy - node_h / 2, cx + node_w / 2, cy + node_h / 2)
    title_words = {token.key for token in tokens(frame.title, frame.brief.language)}
    terms = [term for term in frame.terms if term.lower() not in title_words][:6]
    pad = frame.px(16)
    term_w = max(w * 0.2, min(w * 0.4, 100))
    boxes: list[tuple[Box, Block]] = []
    taken = [node, caption_box] if caption else [node]
    for index, term in enumerate(terms):
        block = frame.fit(
            term, (0, 0, term_w, h * 0.3), frame.size(26, 8), frame.size(18, 7), max_lines=2
        )
        if block is None:
            continue
        angle = -math.pi / 2 + 2 * math.pi * index / max(1, len(terms))
        bw, bh = block.width + 2 * pad, block.height + 2 * pad
        x = min(max(cx + math.cos(angle) * w * 0.34, bw / 2 + pad), w - bw / 2 - pad)
        y = min(max(cy + math.sin(angle) * h * 0.34, bh / 2 + pad), h - bh / 2 - pad)
        box = (x - bw / 2, y - bh / 2, x + bw / 2, y + bh / 2)
        inside = box[0] >= 0 and box[1] >= 0 and box[2] <= w and box[3] <= h
        if inside and not any(_overlaps(box, other, frame.px(6)) for other in taken):
            boxes.append((box, block))
            taken.append(box)
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
    for box, block in boxes:
        draw.rounded_rectangle(
            box, radius=frame.px(12), fill=box_fill, outline=colours.highlight, width=frame.px(2)
        )
        inner = (box[0] + pad, box[1] + pad, box[2] - pad, box[3] - pad)
        frame.put("term", block, inner, colours.foreground, "center", "middle")
    draw.rounded_rectangle(node, radius=frame.px(18), fill=colours.accent)
    if face:
        inner = (node[0] + pad_x, node[1] + pad_y, node[2] - pad_x, node[3] - pad_y)
        frame.put("title", face, inner, colours.text_on(colours.accent), "center", "middle")
    if caption:
        frame.put("part_label", caption, caption_box, caption_fill, "start", "bottom", True)


def _nice_step(span: float) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about five ticks."""
    raw = span / 5
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _chart(frame: _Frame, figures: list[Figure]) -> None:
    """Bars from a zero baseline, each with its stated value above and its label below."""
    colours, draw, w, h = frame.palette, frame.draw, frame.width, frame.height
    muted = mix(colours.foreground, colours.background, 0.45)
    side = frame.px(40)
    right = w - side
    title = frame.text(
        "title",
        frame.title,
        (side, frame.px(28), right, h * 0.3),
        colours.foreground,
        frame.size(38, 10),
        frame.size(22, 8),
        max_lines=2,
        bold=True,
    )
    top = (title.box[3] if title else frame.px(28)) + frame.px(36)
    # The note is English; in other languages the zero tick and the baseline say it.
    note = (
        frame.fit(
            "Figures as stated in the text. Bars start at zero.",
            (frame.px(20), 0, right, h * 0.15),
            frame.size(16, 7),
            frame.size(12, 6),
        )
        if _english(frame.brief.language)
        else None
    )
    note_bottom = h - frame.px(14)
    note_top = note_bottom - (note.height if note else 0)

    values = [figure.value for figure in figures]
    low, high = min(0.0, *values), max(0.0, *values)
    step = _nice_step((high - low) or 1.0)
    axis_low, axis_high = math.floor(low / step) * step, math.ceil(high / step) * step
    if axis_high == axis_low:
        axis_high = axis_low + step
    ticks = [axis_low + n * step for n in range(round((axis_high - axis_low) / step) + 1)]
    tick_size, gap, edge = frame.size(18, 7), frame.px(12), frame.px(8)
    tick_room = w * 0.3 - gap - edge
    tick_blocks = [
        frame.fit(
            format_value(tick, figures[0].unit, frame.brief.language),
            (0, 0, tick_room, h),
            tick_size,
            6,
        )
        for tick in ticks
    ]
    widest = max((block.width for block in tick_blocks if block), default=0.0)
    left = min(max(frame.px(120), edge + widest + gap), w * 0.3)

    slot = (right - left) / len(figures)
    label_size = frame.size(19, 7)
    labels = [
        frame.fit(
            figure.label or f"#{index + 1}",
            (0, 0, slot - frame.px(8), h * 0.2),
            label_size,
            max(6, label_size * 3 // 4),
            max_lines=2,
        )
        for index, figure in enumerate(figures)
    ]
    label_h = max((block.height for block in labels if block), default=0.0)
    bottom = note_top - frame.px(6) - label_h - frame.px(14)
    value_size = frame.size(22, 7)
    value_h = value_size * 1.4
    top = min(top + value_h, bottom - 1)
    # A negative bar's value is set below its end: room for it above the category labels.
    floor = bottom - (value_h + frame.px(6) if low < 0 else 0)
    floor = max(floor, min(top + 1, bottom))

    def y_of(value: float) -> float:
        return floor - (value - axis_low) / (axis_high - axis_low) * (floor - top)

    for tick, block in zip(ticks, tick_blocks, strict=True):
        y = y_of(tick)
        draw.line((left, y, right, y), fill=mix(colours.background, colours.foreground, 0.12))
        if block:
            half = block.height / 2
            box = (edge, y - half, left - gap, y + half)
            frame.put("tick", block, _shifted_inside(box, h), muted, "right", "middle", True)
    draw.line((left, top, left, floor), fill=muted, width=frame.px(2))
    bar_w = min(slot * 0.6, frame.px(150))
    zero = y_of(0.0)
    for index, figure in enumerate(figures):
        x = left + slot * index + (slot - bar_w) / 2
        centre = x + bar_w / 2
        y = y_of(figure.value)
        fill = colours.accent if figure.value >= 0 else colours.highlight
        draw.rectangle((x, min(y, zero), x + bar_w, max(y, zero)), fill=fill)
        span = (centre - slot / 2 + frame.px(2), centre + slot / 2 - frame.px(2))
        value = frame.fit(figure.text, (span[0], 0, span[1], value_h), value_size, 6)
        if value:
            above = figure.value >= 0
            edge_y = y - frame.px(6) if above else y + frame.px(6)
            box = (
                (span[0], edge_y - value.height, span[1], edge_y)
                if above
                else (span[0], edge_y, span[1], edge_y + value.height)
            )
            frame.put(
                "value", value, _shifted_inside(box, h), colours.foreground, "center", "top", True
            )
        label = labels[index]
        if label:
            box = (
                centre - slot / 2 + frame.px(4),
                bottom + frame.px(14),
                centre + slot / 2 - frame.px(4),
                bottom + frame.px(14) + label.height,
            )
            frame.put("label", label, _shifted_inside(box, h), muted, "center", "top", True)
    draw.line((left, zero, right, zero), fill=colours.foreground, width=frame.px(2))
    if note:
        box = (frame.px(20), note_top, right, note_bottom)
        frame.put("note", note, _shifted_inside(box, h), muted, "end", "bottom", True)


def _shifted_inside(box: Box, height: int) -> Box:
    """`box` moved up or down, if need be, to lie within the canvas's height."""
    left, top, right, bottom = box
    shift = max(0.0, -top) - max(0.0, bottom - height)
    return left, top + shift, right, bottom + shift


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
    words = {
        token.key for token in tokens(f"{frame.title} {frame.brief.text}", frame.brief.language)
    }
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
    size = round(max(12, min(band * 0.42, frame.px(30)))) if roomy else frame.size(26, 10)
    if roomy:
        box = (w * 0.1, band + inner, w * 0.9, h)
        lines, valign = max(1, min(3, round(band / (size * 1.6)))), "middle"
    else:
        box = (w * 0.1, h - frame.px(64), w * 0.9, h - frame.px(8))
        lines, valign = 1, "bottom"
    caption = mix(frame.palette.foreground, _WHITE, 0.3)
    frame.text("caption", frame.title, box, caption, size, 9, lines, "center", valign)


_RENDERERS: dict[str, Callable[[_Frame], None]] = {
    "diagram": _diagram,
    "scene": _scene,
    "card": _card,
}


def draw(prompt: str, brief: SegmentBrief, style: ContentStyle, width: int, height: int) -> Media:
    """A PNG for the segment; metadata names the renderer and lists every text drawn."""
    palette = Palette.of(style)
    image = Image.new("RGB", (width, height), palette.background)
    title = _title(brief)
    frame = _Frame(
        image=image,
        draw=ImageDraw.Draw(image),
        palette=palette,
        scale=min(width / 1024, height / 576),
        title=title,
        terms=key_terms(brief.text, limit=6, language=brief.language),
        brief=brief,
        setter=Typesetter.for_language(brief.language, f"{title}\n{brief.text}"),
    )
    renderer = style.visual if style.visual in _RENDERERS or style.visual == "chart" else "card"
    if renderer == "chart":
        figures = chart_figures(brief.text, language=brief.language)
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
        metadata={
            "width": width,
            "height": height,
            "renderer": renderer,
            "prompt": prompt,
            "text_elements": frame.elements,
            "missing_scripts": fonts.script_names("".join(frame.left_out)),
        },
    )
