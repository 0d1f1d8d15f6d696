"""Fonts for every script the pictures show: shipped faces, their coverage, fallback runs.

The faces come from font packages installed with the project (never from the system, never
downloaded), so every machine draws the same pictures:

- Noto Sans: Latin, Greek, Cyrillic, and the usual symbols (first choice for those);
- Noto Sans Arabic, Devanagari, Thai, Tamil, Telugu and Khmer for their scripts (a letter
  of one of these scripts tries its own face first, even where Noto Sans also has it);
- Heebo for Hebrew (Noto Sans Hebrew is not packaged; Heebo is small and in the same
  `fontpkg` layout);
- Noto Sans Bengali, Gurmukhi, Gujarati, Oriya, Kannada, Malayalam, Sinhala, Georgian,
  Armenian, Ethiopic, Myanmar and Lao, from `manimgx-fonts` (Noto as published, OFL-1.1);
- Noto Sans CJK for Chinese, Japanese and Korean, in the face the language asks for.

No shipped font has Tibetan (no font package on PyPI has it), nor emoji in colour.

Text is cleaned before it is drawn: invisible characters (Unicode default-ignorables) are
never drawn, and a character no shipped face covers is left out rather than drawn as a
missing-glyph box; `missing` tells which characters were left out, and `script_names`
their scripts, so that a picture can record them. What is left is split into runs, each
drawn with the face made for its script, else the first face that covers it; punctuation,
digits, spaces and marks stay with the run they follow when its face has them and they
are on the same bidirectional level, else go with the run that follows (so both brackets
around an English word in a Hebrew sentence are drawn in the Hebrew face).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import emoji
from fontTools import unicodedata as font_unicodedata
from fontTools.ttLib import TTFont
from PIL import ImageFont, features

from stories_core.text import language_subtags, text_direction

REGULAR = "Regular"
BOLD = "Bold"

ZWSP = "\u200b"
"""Zero-width space: a line-break opportunity, never drawn."""
SHY = "\u00ad"
"""Soft hyphen: a line-break opportunity that shows a hyphen when taken, else never drawn."""
NBSP = "\u00a0"
_JOINERS = frozenset("\u200c\u200d")  # ZWNJ, ZWJ: kept between letters, where they shape
_NO_BREAK_SPACES = frozenset("\u00a0\u2007\u202f")

# Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt).
_IGNORABLE_RANGES = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)

_CJK_FACE = {"ja": 0, "ko": 1, "sc": 2, "tc": 3}
_TRADITIONAL_REGIONS = frozenset({"tw", "hk", "mo"})

RAQM = features.check_feature("raqm")
"""Whether Pillow can shape text (joined Arabic, Indic clusters, bidirectional runs)."""


@dataclass(frozen=True)
class Face:
    """One face of a shipped font file: the file's path and the face's index in it."""

    path: str
    index: int = 0
    blocks: tuple[tuple[int, int], ...] = field(default=(), compare=False, repr=False)
    """Unicode blocks this face is made for: their letters try it before any other face."""

    def made_for(self, char: str) -> bool:
        code = ord(char)
        return any(low <= code <= high for low, high in self.blocks)

    @property
    def name(self) -> str:
        """The font file's name, as recorded in image metadata."""
        return Path(self.path).name


def is_default_ignorable(char: str) -> bool:
    """Whether `char` is invisible by definition (zero-width, bidi control, selector...)."""
    code = ord(char)
    return any(low <= code <= high for low, high in _IGNORABLE_RANGES)


def _package_file(package: str, *parts: str) -> str | None:
    try:
        path = resources.files(package).joinpath(*parts)
    except ModuleNotFoundError:
        return None
    return str(path) if path.is_file() else None


