"""Caption cues from speech timings: what is on screen while each part is heard.

Cues follow the sentences. A sentence too long for one cue is cut between words (between
characters in scripts written without spaces, such as Chinese and Japanese) into cues of at
most `max_lines` lines of `max_chars` columns (a wide character takes two) and about
`max_seconds` each: the limits of the BBC's and Netflix's subtitle guidelines (two lines of
about 42 characters, 7 seconds). A word is never split, even one longer than a line. A
story's cues are its segments' cues placed at each segment's start; they are in order and
never overlap. When more than one voice speaks (a podcast), each cue names its speaker.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

from icu4py.breakers import LineBreaker

from stories_core.timing import TimedSpan, Timings

MAX_CHARS, MAX_LINES, MAX_SECONDS = 42, 2, 7.0


@dataclass(frozen=True)
class Cue:
    start: float
    """Seconds from the start of the audio (the story's, or one segment's)."""
    end: float
    lines: tuple[str, ...]
    speaker: str | None = None
    """Who speaks, when the story has more than one voice."""


@dataclass(frozen=True)
class _Unit:
    """The smallest piece a cue may be cut before: a word, or a character of a script
    written without spaces (with the punctuation that follows it)."""

    text: str
    spaced: bool
    start: float = 0.0
    end: float = 0.0


def story_cues(
    parts: list[tuple[float, Timings]],
    language: str = "und",
    *,
    speakers: bool | None = None,
    max_chars: int = MAX_CHARS,
    max_lines: int = MAX_LINES,
    max_seconds: float = MAX_SECONDS,
) -> list[Cue]:
    """Cues for the audio of several segments played one after another: `parts` are each
    segment's (start in seconds, timings); `language` is their BCP-47 tag (where lines of
    a script without spaces may break). Cues name their speaker when `speakers` says so,
    by default when the parts have more than one voice."""
    if speakers is None:
        speakers = len({span.role for _, timings in parts for span in timings.sentences}) > 1
    cues: list[Cue] = []
    for offset, timings in parts:
        for cue in _cues(timings, language, speakers, max_chars, max_lines, max_seconds):
            start = max(offset + cue.start, cues[-1].end if cues else 0.0)
            end = offset + cue.end
            if end > start:
                cues.append(Cue(round(start, 3), round(end, 3), cue.lines, cue.speaker))
    return cues


def cues(
    timings: Timings,
    language: str = "und",
    *,
    max_chars: int = MAX_CHARS,
    max_lines: int = MAX_LINES,
    max_seconds: float = MAX_SECONDS,
) -> list[Cue]:
    """Cues for one audio asset's timings."""
    return story_cues(
        [(0.0, timings)],
        language,
        max_chars=max_chars,
        max_lines=max_lines,
        max_seconds=max_seconds,
    )


def _cues(
    timings: Timings,
    language: str,
    speakers: bool,
    max_chars: int,
    max_lines: int,
    max_seconds: float,
) -> list[Cue]:
    found: list[Cue] = []
    for sentence in timings.sentences:
        units = _timed(_units(sentence.text, language), sentence, timings.words)
        if not units:
            continue
        width = sum(_width(unit.text) + unit.spaced for unit in units)
        pieces = max(
            math.ceil(width / (max_chars * max_lines)),
            math.ceil((sentence.end - sentence.start) / max_seconds),
            1,
        )
        target = width / pieces
        current: list[_Unit] = []
        for unit in units:
            candidate = [*current, unit]
            if current and (
                _wrap(candidate, max_chars, max_lines, _lead(sentence, speakers)) is None
                or unit.end - current[0].start > max_seconds
                or _line_width(current) >= target
            ):
                found.append(_cue(current, sentence, speakers, max_chars, max_lines))
                candidate = [unit]
            current = candidate
        found.append(_cue(current, sentence, speakers, max_chars, max_lines))
    return found


def _cue(
    units: list[_Unit], sentence: TimedSpan, speakers: bool, max_chars: int, max_lines: int
) -> Cue:
    # One word wider than a line is a line of its own.
    lines = _wrap(units, max_chars, max_lines, _lead(sentence, speakers)) or [units]
    return Cue(
        units[0].start,
        units[-1].end,
        tuple(_line(line) for line in lines),
        (sentence.speaker or sentence.role) if speakers else None,
    )


