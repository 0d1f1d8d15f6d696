"""The segment contract, enforced on every backend's answer.

Segments cover the whole text, do not overlap, are ordered, are non-empty, have no
whitespace at their edges, and number at most the pictures asked for (fewer only when
the text has fewer sentences). Minor faults are repaired deterministically; an answer
that cannot be made to fit is a `ModelOutputInvalid`.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from stories_core.errors import ModelOutputInvalid
from stories_core.generation import SegmentSpan
from stories_core.text import heading_ends, headings, plain_inline, sentence_spans, shorten

_TITLE_MAX = 120


@dataclass(frozen=True)
class CheckedSpan:
    """A span that satisfies the contract; `start`/`end` exclude edge whitespace."""

    start: int
    end: int
    title: str


def sentence_boundaries(text: str, language: str = "en") -> list[int]:
    """Offsets where a new sentence starts (strictly inside the text, ascending), by the
    one sentence splitter; never right after a heading, which stays with its text."""
    after_heading = heading_ends(text)
    cuts = [start for start, _ in sentence_spans(text, language=language)[1:]]
    return [cut for cut in cuts if _content_end(text, cut) not in after_heading]


def _content_end(text: str, cut: int) -> int:
    """Where the text before `cut` ends, whitespace aside."""
    while cut > 0 and text[cut - 1].isspace():
        cut -= 1
    return cut


def enforce(
    text: str, spans: Sequence[SegmentSpan], pictures: int, language: str = "en"
) -> list[CheckedSpan]:
    """Check a backend's spans against the contract, repairing what is minor: a cut
    inside a sentence moves to the nearest sentence start (a text of one sentence is one
    segment). A segment that opens with a heading is titled by it."""
    if not text.strip():
        raise ModelOutputInvalid("segmentation: the text is empty")
    if pictures < 1:
        raise ModelOutputInvalid("segmentation: at least one segment must be asked for")
    if not spans:
        raise ModelOutputInvalid("segmentation: the backend returned no segments")
    for span in spans:
        if not isinstance(span.start, int) or not isinstance(span.end, int):
            raise ModelOutputInvalid(f"segmentation: offsets must be integers, got {span!r}")
        if span.end <= span.start:
            raise ModelOutputInvalid(f"segmentation: a segment ends before it starts: {span!r}")
        if span.start >= len(text) or span.end <= 0:
            raise ModelOutputInvalid(f"segmentation: a segment lies outside the text: {span!r}")

    # Order by start; cut each span at its successor's start (no overlap, no gap), never
    # inside a word.
    ordered = sorted(spans, key=lambda s: (s.start, s.end))
    boundaries = sentence_boundaries(text, language)
    starts = [0] + [_snap(text, max(0, s.start), boundaries) for s in ordered[1:]]
    titles = [s.title for s in ordered]
    cuts = _dedupe_cuts(starts, len(text))
    titles = [titles[i] for i in cuts.kept]
    bounds = [*cuts.starts, len(text)]

    # Trim edge whitespace and drop pieces that are only whitespace (merged into the previous).
    pieces: list[tuple[int, int, str]] = []
    for i, title in enumerate(titles):
        start, end = _trim(text, bounds[i], bounds[i + 1])
        if start == end:
            continue
        pieces.append((start, end, title))

    pieces = _merge_down_to(text, pieces, pictures)
    pieces = _split_up_to(text, pieces, min(pictures, len(boundaries) + 1), boundaries)
    opening = {heading.start: heading.title for heading in headings(text) if heading.title}
    return [
        CheckedSpan(s, e, clean_title(opening.get(s) or title, text[s:e])) for s, e, title in pieces
    ]


@dataclass
class _Cuts:
    starts: list[int]
    kept: list[int]


def _dedupe_cuts(starts: list[int], length: int) -> _Cuts:
    result = _Cuts([], [])
    for i, start in enumerate(starts):
        start = min(start, length)
        if result.starts and start <= result.starts[-1]:
            continue
        result.starts.append(start)
        result.kept.append(i)
    return result


def _snap(text: str, cut: int, boundaries: list[int]) -> int:
    """The sentence start nearest to `cut` (the later one on a tie); the text's end (no
    cut) when the text has one sentence or the cut lies beyond its last sentence start."""
    if cut in boundaries or cut <= 0:
        return cut
    if not boundaries:
        return len(text)
    after = bisect.bisect_left(boundaries, cut)
    candidates = [boundaries[i] for i in (after - 1, after) if 0 <= i < len(boundaries)]
    if cut >= len(text.rstrip()):
        candidates.append(len(text))
    return min(candidates, key=lambda b: (abs(b - cut), -b))


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _merge_down_to(
    text: str, pieces: list[tuple[int, int, str]], limit: int
) -> list[tuple[int, int, str]]:
    """Too many segments: merge the shortest with its shorter neighbour until few enough."""
    pieces = list(pieces)
    while len(pieces) > limit:
        lengths = [end - start for start, end, _ in pieces]
        i = min(range(len(pieces)), key=lambda k: (lengths[k], k))
        if i == 0:
            j = 1
        elif i == len(pieces) - 1:
            j = i - 1
        else:
            j = i - 1 if lengths[i - 1] <= lengths[i + 1] else i + 1
        a, b = sorted((i, j))
        merged = (pieces[a][0], pieces[b][1], pieces[a][2] or pieces[b][2])
        pieces[a : b + 1] = [merged]
    return pieces


def _split_up_to(
    text: str, pieces: list[tuple[int, int, str]], wanted: int, boundaries: list[int]
) -> list[tuple[int, int, str]]:
    """Too few segments while sentences remain: split the longest at its middle sentence end."""
    pieces = list(pieces)
    while len(pieces) < wanted:
        candidates = []
        for k, (start, end, _) in enumerate(pieces):
            inner = [b for b in boundaries if start < b < end]
            if inner:
                middle = (start + end) / 2
                cut = min(inner, key=lambda b: (abs(b - middle), b))
                candidates.append((end - start, -k, k, cut))
        if not candidates:
            break
        _, _, k, cut = max(candidates)
        start, end, title = pieces[k]
        first = _trim(text, start, cut)
        second = _trim(text, cut, end)
        pieces[k : k + 1] = [(first[0], first[1], title), (second[0], second[1], "")]
    return pieces


def clean_title(title: str, segment_text: str) -> str:
    """One line of plain words (no markdown marks, link targets or emoji), not too long;
    derived from the text's first line if missing."""
    title = plain_inline(" ".join(title.split()).lstrip("# "))
    if not title:
        first_line = segment_text.strip().splitlines()[0] if segment_text.strip() else ""
        words = plain_inline(first_line.lstrip("# ")).split()[:6]
        title = " ".join(words).rstrip(".,;:!?")
    return shorten(title, _TITLE_MAX) or "Untitled"