_ARABIC = ((0x0600, 0x06FF), (0x0750, 0x077F), (0x0870, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))
_CJK = (
    (0x1100, 0x11FF),
    (0x2E80, 0x9FFF),
    (0xA960, 0xA97F),
    (0xAC00, 0xD7FF),
    (0xF900, 0xFAFF),
    (0xFE30, 0xFE4F),
    (0xFF00, 0xFFEF),
    (0x20000, 0x3FFFF),
)
_MANIMGX = "manimgx_fonts"
"""Noto Sans for the scripts the `fontpkg` packages lack, as Noto publishes them (OFL-1.1)."""
_SHIPPED: tuple[tuple[str, str, tuple[tuple[int, int], ...]], ...] = (
    # (package, file inside the package, the Unicode blocks the face is made for)
    ("fontpkg_noto_sans", "files/NotoSans[wdth,wght].ttf", ((0x0000, 0x052F),)),
    ("fontpkg_noto_sans_arabic", "files/NotoSansArabic[wdth,wght].ttf", _ARABIC),
    ("fontpkg_heebo", "files/Heebo[wght].ttf", ((0x0590, 0x05FF), (0xFB1D, 0xFB4F))),
    (
        "fontpkg_noto_sans_devanagari",
        "files/NotoSansDevanagari[wdth,wght].ttf",
        ((0x0900, 0x097F), (0x1CD0, 0x1CFF), (0xA8E0, 0xA8FF)),
    ),
    ("fontpkg_noto_sans_thai", "files/NotoSansThai[wdth,wght].ttf", ((0x0E00, 0x0E7F),)),
    ("fontpkg_noto_sans_tamil", "files/NotoSansTamil[wdth,wght].ttf", ((0x0B80, 0x0BFF),)),
    ("fontpkg_noto_sans_telugu", "files/NotoSansTelugu[wdth,wght].ttf", ((0x0C00, 0x0C7F),)),
    (
        "fontpkg_noto_sans_khmer",
        "files/NotoSansKhmer[wdth,wght].ttf",
        ((0x1780, 0x17FF), (0x19E0, 0x19FF)),
    ),
    (_MANIMGX, "NotoSansBengali[wght].ttf", ((0x0980, 0x09FF),)),
    (_MANIMGX, "NotoSansGurmukhi[wght].ttf", ((0x0A00, 0x0A7F),)),
    (_MANIMGX, "NotoSansGujarati[wght].ttf", ((0x0A80, 0x0AFF),)),
    (_MANIMGX, "NotoSansOriya[wght].ttf", ((0x0B00, 0x0B7F),)),
    (_MANIMGX, "NotoSansKannada[wght].ttf", ((0x0C80, 0x0CFF),)),
    (_MANIMGX, "NotoSansMalayalam[wght].ttf", ((0x0D00, 0x0D7F),)),
    (_MANIMGX, "NotoSansSinhala[wght].ttf", ((0x0D80, 0x0DFF), (0x111E0, 0x111FF))),
    (
        _MANIMGX,
        "NotoSansGeorgian[wght].ttf",
        ((0x10A0, 0x10FF), (0x1C90, 0x1CBF), (0x2D00, 0x2D2F)),
    ),
    (_MANIMGX, "NotoSansArmenian[wght].ttf", ((0x0530, 0x058F), (0xFB13, 0xFB17))),
    (
        _MANIMGX,
        "NotoSansEthiopic[wght].ttf",
        ((0x1200, 0x139F), (0x2D80, 0x2DDF), (0xAB00, 0xAB2F), (0x1E7E0, 0x1E7FF)),
    ),
    (
        _MANIMGX,
        "NotoSansMyanmar[wght].ttf",
        ((0x1000, 0x109F), (0xA9E0, 0xA9FF), (0xAA60, 0xAA7F)),
    ),
    (_MANIMGX, "NotoSansLao[wght].ttf", ((0x0E80, 0x0EFF),)),
)


@lru_cache(maxsize=1)
def _script_faces() -> tuple[Face, ...]:
    """The faces before CJK, in the order a character tries them."""
    found = (
        (_package_file(package, *file.split("/")), blocks) for package, file, blocks in _SHIPPED
    )
    return tuple(Face(path, 0, blocks) for path, blocks in found if path)


@lru_cache(maxsize=1)
def _cjk_path() -> str | None:
    return _package_file("noto_cjk_sans_otc", "NotoSansCJK-Regular.ttc")


def shipped_faces() -> tuple[Face, ...]:
    """Every face the pictures may use (all CJK faces included), for tests and tools."""
    cjk = _cjk_path()
    extra = tuple(Face(cjk, index, _CJK) for index in sorted(_CJK_FACE.values())) if cjk else ()
    return _script_faces() + extra