def _lead(sentence: TimedSpan, speakers: bool) -> int:
    """Columns the speaker's name takes before a cue's first line ("Ada: ")."""
    return _width(sentence.speaker or sentence.role) + 2 if speakers else 0


def _units(text: str, language: str) -> list[_Unit]:
    """The places a cue may be cut: at spaces, and inside a run of a script written
    without them where ICU's line breaker allows (UAX #14 with its dictionaries: Thai and
    Khmer words, CJK characters with their brackets and full stops kept on the right side)."""
    units: list[_Unit] = []
    for word in text.split():
        if units and " " not in units[-1].text and _numeric(units[-1].text):
            # A number keeps the word after it: "1.250.000 €", "15. März", "$3.1 million".
            units[-1] = _Unit(f"{units[-1].text} {word}", units[-1].spaced)
            continue
        if not any(_unspaced(char) for char in word):
            units.append(_Unit(word, spaced=bool(units)))
            continue
        for index, piece in enumerate(LineBreaker(word, language)):
            units.append(_Unit(piece, spaced=bool(units) and index == 0))
    return units


def _numeric(text: str) -> bool:
    """Whether a word is a number (digits with their separators, sign or currency)."""
    return any(char.isdigit() for char in text) and not any(char.isalpha() for char in text)


def _unspaced(char: str) -> bool:
    """Whether `char` is of a script written without spaces between words."""
    return _wide(char) or any(low <= ord(char) <= high for low, high in _UNSPACED_BLOCKS)


_UNSPACED_BLOCKS = ((0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x1950, 0x19DF))
"""Thai and Lao, Myanmar, Khmer, Tai Le and New Tai Lue."""


def _timed(units: list[_Unit], sentence: TimedSpan, words: tuple[TimedSpan, ...]) -> list[_Unit]:
    """Each unit's time: the engine's word times when the sentence's words are the ones it
    spoke, else the sentence's time shared by letters."""
    said = [
        w for w in words if w.line == sentence.line and sentence.start <= w.start < sentence.end
    ]
    if [w.text for w in said] == [u.text for u in units]:
        return [_Unit(u.text, u.spaced, w.start, w.end) for u, w in zip(units, said, strict=True)]
    weights = [max(1, sum(c.isalnum() for c in unit.text)) for unit in units]
    total = sum(weights)
    timed, at = [], sentence.start
    for unit, weight in zip(units, weights, strict=True):
        end = at + (sentence.end - sentence.start) * weight / total
        timed.append(_Unit(unit.text, unit.spaced, at, end))
        at = end
    if timed:
        timed[-1] = _Unit(timed[-1].text, timed[-1].spaced, timed[-1].start, sentence.end)
    return timed


def _wrap(
    units: list[_Unit], max_chars: int, max_lines: int, lead: int = 0
) -> list[list[_Unit]] | None:
    """The units as at most `max_lines` lines of `max_chars` columns, the first after
    `lead` columns (the speaker's name), as even as can be (two lines of equal length read
    faster than a long and a short); None if they do not fit."""
    if lead + _line_width(units) <= max_chars:
        return [units]
    if max_lines < 2:
        return None
    best: list[list[_Unit]] | None = None
    for cut in range(1, len(units)):
        head = units[:cut]
        rest = _wrap(units[cut:], max_chars, max_lines - 1)
        if lead + _line_width(head) > max_chars or rest is None:
            continue
        lines = [head, *rest]
        if best is None or _widest(lines, lead) < _widest(best, lead):
            best = lines
    return best


def _widest(lines: list[list[_Unit]], lead: int) -> int:
    return max(_line_width(line) + (lead if i == 0 else 0) for i, line in enumerate(lines))


def _line_width(units: list[_Unit]) -> int:
    return sum(_width(unit.text) for unit in units) + sum(unit.spaced for unit in units[1:])


def _line(units: list[_Unit]) -> str:
    return "".join((" " if unit.spaced and i else "") + unit.text for i, unit in enumerate(units))


def _width(text: str) -> int:
    """Columns: two for a wide character, none for a combining mark (Thai vowel signs)."""
    return sum(0 if unicodedata.combining(char) else 2 if _wide(char) else 1 for char in text)


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")
