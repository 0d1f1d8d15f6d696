"""The text of a story: its one clean-up, its one sentence splitter, its structure.

Every way in (the command line, gRPC, a queued job) records `clean(text)`; every offset
the service reports refers to that recorded text. Sentence boundaries come from
sentencex (Wikimedia's rule sets for ~300 languages: abbreviations, initials, decimals,
ellipses, quotes, and the sentence ends of other scripts, such as the ideographic full
stop, the danda and the Arabic question mark), applied within the blocks the text's own
lines make (paragraphs, headings, list items).
Markdown is read by markdown-it-py (CommonMark, plus tables).
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import emoji
import langcodes
import sentencex
from markdown_it import MarkdownIt
from markdown_it.token import Token

# Line ends of every platform and the Unicode line/paragraph separators become "\n".
_LINE_ENDS = re.compile(r"\r\n?|[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# Never visible, never spoken, and never a word boundary: dropped. (U+FEFF is a BOM at
# the start and a word joiner elsewhere.) So are the bidi embeddings, overrides and
# isolates: unbalanced, they reorder what follows them on a page (and can disguise it),
# while pictures and speech ignore them; the marks LRM, RLM and ALM stay.
_INVISIBLE = re.compile(
    "[\u00ad\u180e\u200b\u2060-\u2064\ufeff\u202a-\u202e\u2066-\u2069"
    "\x01-\x08\x0e-\x1f\x7f\x80-\x84\x86-\x9f]"
)
# Zero-width (non-)joiners matter only between two characters they can join: letters or
# marks of scripts that shape (Arabic, Indic, Persian), or the parts of an emoji sequence.
_JOINER = re.compile("[\u200c\u200d]")


def clean(text: str) -> str:
    """The recorded form of incoming text: no BOM, LF line ends, Unicode NFC, and no
    invisible format characters except joiners that join. Idempotent."""
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", _LINE_ENDS.sub("\n", text)))
    if "\u200c" in text or "\u200d" in text:
        # Judged on composed characters; a joiner dropped may let its neighbours compose.
        joined = _JOINER.sub(lambda m: m.group() if _joins(m.string, m.start()) else "", text)
        text = unicodedata.normalize("NFC", joined) if joined != text else text
    return text


def _joins(text: str, at: int) -> bool:
    if at == 0 or at + 1 >= len(text):
        return False
    return _joinable(text[at - 1]) and _joinable(text[at + 1])


def _joinable(char: str) -> bool:
    category = unicodedata.category(char)
    if category[0] == "M" or category == "So" or char == "\ufe0f":
        return True
    # Latin, Greek and Cyrillic letters never join; letters of other scripts may.
    return category[0] == "L" and not ("A" <= char <= "\u024f" or "\u0370" <= char <= "\u04ff")


# --- Languages -------------------------------------------------------------------------

_RTL_SCRIPTS = frozenset({"Arab", "Hebr", "Syrc", "Thaa", "Nkoo", "Adlm", "Rohg", "Mand", "Samr"})


def language_tag(tag: str) -> str:
    """The canonical form of a BCP-47 language tag ("EN-us" -> "en-US", "iw" -> "he").

    Raises ValueError for a tag that is not well-formed, longer than 64 characters, or
    names no language of a text ("und", "zxx", "mul", "mis").
    """
    if len(tag.strip()) > 64:
        raise ValueError("is longer than 64 characters")
    try:
        if not langcodes.tag_is_valid(tag.strip()):
            raise ValueError(f"{tag!r} is not a valid BCP-47 language tag")
        standard = langcodes.standardize_tag(tag.strip())
    except (ValueError, LookupError) as error:
        raise ValueError(f"{tag!r} is not a valid BCP-47 language tag") from error
    primary = standard.split("-", 1)[0]  # as written: "und" must not read as English here
    if primary in _NOT_LANGUAGES or primary in ("x", "i") or "qaa" <= primary <= "qtz":
        raise ValueError(f"{tag!r} names no language of a text (private or special use)")
    return standard


# Undetermined, no linguistic content, multiple, uncoded (ISO 639-2 special codes).
_NOT_LANGUAGES = frozenset({"und", "zxx", "mul", "mis"})


@lru_cache(maxsize=256)
def language_subtags(tag: str) -> tuple[str, str | None, str | None]:
    """(language, script, territory) of a BCP-47 tag, normalised ("iw" -> "he", "cmn" ->
    "zh", "pt_BR" -> ("pt", None, "BR")). An empty or undetermined ("und") tag is English,
    the service's default."""
    try:
        parsed = langcodes.Language.get(tag.strip() or "und", normalize=True)
    except (LookupError, ValueError):  # langcodes' LanguageTagError is a ValueError
        return tag.strip().replace("_", "-").split("-")[0].lower() or "en", None, None
    language = parsed.language or "en"
    return ("zh" if language == "cmn" else language), parsed.script, parsed.territory


