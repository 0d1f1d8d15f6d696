"""Drawing helpers: the style's palette, text set in shipped fonts, and PNG bytes.

Text is set by a `Typesetter`: cleaned of what cannot be drawn (what no shipped font has
is told by `Block.missing`), split into runs of one face and one embedding level of
Unicode's bidirectional algorithm (UAX #9, resolved by GNU FriBidi, the library raqm
itself uses), each run shaped by raqm in its own direction, and the runs put in
visual order (rule L2). `fit` makes a text fit a box: it wraps (between words, and between
characters for scripts written without spaces), then shrinks the size, then keeps the
lines that fit and ends the last with "…". `arrange` and `render` put a fitted block in
its box, and what was drawn goes into the image's metadata.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import math
import unicodedata
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache

from PIL import Image, ImageColor, ImageDraw

from stories_core.errors import GenerationError
from stories_core.generation import ContentStyle
from stories_local import fonts
from stories_local.fonts import BOLD, NBSP, REGULAR, SHY, ZWSP, Face

RGB = tuple[int, int, int]

_DEFAULT_PALETTE = ("#1f2937", "#f9fafb", "#2563eb", "#f59e0b")
ELLIPSIS = "…"
MIN_SIZE = 6
"""No text is set smaller than this many pixels; a box too small for it stays empty."""


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


# --- typesetting -------------------------------------------------------------------------


@dataclass(frozen=True)
class Typesetter:
    """How text is set: the fallback chain of faces, the language and the weight."""

    faces: tuple[Face, ...]
    language: str = "en"
    weight: str = REGULAR
    direction: str | None = None
    """The paragraph direction, "ltr" or "rtl"; None: found from each text."""

    @classmethod
    def for_language(cls, language: str, sample: str = "") -> Typesetter:
        """A setter for text in `language`; `sample` (the text) helps pick the CJK face."""
        return cls(fonts.faces_for(language, sample), language)

    def bold(self) -> Typesetter:
        return replace(self, weight=BOLD)

    def prepare(self, text: str) -> str:
        return fonts.clean(text, self.faces)

    def missing(self, text: str) -> str:
        """The characters of `text` that `prepare` leaves out because no face has them."""
        return fonts.missing(text, self.faces)

    def directed(self, text: str) -> Typesetter:
        """This setter with its direction fixed to that of `text` (one paragraph)."""
        return replace(self, direction=fonts.paragraph_direction(text, self.language))


@dataclass(frozen=True)
class Run:
    """A piece of a line drawn with one face in one direction, `x` pixels from its start.

    `text` is in logical order: the shaper lays a right-to-left run out from right to left.
    """

    text: str
    face: Face
    direction: str
    x: float
    level: int = 0
    """The run's embedding level (odd: right to left)."""

    @property
    def visual(self) -> str:
        """The run's characters in the order they appear from left to right."""
        return self.text[::-1] if self.direction == "rtl" else self.text


@dataclass(frozen=True)
class Line:
    """One shaped line; horizontal values from its start, vertical ones from its baseline."""

    text: str
    runs: tuple[Run, ...]
    advance: float
    ink: tuple[float, float, float, float]
    ascent: float
    descent: float
    direction: str

    @property
    def left(self) -> float:
        return min(0.0, self.ink[0])

    @property
    def right(self) -> float:
        return max(self.advance, self.ink[2])

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def visual(self) -> str:
        """The line's characters from left to right, as drawn (rule L2 of the bidirectional
        algorithm; mirrored brackets are drawn mirrored, but listed as they are written)."""
        return "".join(run.visual for run in self.runs)


@lru_cache(maxsize=8192)
def _run_metrics(
    face: Face, size: int, weight: str, text: str, direction: str, language: str | None
) -> tuple[float, tuple[float, float, float, float]]:
    """A run's advance and its ink box (from the pen position, on the baseline)."""
    font = fonts.load(face, size, weight)
    options = {"direction": direction, "language": language} if fonts.RAQM else {}
    advance = font.getlength(text, **options)
    ink = font.getbbox(text, anchor="ls", **options)
    return advance, ink


