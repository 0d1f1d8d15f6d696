"""When each sentence and word of a narration is heard, in seconds from its audio's start.

A speech backend records these in its audio's metadata (`Timings.to_metadata`), so that
captions, the video and the read-along page follow the voice:

    "timing_source": "engine" | "estimated",
    "sentences": [{"text", "start", "end", "line", "speaker", "role"}, ...],
    "words":     [{"text", "start", "end", "line"}, ...]

`start` and `end` are seconds (3 decimals) from the start of that audio asset; `line` is
the index of the narration line (a podcast's turn) and `speaker` the name its listeners
hear (the style's `narrator_name` or `second_host_name`), `role` its voice role. Spans are
in order and never overlap. An engine that reports where it is in the text (eSpeak NG's
word and sentence events) gives `engine` timings; for one that does not (Gemini), they are
`estimated` from the text and the pauses found in the audio.
"""

from __future__ import annotations

import math
import sys
from array import array
from dataclasses import dataclass, replace
from typing import Any

from stories_core.generation import Voices
from stories_core.text import plain
from stories_core.text import sentences as split_sentences

ENGINE, ESTIMATED = "engine", "estimated"


@dataclass(frozen=True)
class TimedSpan:
    """A sentence or a word: its text and when it is heard (seconds from the audio start)."""

    text: str
    start: float
    end: float
    line: int = 0
    role: str = "narrator"
    speaker: str = ""
    """The name listeners hear (a sentence read from an asset's metadata has it)."""


@dataclass(frozen=True)
class Timings:
    source: str
    sentences: tuple[TimedSpan, ...]
    words: tuple[TimedSpan, ...] = ()

    def to_metadata(self, voices: Voices) -> dict[str, Any]:
        names = {"narrator": voices.narrator_name, "second_host": voices.second_host_name}

        def sentence(span: TimedSpan) -> dict[str, Any]:
            return {
                **_span(span),
                "speaker": names.get(span.role, span.role),
                "role": span.role,
            }

        return {
            "timing_source": self.source,
            "sentences": [sentence(span) for span in self.sentences],
            "words": [_span(span) for span in self.words],
        }

    def shifted(self, seconds: float, line: int) -> Timings:
        """These timings `seconds` later, as line `line` (one take of a longer audio)."""

        def moved(span: TimedSpan) -> TimedSpan:
            return replace(span, start=span.start + seconds, end=span.end + seconds, line=line)

        return Timings(
            self.source, tuple(map(moved, self.sentences)), tuple(map(moved, self.words))
        )

    @classmethod
    def joined(cls, parts: list[Timings]) -> Timings:
        """Takes' timings, already shifted, as one audio's."""
        sources = {part.source for part in parts}
        return cls(
            ENGINE if sources == {ENGINE} else ESTIMATED,
            tuple(span for part in parts for span in part.sentences),
            tuple(span for part in parts for span in part.words),
        )

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> Timings | None:
        """The timings an audio asset's metadata records, or None (an older asset)."""
        if "sentences" not in metadata:
            return None

        def spans(key: str) -> tuple[TimedSpan, ...]:
            return tuple(
                TimedSpan(
                    text=item["text"],
                    start=float(item["start"]),
                    end=float(item["end"]),
                    line=int(item.get("line", 0)),
                    role=item.get("role", "narrator"),
                    speaker=item.get("speaker", ""),
                )
                for item in metadata.get(key, ())
            )

        return cls(metadata.get("timing_source", ESTIMATED), spans("sentences"), spans("words"))


def _span(span: TimedSpan) -> dict[str, Any]:
    return {
        "text": span.text,
        "start": round(span.start, 3),
        "end": round(span.end, 3),
        "line": span.line,
    }