def primary_language(tag: str) -> str:
    """The language subtag alone: "pt-BR" -> "pt", "zh-Hant" -> "zh"; "" -> "en"."""
    return language_subtags(tag)[0]


@lru_cache(maxsize=256)
def text_direction(tag: str) -> str:
    """ "rtl" for languages written right to left (by their likely script), else "ltr"."""
    try:
        script = langcodes.Language.get(tag).maximize().script
    except (ValueError, LookupError):
        return "ltr"
    return "rtl" if script in _RTL_SCRIPTS else "ltr"


# --- Blocks -----------------------------------------------------------------------------


_CODE_MARKS = frozenset("{}[]();=<>_/\\|$#@*&^~`")
_WORDS = re.compile(r"[^\W\d_]{2,}")


def reads_as_prose(content: str) -> bool:
    """Whether an indented block is indented prose (plain texts indent paragraphs and
    quotes) rather than code: four words or more, and almost no code punctuation."""
    symbols = sum(character in _CODE_MARKS for character in content)
    return len(_WORDS.findall(content)) >= 4 and symbols <= 0.02 * len(content)


class BlockKind(StrEnum):
    HEADING = "heading"
    PROSE = "prose"
    """A paragraph, a list item's paragraph, a quoted paragraph, an indented block that
    reads as prose (plain texts indent paragraphs too)."""
    CODE = "code"
    """A fenced code block, or an indented one that does not read as prose."""
    ROW = "row"
    """A table row."""
    RULE = "rule"
    """A thematic break (`---`) or a table's delimiter row (`|---|:-:|`): no words."""
    OTHER = "other"
    """An HTML block: read as one piece."""


@dataclass(frozen=True)
class Block:
    """A markdown block (CommonMark, by markdown-it-py), as character offsets into the text
    it came from; `end` excludes the line break that ends it."""

    start: int
    end: int
    kind: BlockKind


_KINDS = {
    "heading_open": BlockKind.HEADING,
    "paragraph_open": BlockKind.PROSE,
    "code_block": BlockKind.PROSE,  # unless it does not read as prose
    "fence": BlockKind.CODE,
    "tr_open": BlockKind.ROW,
    "html_block": BlockKind.OTHER,
    "hr": BlockKind.RULE,
}
_DELIMITER_ROW = re.compile(r"\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*")


@lru_cache(maxsize=32)
def blocks(text: str) -> tuple[Block, ...]:
    """The text's blocks in order, never overlapping; every line that is not blank lies
    in one. Headings are ATX (`# Title`) or setext (`Title` over `=====`)."""
    offsets = [0]
    for line in text.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    last = len(offsets) - 1
    found: list[Block] = []
    covered_to = 0
    for token in markdown_tokens(text):
        kind = _KINDS.get(token.type)
        if kind is None or not token.map:
            continue
        if token.type == "code_block" and not reads_as_prose(token.content):
            kind = BlockKind.CODE
        first, after = min(token.map[0], last), min(token.map[1], last)
        start, end = offsets[first], offsets[after]
        if start < covered_to or start >= end:
            continue  # a paragraph inside a table cell's row, already covered
        found.extend(_uncovered(text, covered_to, start))
        block_end = end
        while block_end > start and text[block_end - 1] == "\n":
            block_end -= 1
        found.append(Block(start, block_end, kind))
        covered_to = end
    found.extend(_uncovered(text, covered_to, len(text)))
    return tuple(found)