_NEEDS_BIDI = frozenset(
    ["R", "AL", "AN", "LRE", "LRO", "RLE", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"]
)


class _FriBidi:
    """GNU FriBidi, the reference implementation of Unicode's bidirectional algorithm
    (UAX #9), through ctypes: the same library raqm uses inside Pillow to lay out a run,
    so our runs and its shaping agree. Debian's libfribidi0 (on every machine image);
    Pillow's wheel loads it too."""

    _PAR = {"ltr": 0x110, "rtl": 0x111}  # FRIBIDI_PAR_LTR, FRIBIDI_PAR_RTL

    def __init__(self) -> None:
        name = ctypes.util.find_library("fribidi") or "libfribidi.so.0"
        try:
            lib = ctypes.CDLL(name)
        except OSError as error:
            raise GenerationError(
                "right-to-left text needs GNU FriBidi (Debian/Ubuntu: apt-get install "
                f"libfribidi0), which could not be loaded: {error}"
            ) from error
        u32p, i8p = ctypes.POINTER(ctypes.c_uint32), ctypes.POINTER(ctypes.c_int8)
        lib.fribidi_get_bidi_types.argtypes = [u32p, ctypes.c_int, u32p]
        lib.fribidi_get_bracket_types.argtypes = [u32p, ctypes.c_int, u32p, u32p]
        lib.fribidi_get_par_embedding_levels_ex.argtypes = [u32p, u32p, ctypes.c_int, u32p, i8p]
        lib.fribidi_get_par_embedding_levels_ex.restype = ctypes.c_int8
        lib.fribidi_reorder_line.argtypes = [
            ctypes.c_uint32, u32p, ctypes.c_int, ctypes.c_int, ctypes.c_uint32, i8p,
            ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        lib.fribidi_reorder_line.restype = ctypes.c_int8
        self._lib = lib

    def levels(self, text: str, direction: str) -> list[int]:
        """Rules P2 to I2 for the paragraph, then L1 for the line (trailing whitespace
        and separators take the paragraph's level)."""
        size = len(text)
        chars = (ctypes.c_uint32 * size)(*map(ord, text))
        types = (ctypes.c_uint32 * size)()
        brackets = (ctypes.c_uint32 * size)()
        levels = (ctypes.c_int8 * size)()
        base = ctypes.c_uint32(self._PAR[direction])
        self._lib.fribidi_get_bidi_types(chars, size, types)
        self._lib.fribidi_get_bracket_types(chars, size, types, brackets)
        if not self._lib.fribidi_get_par_embedding_levels_ex(
            types, brackets, size, ctypes.byref(base), levels
        ):
            raise RuntimeError("FriBidi could not resolve the line's embedding levels")
        self._lib.fribidi_reorder_line(0, types, size, 0, base.value, levels, None, None)
        return list(levels)


@cache
def _fribidi() -> _FriBidi:
    return _FriBidi()


@lru_cache(maxsize=8192)
def embedding_levels(text: str, direction: str) -> tuple[int, ...]:
    """Each character's embedding level when `text` is one line of a paragraph whose base
    direction is `direction` ("ltr" or "rtl"): odd levels run right to left. Resolved by
    FriBidi (Unicode's bidirectional algorithm, brackets included, and rule L1)."""
    if not text:
        return ()
    if direction != "rtl" and not any(unicodedata.bidirectional(c) in _NEEDS_BIDI for c in text):
        return (0,) * len(text)  # nothing right-to-left: every level is the paragraph's
    return tuple(_fribidi().levels(text, direction))


def _pieces(text: str, faces: tuple[Face, ...], direction: str) -> list[tuple[str, Face, int]]:
    """Runs of one face and one level, with edge spaces as pieces of their own."""
    pieces: list[tuple[str, Face, int]] = []
    for run, face, level in fonts.itemize(text, faces, embedding_levels(text, direction)):
        core = run.strip(" ")
        if not core:
            pieces.append((run, face, level))
            continue
        lead = run[: len(run) - len(run.lstrip(" "))]
        trail = run[len(run.rstrip(" ")) :]
        pieces.extend((piece, face, level) for piece in (lead, core, trail) if piece)
    return pieces


def _visual_order(levels: list[int]) -> list[int]:
    """Indices of the pieces left to right (rule L2: from the highest level down to 1, reverse
    every sequence of pieces at that level or higher). Reversing whole runs is the same as
    reversing characters: a run's own characters are laid out by the shaper."""
    order = list(range(len(levels)))
    for level in range(max(levels, default=0), 0, -1):
        index = 0
        while index < len(order):
            if levels[order[index]] >= level:
                end = index
                while end < len(order) and levels[order[end]] >= level:
                    end += 1
                order[index:end] = reversed(order[index:end])
                index = end
            else:
                index += 1
    return order


@lru_cache(maxsize=8192)
def shape(setter: Typesetter, text: str, size: int) -> Line:
    """`text` (already prepared, one line) shaped at `size` pixels, runs in visual order."""
    language = fonts.raqm_language(setter.language)
    direction = setter.direction or fonts.paragraph_direction(text, setter.language)
    pieces = _pieces(text, setter.faces, direction)
    levels = [level for _, _, level in pieces]
    runs: list[Run] = []
    x, ascent, descent = 0.0, 0.0, 0.0
    ink = [math.inf, math.inf, -math.inf, -math.inf]
    for index in _visual_order(levels):
        piece, face, level = pieces[index]
        run_direction = "rtl" if level % 2 else "ltr"
        advance, (left, top, right, bottom) = _run_metrics(
            face, size, setter.weight, piece, run_direction, language
        )
        if right > left and bottom > top:
            ink = [
                min(ink[0], x + left),
                min(ink[1], top),
                max(ink[2], x + right),
                max(ink[3], bottom),
            ]
        font_ascent, font_descent = fonts.load(face, size, setter.weight).getmetrics()
        ascent, descent = max(ascent, font_ascent), max(descent, font_descent)
        runs.append(Run(piece, face, run_direction, x, level))
        x += advance
    if not runs:
        font_ascent, font_descent = fonts.load(setter.faces[0], size, setter.weight).getmetrics()
        ascent, descent = font_ascent, font_descent
    if ink[0] == math.inf:
        ink = [0.0, 0.0, 0.0, 0.0]
    return Line(text, tuple(runs), x, (ink[0], ink[1], ink[2], ink[3]), ascent, descent, direction)


# --- line breaking -----------------------------------------------------------------------

_NO_LINE_START = frozenset(
    "、。，．：；？！）」』】〕〉》〙〛｝〟ゝゞ々ー…‥・）］｝,.:;!?%)]}»›”’"  # noqa: RUF001
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ"
)
_NO_LINE_END = frozenset("（「『【〔〈《〘〚｛〝([{«‹“‘")  # noqa: RUF001
_THAI_LEADING = frozenset("เแโใไເແໂໃໄ")
_THAI_FOLLOWING = frozenset("ะาำๅະາຳ")


def _unspaced(char: str) -> bool:
    """Written without spaces between words: a line may break between its characters."""
    code = ord(char)
    return (
        0x2E80 <= code <= 0x9FFF  # CJK radicals, symbols, kana, ideographs
        or 0xF900 <= code <= 0xFAFF
        or 0xFE30 <= code <= 0xFE4F
        or 0xFF00 <= code <= 0xFFEF
        or 0x20000 <= code <= 0x3FFFF
        or 0x0E00 <= code <= 0x0EFF  # Thai, Lao
        or 0x1000 <= code <= 0x109F  # Myanmar
        or 0x1780 <= code <= 0x17FF  # Khmer
    )


def _grapheme_boundary(before: str, after: str) -> bool:
    """Whether a line may be cut between these two characters in an emergency."""
    return not (
        unicodedata.category(after)[0] == "M"
        or after in "\u200c\u200d"
        or before in "\u200c\u200d"
        or unicodedata.combining(before) == 9  # virama / coeng: the next letter joins
        or before in _THAI_LEADING
        or after in _THAI_FOLLOWING
    )


def _may_break(before: str, after: str) -> bool:
    """A line-break opportunity between two non-space characters."""
    if not _grapheme_boundary(before, after):
        return False
    if after in _NO_LINE_START or before in _NO_LINE_END:
        return False
    if before == NBSP or after == NBSP:
        return False
    return _unspaced(before) or _unspaced(after)


@dataclass(frozen=True)
class _Chunk:
    """A stretch a line may not break inside, and what joins it to the next chunk."""

    text: str
    joiner: str  # " ": a space; "": nothing; "-": a soft hyphen (a hyphen at a line's end)


def _chunks(text: str) -> list[_Chunk]:
    chunks: list[_Chunk] = []
    current = ""

    def close(joiner: str) -> None:
        nonlocal current
        if current:
            chunks.append(_Chunk(current, joiner))
            current = ""
        elif chunks and joiner == " ":
            chunks[-1] = _Chunk(chunks[-1].text, " ")

    for char in text:
        if char == " ":
            close(" ")
        elif char == ZWSP:
            close("")
        elif char == SHY:
            close("-")
        else:
            if current and _may_break(current[-1], char):
                close("")
            current += char
    close("")
    return chunks


def _compose(chunks: list[_Chunk], at_end: bool) -> str:
    """The text of a line made of `chunks`; a soft hyphen shows only when the line ends on it."""
    parts: list[str] = []
    for index, chunk in enumerate(chunks):
        parts.append(chunk.text)
        last = index == len(chunks) - 1
        if not last and chunk.joiner == " ":
            parts.append(" ")
        elif last and not at_end and chunk.joiner == "-":
            parts.append("-")
    return "".join(parts)


@dataclass(frozen=True)
class _Wrapped:
    text: str
    joiner: str  # what stood between this line and the next in the source: " " or ""


def _split_long(text: str, setter: Typesetter, size: int, width: float) -> tuple[str, str]:
    """The longest head of `text` (cut between graphemes) that fits `width`, and the rest.

    The head has at least one grapheme, even when that is wider than `width`.
    """
    cuts = [i for i in range(1, len(text)) if _grapheme_boundary(text[i - 1], text[i])]
    if not cuts:
        return text, ""
    low, high = 0, len(cuts) - 1
    best = cuts[0]
    while low <= high:
        middle = (low + high) // 2
        if shape(setter, text[: cuts[middle]], size).width <= width:
            best = cuts[middle]
            low = middle + 1
        else:
            high = middle - 1
    return text[:best], text[best:]


def wrap(text: str, setter: Typesetter, size: int, width: float) -> list[_Wrapped]:
    """Greedy line breaking of prepared `text` to `width` pixels at `size`."""
    lines: list[_Wrapped] = []
    current: list[_Chunk] = []

    def fits(chunks: list[_Chunk]) -> bool:
        return shape(setter, _compose(chunks, at_end=False), size).width <= width

    def emit(chunks: list[_Chunk]) -> None:
        last = chunks[-1]
        lines.append(_Wrapped(_compose(chunks, at_end=False), " " if last.joiner == " " else ""))

    for chunk in _chunks(text):
        if current and not fits([*current, chunk]):
            emit(current)
            current = []
        current.append(chunk)
        while len(current) == 1 and not fits(current):
            head, rest = _split_long(current[0].text, setter, size, width)
            if not rest:
                break
            emit([_Chunk(head, "")])
            current = [_Chunk(rest, current[0].joiner)]
    if current:
        lines.append(_Wrapped(_compose(current, at_end=True), ""))
    return lines


# --- fitting and placing -----------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """Lines set at one size, ready to place; vertical values from the first baseline."""

    setter: Typesetter
    size: int
    lines: tuple[Line, ...]
    joiners: tuple[str, ...]
    step: float
    top: float
    bottom: float
    direction: str
    missing: str = ""
    """Characters of the text that no shipped face has, left out (each once, in order)."""

    @property
    def text(self) -> str:
        """The text as drawn: its lines joined by what separated them in the source."""
        return "".join(
            line.text + joiner for line, joiner in zip(self.lines, self.joiners, strict=True)
        )

    @property
    def width(self) -> float:
        return max(line.width for line in self.lines)

    @property
    def height(self) -> float:
        return self.bottom - self.top

    def faces(self) -> list[Face]:
        """The faces the block draws with, in order of first use."""
        seen: dict[Face, None] = {}
        for line in self.lines:
            for run in line.runs:
                seen.setdefault(run.face, None)
        return list(seen)


def _block(setter: Typesetter, size: int, wrapped: list[_Wrapped]) -> Block:
    lines = tuple(shape(setter, item.text, size) for item in wrapped)
    joiners = (*(item.joiner for item in wrapped[:-1]), "")
    step = max(line.ascent + line.descent for line in lines)
    top = min(
        -max(line.ascent for line in lines),
        *(i * step + line.ink[1] for i, line in enumerate(lines)),
    )
    last = (len(lines) - 1) * step
    bottom = max(
        last + max(line.descent for line in lines),
        *(i * step + line.ink[3] for i, line in enumerate(lines)),
    )
    direction = setter.direction or lines[0].direction
    return Block(setter, size, lines, joiners, step, top, bottom, direction)


def _ellipsized(text: str, setter: Typesetter, size: int, width: float) -> str:
    """`text` cut between graphemes, and trailing spaces dropped, so that it plus "…" fits."""
    if text.endswith("-"):
        text = text[:-1]
    while text:
        candidate = text.rstrip(" ") + ELLIPSIS
        if shape(setter, candidate, size).width <= width:
            return candidate
        cut = len(text) - 1
        while cut > 0 and not _grapheme_boundary(text[cut - 1], text[cut]):
            cut -= 1
        text = text[:cut]
    return ELLIPSIS


def _truncated(
    setter: Typesetter,
    size: int,
    wrapped: list[_Wrapped],
    width: float,
    height: float,
    max_lines: int,
) -> Block | None:
    """The most lines of `wrapped` that fit, the last ended with "…" if any were left out."""
    for keep in range(min(max_lines, len(wrapped)), 0, -1):
        lines = list(wrapped[:keep])
        if keep < len(wrapped):
            lines[-1] = _Wrapped(_ellipsized(lines[-1].text, setter, size, width), "")
        block = _block(setter, size, lines)
        if block.width <= width and block.height <= height:
            return block
    return None


def fit(
    setter: Typesetter,
    text: str,
    width: float,
    height: float,
    max_lines: int,
    largest: int,
    smallest: int,
) -> Block | None:
    """The text set to fit a `width` x `height` box in at most `max_lines` lines.

    Wraps at the largest size, shrinking towards `smallest` until it fits; at the smallest
    size, keeps the lines that fit and ends the last with "…". Only when not even one line
    fits at `smallest` does it go smaller, down to `MIN_SIZE`. None: nothing to draw, or no
    room to draw it (`Typesetter.missing` still tells what could not be drawn). The block's
    `missing` lists the characters of `text` left out because no shipped face has them.
    """
    prepared = setter.prepare(text)
    if not prepared.replace(ZWSP, "").replace(SHY, "").strip():
        return None
    setter = setter.directed(prepared)
    smallest = max(MIN_SIZE, min(smallest, largest))
    size = max(smallest, largest)
    while True:
        wrapped = wrap(prepared, setter, size, width)
        if len(wrapped) <= max_lines:
            block = _block(setter, size, wrapped)
            if block.width <= width and block.height <= height:
                return replace(block, missing=setter.missing(text))
        if size <= smallest:
            break
        size = max(smallest, min(size - 1, math.floor(size * 0.88)))
    while size >= MIN_SIZE:
        block = _truncated(
            setter, size, wrap(prepared, setter, size, width), width, height, max_lines
        )
        if block:
            return replace(block, missing=setter.missing(text))
        size -= 1
    return None


@dataclass
class Placed:
    """Where a block goes in its box (from `arrange`): what is drawn, for the image's metadata."""

    text: str
    box: tuple[int, int, int, int]
    faces: list[Face] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    size: int = 0
    origins: list[tuple[float, float]] = field(default_factory=list)
    """Each line's start on its baseline."""
    missing: str = ""
    """Characters of the text that no shipped face has, left out (see `Block.missing`)."""
    visual: list[str] = field(default_factory=list)
    """Each line's characters from left to right, as drawn (see `Line.visual`)."""


def arrange(
    block: Block,
    box: tuple[float, float, float, float],
    align: str = "start",
    valign: str = "top",
) -> Placed:
    """Where `block` goes inside `box` (left, top, right, bottom), without drawing it.

    align: left, center, right, or start/end (left/right for left-to-right text, the other
    way round for right-to-left); valign: top, middle or bottom.
    """
    left, top, right, bottom = box
    if align in ("start", "end"):
        align = "left" if (align == "start") == (block.direction == "ltr") else "right"
    if valign == "middle":
        y0 = (top + bottom - block.height) / 2
    elif valign == "bottom":
        y0 = bottom - block.height
    else:
        y0 = top
    baseline = y0 - block.top
    origins = []
    for index, line in enumerate(block.lines):
        if align == "center":
            x = (left + right) / 2 - (line.left + line.right) / 2
        elif align == "right":
            x = right - line.right
        else:
            x = left - line.left
        origins.append((x, baseline + index * block.step))
    extent_left = min(x + line.left for (x, _), line in zip(origins, block.lines, strict=True))
    extent_right = max(x + line.right for (x, _), line in zip(origins, block.lines, strict=True))
    pixel_box = (
        math.floor(extent_left),
        math.floor(y0),
        math.ceil(extent_right),
        math.ceil(y0 + block.height),
    )
    texts = [line.text for line in block.lines]
    visual = [line.visual for line in block.lines]
    return Placed(
        block.text, pixel_box, block.faces(), texts, block.size, origins, block.missing, visual
    )


def render(draw: ImageDraw.ImageDraw, block: Block, placed: Placed, fill: RGB) -> None:
    """Draw `block` where `arrange` put it: each run in its face, direction and language."""
    language = fonts.raqm_language(block.setter.language)
    for (x, y), line in zip(placed.origins, block.lines, strict=True):
        for run in line.runs:
            if not run.text.strip():
                continue
            options = {"direction": run.direction, "language": language} if fonts.RAQM else {}
            draw.text(
                (x + run.x, y),
                run.text,
                font=fonts.load(run.face, block.size, block.setter.weight),
                fill=fill,
                anchor="ls",
                **options,
            )


def png_bytes(image: Image.Image) -> bytes:
    """PNG without metadata chunks, so equal pictures are equal bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()