def _cjk_variant(language: str, text: str) -> str:
    """Which CJK face: by the language tag, else by the characters (kana, hangul)."""
    primary, script, territory = language_subtags(language)
    rest = {tag.lower() for tag in (script, territory) if tag}
    if primary == "ja":
        return "ja"
    if primary == "ko":
        return "ko"
    if primary in {"zh", "yue", "cmn", "lzh"}:
        traditional = "hant" in rest or (bool(rest & _TRADITIONAL_REGIONS) and "hans" not in rest)
        return "tc" if traditional or primary == "yue" else "sc"
    if any("\u3040" <= char <= "\u30ff" or "\u31f0" <= char <= "\u31ff" for char in text):
        return "ja"
    if any("\uac00" <= char <= "\ud7af" or "\u1100" <= char <= "\u11ff" for char in text):
        return "ko"
    return "sc"


def faces_for(language: str, text: str = "") -> tuple[Face, ...]:
    """The fallback chain for a text in `language`: script faces, then the right CJK face."""
    cjk = _cjk_path()
    faces = _script_faces()
    if cjk:
        faces += (Face(cjk, _CJK_FACE[_cjk_variant(language, text)], _CJK),)
    return faces


@lru_cache(maxsize=64)
def coverage(face: Face) -> frozenset[int]:
    """The code points the face maps to a glyph (its own character map)."""
    with TTFont(face.path, fontNumber=face.index, lazy=True) as font:
        return frozenset(font.getBestCmap() or {})


@lru_cache(maxsize=512)
def load(face: Face, size: int, weight: str = REGULAR) -> ImageFont.FreeTypeFont:
    """The face at `size` pixels and `weight` (a named instance of a variable font)."""
    engine = ImageFont.Layout.RAQM if RAQM else ImageFont.Layout.BASIC
    font = ImageFont.truetype(face.path, max(1, size), index=face.index, layout_engine=engine)
    if weight != REGULAR:
        try:
            if weight.encode() in font.get_variation_names():
                font.set_variation_by_name(weight)
        except OSError:  # not a variable font: it has one weight
            pass
    return font


@lru_cache(maxsize=64)
def _lookup(faces: tuple[Face, ...]) -> dict[str, Face | None]:
    """A memo of `_first_covering` for one fallback chain (filled as characters come)."""
    return {}


def _face_for(char: str, faces: tuple[Face, ...], memo: dict[str, Face | None]) -> Face | None:
    if char not in memo:
        memo[char] = _first_covering(char, faces)
    return memo[char]


def _covered(char: str, faces: tuple[Face, ...]) -> bool:
    return _face_for(char, faces, _lookup(faces)) is not None


def _invisible(char: str) -> bool:
    """Never drawn by design: ignorable, control, surrogate, private-use or unassigned."""
    return is_default_ignorable(char) or unicodedata.category(char) in {"Cc", "Cs", "Co", "Cn"}


def _is_wordlike(char: str | None) -> bool:
    return char is not None and unicodedata.category(char)[0] in "LM"


def clean(text: str, faces: tuple[Face, ...]) -> str:
    """`text` as it can be drawn with `faces`, on one line.

    NFC-normalised; whitespace collapsed to single spaces (no-break spaces kept as NBSP);
    default-ignorables removed, except zero-width space and soft hyphen (line-break
    opportunities the wrapper consumes) and joiners between letters (they shape the
    letters); control, private-use and unassigned characters, and any character no face
    covers, removed.
    """
    text = unicodedata.normalize("NFC", text)
    kept: list[str] = []
    for position, char in enumerate(text):
        if char in _NO_BREAK_SPACES:
            kept.append(NBSP)
        elif char.isspace():
            kept.append(" ")
        elif char in (ZWSP, SHY):
            kept.append(char)
        elif char in _JOINERS:
            following = text[position + 1] if position + 1 < len(text) else None
            if _is_wordlike(kept[-1] if kept else None) and _is_wordlike(following):
                kept.append(char)
        elif _invisible(char):
            continue
        elif _covered(char, faces):
            kept.append(char)
    collapsed: list[str] = []
    for char in kept:
        if char == " " and (not collapsed or collapsed[-1] == " "):
            continue
        collapsed.append(char)
    return "".join(collapsed).strip(" ")


def missing(text: str, faces: tuple[Face, ...]) -> str:
    """The characters `clean` leaves out of `text` because no face covers them (not the
    invisible ones, which are never drawn by design): each once, in order of appearance."""
    left_out: dict[str, None] = {}
    memo = _lookup(faces)
    for char in unicodedata.normalize("NFC", text):
        if char.isspace() or char in _NO_BREAK_SPACES or char in _JOINERS or _invisible(char):
            continue
        if _face_for(char, faces, memo) is None:
            left_out.setdefault(char, None)
    return "".join(left_out)