def _uncovered(text: str, start: int, end: int) -> list[Block]:
    """Lines the parser put in no block it names (a table's delimiter row): one each."""
    lines = []
    offset = start
    for line in text[start:end].splitlines(keepends=True):
        if line.strip():
            rule = _DELIMITER_ROW.fullmatch(line.rstrip("\n"))
            kind = BlockKind.RULE if rule else BlockKind.OTHER
            lines.append(Block(offset, offset + len(line.rstrip("\n")), kind))
        offset += len(line)
    return lines


@lru_cache(maxsize=32)
def _block_ends(text: str) -> list[int]:
    return [block.end for block in blocks(text)]


def heading_ends(text: str) -> frozenset[int]:
    """Where the text's headings end (their last line, before its line break)."""
    return frozenset(block.end for block in blocks(text) if block.kind is BlockKind.HEADING)


# --- Sentences -------------------------------------------------------------------------

_WIDE_SPACE = re.compile(r"[^\S\x00-\x7f]")


def sentence_spans(
    text: str, start: int = 0, end: int | None = None, language: str = "en"
) -> list[tuple[int, int]]:
    """The sentences of `text[start:end]`, as (start, end) offsets into `text` with no
    whitespace at their edges, in order. A markdown block (heading, paragraph, list item,
    table row, code block) always ends a sentence; within prose, sentence ends are found
    by sentencex for `language`; a code block or a table row is one piece; rules (`---`,
    a table's delimiter row) have no words and are no sentence."""
    end = len(text) if end is None else end
    code = primary_language(language) or "en"
    spans: list[tuple[int, int]] = []
    found = blocks(text)
    first = bisect.bisect_right(_block_ends(text), start)  # the blocks that reach past start
    for block in itertools.islice(found, first, None):
        if block.start >= end:
            break
        block_start, block_end = max(block.start, start), min(block.end, end)
        if block_start >= block_end or block.kind is BlockKind.RULE:
            continue
        piece = text[block_start:block_end]
        whole = [{"start_index": 0, "end_index": len(piece)}]
        split = block.kind in (BlockKind.PROSE, BlockKind.HEADING)
        for found in _boundaries(code, piece) if split else whole:
            left = block_start + found["start_index"]
            right = block_start + found["end_index"]
            while left < right and text[left].isspace():
                left += 1
            while right > left and text[right - 1].isspace():
                right -= 1
            if left < right:
                spans.append((left, right))
    return spans


def _boundaries(code: str, block: str) -> list[dict]:
    """sentencex's sentences of one block, as {"start_index", "end_index"} in characters.

    sentencex 1.0.32 panics on a non-ASCII space before a full stop (it slices its UTF-8
    inside the space); one space for another keeps every character offset the same.
    Should it still panic, the block is taken as one sentence rather than fail the job.
    """
    safe = _WIDE_SPACE.sub(" ", block)
    try:
        found = sentencex.get_sentence_boundaries(code, safe)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # pyo3's PanicException derives from BaseException
        return [{"start_index": 0, "end_index": len(block)}]
    merged: list[dict] = []
    for sentence in found:
        if merged and _continues(block, merged[-1], sentence):
            merged[-1] = {**merged[-1], "end_index": sentence["end_index"]}
        else:
            merged.append(sentence)
    return merged


# Where sentencex ends a sentence too early: after an abbreviation that numbers or
# measures what follows ("Vol. 3", "approx. 350", "Jan. 2020"), before a lower-case word,
# or before an acronym standing alone ("4 p.m. ET.").
_COUNTING_ABBREVIATION = re.compile(
    r"\b(?:vol|nos?|nr|figs?|approx|ca|pp?|ch|chap|sec|art|para|op|eqs?|vs|cf|ref|est"
    r"|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.\s*$",
    re.IGNORECASE,
)
_OPENS_WITH_NUMBER = re.compile(r"\s*[$€£¥]?\d")
_OPENS_LOWER = re.compile(r"\s*[\"'(\u2018\u201c]?[a-z]")
_ACRONYM_ALONE = re.compile(r"\s*[A-Z]{2,5}\.?\s*")


def _continues(block: str, previous: dict, sentence: dict) -> bool:
    before = block[previous["start_index"] : previous["end_index"]]
    text = block[sentence["start_index"] : sentence["end_index"]]
    return bool(
        (_COUNTING_ABBREVIATION.search(before) and _OPENS_WITH_NUMBER.match(text))
        or _OPENS_LOWER.match(text)
        or _ACRONYM_ALONE.fullmatch(text)
    )


