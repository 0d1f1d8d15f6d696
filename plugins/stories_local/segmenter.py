"""Split a text into a given number of balanced segments at natural boundaries.

The text is cut into units (sentences; a heading is glued to the sentence after it, so a
heading always opens the segment it titles). A dynamic programme then picks where the
segments start, trading balanced lengths against the strength of each boundary: a
heading is the best place to start a segment, then a new paragraph, then a new sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import IntEnum

from stories_core.generation import SegmentSpan
from stories_core.text import BlockKind, blocks, headings, sentence_spans
from stories_local.analysis import key_phrase, stopwords


class Boundary(IntEnum):
    """What separates a unit from the one before it; a higher value is a weaker boundary."""

    HEADING = 0
    PARAGRAPH = 1
    SENTENCE = 2


# Added to the cost of a segment starting there; the cost of a segment is its squared
# relative deviation from the mean length, so a paragraph boundary is worth accepting a
# segment about 25% off balance, and a heading still more.
_BOUNDARY_COST = {Boundary.HEADING: -0.25, Boundary.PARAGRAPH: 0.1, Boundary.SENTENCE: 0.5}
# The search is quadratic in units; longer texts are first coarsened to this many.
_MAX_UNITS = 300

_LIST_MARKER = re.compile(r"(?:[-*+•]|\d+[.)])\s")


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    boundary: Boundary
    heading: str | None = None


def _title_like(line: str, language: str) -> str | None:
    """The line, if it reads as a title in plain text (no markdown marks): at most ten
    words, starting with a capital or a digit, and ending neither with punctuation nor
    with a small word (a hard-wrapped line often does)."""
    stripped = line.strip()
    words = stripped.split()
    if not words or len(words) > 10 or len(stripped) > 80 or _LIST_MARKER.match(stripped):
        return None
    title_like = (
        (stripped[0].isupper() or stripped[0].isdigit())
        and stripped[-1] not in ".!?,;:…\"'\u201d\u2019-"
        and words[-1].lower() not in stopwords(language)
        and any(c.isalpha() for c in stripped)
    )
    return stripped if title_like else None


def _pieces(text: str, language: str) -> list[tuple[int, int, str | None]]:
    """Headings and blocks of body text, as (start, end, heading title or None).

    Markdown headings come from the core's parser (never a `#` line inside code); in plain
    text, a title-like first line of a paragraph is its heading."""
    titles = {heading.start: heading.title for heading in headings(text)}
    pieces: list[tuple[int, int, str | None]] = []
    for block in blocks(text):
        if block.kind is BlockKind.HEADING and titles.get(block.start):
            pieces.append((block.start, block.end, titles[block.start]))
            continue
        if block.kind is BlockKind.PROSE:
            line_end = text.find("\n", block.start, block.end)
            first_end = block.end if line_end < 0 else line_end
            title = _title_like(text[block.start : first_end], language)
            if title is not None:
                pieces.append((block.start, first_end, title))
                if line_end >= 0:
                    pieces.append((line_end + 1, block.end, None))
                continue
        pieces.append((block.start, block.end, None))
    return pieces


def _units(text: str, language: str) -> list[_Unit]:
    """Sentences, each heading glued to the sentence that follows it. Headings in a row
    (a title with only a sub-heading under it) open one unit, titled by the first."""
    found: list[_Unit] = []
    pending: tuple[int, str] | None = None  # (where the headings began, the first title)
    for start, end, title in _pieces(text, language):
        if title is not None:
            pending = pending or (start, title)
            continue
        for index, (left, right) in enumerate(sentence_spans(text, start, end, language)):
            if pending is not None:
                found.append(_Unit(pending[0], right, Boundary.HEADING, pending[1]))
                pending = None
            elif index == 0:
                found.append(_Unit(left, right, Boundary.PARAGRAPH))
            else:
                found.append(_Unit(left, right, Boundary.SENTENCE))
    if pending is not None:
        found.append(_Unit(pending[0], len(text.rstrip()), Boundary.HEADING, pending[1]))
    return found


def _coarsen(found: list[_Unit], limit: int) -> list[_Unit]:
    """Merge short neighbours across the weakest boundaries until at most ~`limit` remain."""
    for weakest in (Boundary.SENTENCE, Boundary.PARAGRAPH):
        if len(found) <= limit:
            break
        floor = (found[-1].end - found[0].start) / limit
        merged = [found[0]]
        for unit in found[1:]:
            last = merged[-1]
            if unit.boundary >= weakest and last.end - last.start < floor:
                merged[-1] = replace(last, end=unit.end)
            else:
                merged.append(unit)
        found = merged
    return found


def _segment_starts(found: list[_Unit], count: int, window: float = 3.0) -> list[int]:
    """Indices of the units that start each of `count` segments, by dynamic programming.

    Only segments up to `window` times the mean length are considered (one unit is always
    allowed), which keeps the search near-linear; if that leaves no solution, it is
    repeated without the limit.
    """
    prefix = [0]
    for unit in found:
        prefix.append(prefix[-1] + unit.end - unit.start)
    n = len(found)
    target = prefix[n] / count or 1.0
    longest = window * target
    inf = float("inf")
    best = [[inf] * (n + 1) for _ in range(count + 1)]
    back = [[0] * (n + 1) for _ in range(count + 1)]
    best[0][0] = 0.0
    for m in range(1, count + 1):
        for j in range(m, n - (count - m) + 1):
            for i in range(j - 1, m - 2, -1):
                size = prefix[j] - prefix[i]
                if size > longest and i < j - 1:
                    break
                if best[m - 1][i] == inf:
                    continue
                cost = best[m - 1][i] + ((size - target) / target) ** 2
                if i:
                    cost += _BOUNDARY_COST[found[i].boundary]
                if cost < best[m][j]:
                    best[m][j], back[m][j] = cost, i
    if best[count][n] == inf:
        return _segment_starts(found, count, window=inf)
    starts, j = [], n
    for m in range(count, 0, -1):
        j = back[m][j]
        starts.append(j)
    return starts[::-1]


def segment(text: str, pictures: int, language: str = "en") -> list[SegmentSpan]:
    """At most `pictures` contiguous spans covering `text`, each titled.

    Fewer spans come back only when the text has fewer sentences; an empty text has none.
    A span's title is the heading that opens it, or else a key phrase of its first sentence.
    """
    found = _units(text, language)
    if not found or pictures < 1:
        return []
    found = _coarsen(found, max(_MAX_UNITS, 3 * pictures))
    starts = _segment_starts(found, min(pictures, len(found)))
    bounds = [0] + [found[i].start for i in starts[1:]] + [len(text)]
    spans = []
    for number, (index, start, end) in enumerate(zip(starts, bounds, bounds[1:], strict=False)):
        unit = found[index]
        title = unit.heading
        if title is None:
            first_start, first_end = sentence_spans(text, unit.start, unit.end, language)[0]
            title = key_phrase(
                text[first_start:first_end], context=text[start:end], language=language
            )
        spans.append(SegmentSpan(start=start, end=end, title=title or f"Part {number + 1}"))
    return spans


def paragraphs(text: str, language: str = "en") -> list[tuple[str | None, list[str]]]:
    """The text as (heading, sentences) paragraphs; a heading stands alone with no sentences.

    Narration reads from this: sentences come back on one line each, hard breaks removed.
    """
    found: list[tuple[str | None, list[str]]] = []
    for start, end, title in _pieces(text, language):
        spans = sentence_spans(text, start, end, language)
        lines = [" ".join(text[a:b].split()) for a, b in spans]
        found.append((title, []) if title is not None else (None, lines))
    return found