def script_name(char: str) -> str:
    """The Unicode script of `char` by its English name ("Tibetan"); "Emoji" for emoji."""
    if emoji.is_emoji(char) or 0x1F1E6 <= ord(char) <= 0x1F1FF:  # regional indicators
        return "Emoji"
    return font_unicodedata.script_name(font_unicodedata.script(char))


def script_names(chars: str) -> list[str]:
    """The scripts of `chars` (see `script_name`), each once, sorted."""
    return sorted({script_name(char) for char in chars})


def _sticky(char: str) -> bool:
    """Punctuation, digits, spaces, symbols and marks: they go with a neighbouring run."""
    return unicodedata.category(char)[0] != "L"


def itemize(
    text: str, faces: tuple[Face, ...], levels: Sequence[int] | None = None
) -> list[tuple[str, Face, int]]:
    """`text` split into runs of one face and one bidirectional embedding level.

    A letter takes the face made for its script if that covers it, else the first face
    that does. Anything else (punctuation, digits, spaces, marks) stays with the run before
    it when that run is on the same level and its face covers it; else it goes with the
    next letter on the same level, when that letter's face covers it; else with the run
    before it, on whatever level; else it takes the first face that covers it. `levels`
    (one a character; all 0 when None) come from the bidirectional algorithm. Text should
    be `clean`ed first: a character no face covers is put in the current run (harmless for
    joiners, which shaping hides).
    """
    if not text:
        return []
    levels = [0] * len(text) if levels is None else levels
    if len(levels) != len(text):
        raise ValueError("one level per character")
    memo = _lookup(faces)
    # The face of the next letter on the same level, for each position (right to left).
    ahead: list[Face | None] = [None] * len(text)
    following: Face | None = None
    for index in range(len(text) - 1, -1, -1):
        if index + 1 < len(text) and levels[index + 1] != levels[index]:
            following = None
        ahead[index] = following
        char = text[index]
        if not _sticky(char) and char not in _JOINERS:
            following = _face_for(char, faces, memo) or following
    runs: list[tuple[str, Face, int]] = []
    current: Face | None = None
    for index, char in enumerate(text):
        level = levels[index]
        same_level = bool(runs) and runs[-1][2] == level
        if current is not None and (char in _JOINERS or char in (ZWSP, SHY)):
            face = current
        elif _sticky(char):
            code = ord(char)
            if current is not None and same_level and code in coverage(current):
                face = current
            elif ahead[index] is not None and code in coverage(ahead[index]):
                face = ahead[index]
            elif current is not None and code in coverage(current):
                face = current
            else:
                face = _face_for(char, faces, memo) or current or faces[0]
        else:
            face = _face_for(char, faces, memo) or current or faces[0]
        if same_level and face == current:
            runs[-1] = (runs[-1][0] + char, face, level)
        else:
            runs.append((char, face, level))
        current = face
    return runs


def _first_covering(char: str, faces: tuple[Face, ...]) -> Face | None:
    """The face made for the character's script if it has it, else the first that does."""
    code = ord(char)
    made_for = (face for face in faces if face.made_for(char) and code in coverage(face))
    return next(made_for, None) or next((f for f in faces if code in coverage(f)), None)


def strong_direction(text: str) -> str | None:
    """ "rtl" or "ltr" by the first strongly directional character, None if there is none."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return None


def is_rtl_language(language: str) -> bool:
    """Whether `language` is written right to left, as `stories_core.text.text_direction`
    says (by the language's likely script: "pa-Arab" is, "pa" is not)."""
    return text_direction(language) == "rtl"


def paragraph_direction(text: str, language: str) -> str:
    """The base direction of a paragraph: right-to-left for a right-to-left language whose
    text has right-to-left letters (the language decides); else that of the first strongly
    directional character (the text decides, rules P2 and P3 of Unicode's bidirectional
    algorithm); else, with no such character, the language's direction."""
    has_rtl = any(unicodedata.bidirectional(char) in ("R", "AL") for char in text)
    if has_rtl and is_rtl_language(language):
        return "rtl"
    return strong_direction(text) or ("rtl" if is_rtl_language(language) else "ltr")


def raqm_language(language: str) -> str | None:
    """The tag handed to the shaper (it picks localised forms), or None for no hint."""
    tag = language.strip().replace("_", "-").lower()
    return tag if tag and tag != "und" else None