def sentences(text: str, language: str = "en") -> list[str]:
    """The sentences of `text`, each on one line (hard line breaks become spaces)."""
    return [" ".join(text[a:b].split()) for a, b in sentence_spans(text, language=language)]


# --- Markdown structure ----------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    """A markdown heading (ATX `#` or setext `===`): its level, its plain title, and the
    offsets of its source lines in the text."""

    level: int
    title: str
    start: int
    end: int


_MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# Every emoji lies in these ranges (Unicode's emoji data); text without them has none.
_MAYBE_EMOJI = re.compile("[\u00a9\u00ae\u203c-\u3299\U0001f000-\U0001faff]")


@lru_cache(maxsize=8)  # a long text's tokens take megabytes: keep the latest few
def markdown_tokens(text: str) -> tuple[Token, ...]:
    """The text's markdown tokens (markdown-it-py: CommonMark, tables, strikethrough),
    parsed once for all who ask; read them, never change them."""
    return tuple(_MARKDOWN.parse(text))


# An address ends before the punctuation that ends its sentence.
_URL = re.compile(
    r"\b(?:https?://|www\.)[^\s<>()\[\]]*[^\s<>()\[\].,;:!?'\"]"
    r"|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"
)


_GONE = "\x00"  # where a URL or emoji was taken out (a NUL never reaches here: refused)
_GONE_BEFORE_PUNCTUATION = re.compile("\\s*\x00+(?=[.,;:!?\u2026)])")


def _inline_plain(token: Token) -> str:
    """The words of an inline token: link text without its target, code as text, no
    emphasis marks, no images, no emoji, no bare URLs or e-mail addresses."""
    words: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            words.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            words.append(" ")
    plain = _URL.sub(_GONE, "".join(words))
    if _MAYBE_EMOJI.search(plain):  # the emoji library is slow; most text has none
        plain = emoji.replace_emoji(plain, _GONE)
    if _GONE in plain:  # "now 📈." -> "now.", not "now ."
        plain = _GONE_BEFORE_PUNCTUATION.sub("", plain).replace(_GONE, " ")
    return " ".join(plain.split())


def plain_inline(markdown: str) -> str:
    """One line of markdown as plain words (for titles): "**[Rome](http://x)** 🏛" -> "Rome"."""
    tokens = _MARKDOWN.parseInline(markdown)
    return _inline_plain(tokens[0]) if tokens else ""


def headings(text: str) -> list[Heading]:
    """The text's markdown headings in order (fenced code is not searched)."""
    offsets = [0]
    for line in text.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    found = []
    tokens = markdown_tokens(text)
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.map:
            title = _inline_plain(tokens[index + 1])
            first, last = token.map
            start = offsets[min(first, len(offsets) - 1)]
            end = offsets[min(last, len(offsets) - 1)]
            found.append(Heading(int(token.tag[1:]), title, start, end))
    return found


def story_title(text: str, limit: int = 120) -> str:
    """The title of a whole story: its first top-level heading (the first heading of the
    highest level present, so a text of `##` headings is titled by its first one); ""
    when the text has none. Longer than `limit` characters, it ends on a whole word and
    "…"."""
    found = [heading for heading in headings(text) if heading.title]
    if not found:
        return ""
    top = min(heading.level for heading in found)
    return shorten(next(heading.title for heading in found if heading.level == top), limit)


def shorten(title: str, limit: int) -> str:
    """`title`, or its words that fit in `limit` characters with "…" (a word too long
    alone is cut)."""
    if len(title) <= limit:
        return title
    cut = title[: limit - 1]
    if " " in cut and not title[limit - 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "…"


def plain(text: str) -> str:
    """The prose of a markdown text, block by block on lines of their own: headings and
    paragraphs as plain words, a table row as its cells joined by commas, no code blocks,
    no HTML, no link targets, bare URLs or e-mail addresses, no emoji."""
    lines: list[str] = []
    row: list[str] | None = None
    for token in markdown_tokens(text):
        if token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            if any(row):
                lines.append(", ".join(cell for cell in row if cell))
            row = None
        elif token.type == "inline":
            words = _inline_plain(token)
            if row is not None:
                row.append(words)
            elif words:
                lines.append(words)
    return "\n".join(lines)