def estimate(
    lines: list[tuple[str, str]],
    duration: float,
    language: str,
    pauses: list[tuple[float, float]] | tuple[()] = (),
) -> Timings:
    """Estimated timings for speech whose engine reports none: `lines` are the script's
    (role, text) in the order spoken, `duration` the audio's seconds, `pauses` the
    (start, end) seconds of the silences found in it.

    Markdown in a line is read as its words (`stories_core.text.plain`). Speech is taken
    to run from the end of a leading silence to the start of a trailing
    one. Its time is shared among the lines, then each line's among its sentences, then
    each sentence's among its words, in proportion to their letters (a fair proxy for
    syllables in every script); each line and sentence boundary then moves to the middle
    of the nearest pause within a third of its neighbours' length, since speakers pause
    between sentences and turns.
    """
    pauses = sorted(pauses)
    begin = next((b for a, b in pauses if a <= 0.01), 0.0)
    finish = next((a for a, b in pauses if b >= duration - 0.01 and a > begin), duration)
    # Markdown is written, not said: the words alone are timed (and shown as captions).
    plain_lines = [(role, plain(text)) for role, text in lines]
    said = [(line, role, text) for line, (role, text) in enumerate(plain_lines) if text.strip()]
    edges = _snapped(_shares(begin, finish, [_weight(text) for _, _, text in said]), pauses)
    sentences: list[TimedSpan] = []
    words: list[TimedSpan] = []
    for (line, role, text), start, end in zip(said, edges, edges[1:], strict=False):
        # A heading or any block is a sentence of its own, full stop or not.
        parts = [
            part.strip()
            for block in text.splitlines()
            for part in split_sentences(block, language)
            if part.strip()
        ]
        bounds = _snapped(_shares(start, end, [_weight(part) for part in parts]), pauses)
        for part, a, b in zip(parts, bounds, bounds[1:], strict=False):
            sentences.append(TimedSpan(part, a, b, line, role))
            tokens = part.split()
            cuts = _shares(a, b, [_weight(token) for token in tokens])
            words.extend(
                TimedSpan(token, x, y, line, role)
                for token, x, y in zip(tokens, cuts, cuts[1:], strict=False)
            )
    return Timings(ESTIMATED, tuple(sentences), tuple(words))


def _snapped(bounds: list[float], pauses: list[tuple[float, float]]) -> list[float]:
    for i in range(1, len(bounds) - 1):
        bounds[i] = _snap(bounds[i], pauses, bounds[i - 1], bounds[i + 1])
    return bounds


def _weight(text: str) -> int:
    return max(1, sum(char.isalnum() for char in text))


def _shares(start: float, end: float, weights: list[int]) -> list[float]:
    """Boundaries that cut [start, end] into pieces in proportion to `weights`."""
    total = sum(weights) or 1
    bounds = [start]
    for weight in weights:
        bounds.append(bounds[-1] + (end - start) * weight / total)
    bounds[-1] = end
    return bounds


def _snap(at: float, pauses: list[tuple[float, float]], low: float, high: float) -> float:
    reach = min(at - low, high - at) / 3
    middles = [(a + b) / 2 for a, b in pauses if abs((a + b) / 2 - at) <= reach]
    return min(middles, key=lambda middle: abs(middle - at), default=at)


def pauses(
    pcm: bytes,
    rate: int,
    channels: int = 1,
    min_seconds: float = 0.15,
    window_seconds: float = 0.01,
) -> list[tuple[float, float]]:
    """(start, end) seconds of each silence of at least `min_seconds` in signed 16-bit
    little-endian PCM at `rate` Hz (interleaved `channels`, the first one heard): runs of
    `window_seconds` windows whose RMS level is under 3% of the loudest window's."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()  # the PCM is little-endian
    size = max(1, int(rate * window_seconds))
    mono = samples[::channels]
    levels = [
        math.sqrt(sum(x * x for x in mono[i : i + size]) / size) for i in range(0, len(mono), size)
    ]
    if not levels:
        return []
    window = size / rate
    quiet = max(levels) * 0.03
    found: list[tuple[float, float]] = []
    run_start: int | None = None
    for index, level in enumerate([*levels, math.inf]):
        if level < quiet and run_start is None:
            run_start = index
        elif level >= quiet and run_start is not None:
            if (index - run_start) * window >= min_seconds:
                found.append((run_start * window, min(index * size, len(mono)) / rate))
            run_start = None
    return found
