"""Narration scripts built from the segment's own sentences, shaped by the content style.

Without a language model the backend cannot paraphrase, so it retells by selecting and
ordering the source sentences and framing them with the style's templates; a podcast
hands the sentences out between two hosts and adds short, deterministic reactions.

The framing (templates, recaps, greetings, reactions) is English. A narration in another
language is the segment's own sentences only, so no English is ever read by a foreign
voice: in order for one narrator, or handed out in turns between the two hosts. Code
blocks are never narrated. A narration carries the brief's language.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from dataclasses import replace

from stories_core.errors import GenerationError
from stories_core.generation import ContentStyle, Narration, SegmentBrief, SpokenLine
from stories_core.model import AudioType
from stories_core.text import shorten
from stories_local.analysis import (
    is_salient,
    join_words,
    key_phrase,
    key_terms,
    sentences,
    tokens,
)
from stories_local.figures import chart_figures
from stories_local.segmenter import paragraphs
from stories_local.speakable import as_sentence, is_english, without_code

NARRATOR = "narrator"
SECOND_HOST = "second_host"

_INSTRUCTIONAL_VISUALS = frozenset({"diagram", "chart"})
_CHUNK_WORDS = 45
_OPENERS = (
    "Sounds good, {host}. Where do we start?",
    "I'm curious about this one, {host}. Take it away.",
    "Great, {host}. So what's the first thing to know?",
)
_REACTIONS = ("Right.", "Interesting.", "Okay, that makes sense.", "Got it.", "Huh.", "I see.")
_QUESTIONS = (
    "And where does {term} come in?",
    "So what about {term}?",
    "How does {term} fit into this?",
    "What's the story with {term}?",
)
_ANSWERS = ("Good question.", "Glad you asked.", "Here's the thing.")


def _pick(options: tuple[str, ...], seed: str) -> str:
    """A deterministic choice that still varies from one passage to the next."""
    return options[zlib.crc32(seed.encode()) % len(options)]


def segment_title(brief: SegmentBrief) -> str:
    """The segment's title, or a key phrase of its text when it has none (at most 120
    characters, as the core's titles)."""
    if brief.title.strip():
        return shorten(brief.title.strip(), 120)
    opening = sentences(brief.text, brief.language)[:1]
    phrase = opening and key_phrase(opening[0], context=brief.text, language=brief.language)
    return shorten(phrase, 120) if phrase else f"Part {brief.index + 1}"


def _fill(template: str, title: str, style: ContentStyle) -> str:
    try:
        return template.format(title=title).strip()
    except (KeyError, IndexError, ValueError) as exc:
        raise GenerationError(
            f"content style {style.name!r} has a template the local backend cannot fill: "
            f"{template!r} ({exc})"
        ) from exc


def _body(brief: SegmentBrief, title: str) -> list[list[str]]:
    """Sentences by paragraph; an opening heading that repeats the title is left out."""
    found = paragraphs(brief.text, brief.language)
    if found and found[0][0] is not None and found[0][0].lower() == title.lower():
        found = found[1:]
    return [[f"{heading}."] if heading is not None else lines for heading, lines in found]


def _key_sentence(body: list[list[str]], text: str, language: str) -> tuple[int, int]:
    """Where the sentence densest in the passage's recurring words is (earliest on ties)."""
    frequency = Counter(
        token.key for token in tokens(text, language) if is_salient(token, language)
    )

    def density(sentence: str) -> float:
        words = tokens(sentence, language)
        salient = sum(frequency[w.key] for w in words if is_salient(w, language))
        return salient / math.sqrt(len(words) + 1)

    places = [(p, i) for p, paragraph in enumerate(body) for i in range(len(paragraph))]
    ranked = enumerate(places)
    return max(ranked, key=lambda item: (density(body[item[1][0]][item[1][1]]), -item[0]))[1]


def _recap(brief: SegmentBrief, style: ContentStyle) -> str | None:
    """A closing list of the figures (charts) or key terms (diagrams) for teaching styles."""
    if style.visual not in _INSTRUCTIONAL_VISUALS:
        return None
    figures = chart_figures(brief.text, language=brief.language) if style.visual == "chart" else []
    if figures:
        stated = [f"{f.text} for {f.label}" if f.label else f.text for f in figures[:4]]
        return f"Key figures: {join_words(stated)}."
    terms = key_terms(brief.text, limit=4, language=brief.language)
    return f"Key terms: {join_words(terms)}." if terms else None


def _retelling(brief: SegmentBrief, style: ContentStyle) -> Narration:
    """One narrator: disclaimer, intro, the sentences, a recap, the outro."""
    title = segment_title(brief)
    body = _body(brief, title)
    lines = [style.disclaimer] if style.disclaimer else []
    lines.append(_fill(style.intro_template, title, style))
    if style.keeps_source_words or not any(body):
        lines.extend(" ".join(paragraph) for paragraph in body)
    else:
        lead_paragraph, lead = _key_sentence(body, brief.text, brief.language)
        lines.append(body[lead_paragraph][lead])
        for number, paragraph in enumerate(body):
            rest = [s for i, s in enumerate(paragraph) if (number, i) != (lead_paragraph, lead)]
            lines.append(" ".join(rest))
        recap = _recap(brief, style)
        if recap:
            lines.append(recap)
    if style.outro_template:
        lines.append(_fill(style.outro_template, title, style))
    return Narration(tuple(SpokenLine(NARRATOR, line) for line in lines if line))


def _chunks(sentences: list[str]) -> list[str]:
    """Turns of at most two sentences (or about 45 words), so hosts trade often."""
    turns: list[list[str]] = []
    for sentence in sentences:
        words = sum(len(s.split()) for s in turns[-1]) if turns else 0
        if turns and len(turns[-1]) < 2 and words + len(sentence.split()) <= _CHUNK_WORDS:
            turns[-1].append(sentence)
        else:
            turns.append([sentence])
    return [" ".join(turn) for turn in turns]


def _dialogue(brief: SegmentBrief, style: ContentStyle) -> Narration:
    """Two hosts take turns through the sentences; lines strictly alternate speakers."""
    host, guest = style.voices.narrator_name, style.voices.second_host_name
    title = segment_title(brief)
    turns = _chunks([s for paragraph in _body(brief, title) for s in paragraph])
    greeting = (
        f"Hi, I'm {host}, and with me is {guest}." if brief.index == 0 else "Let's keep going."
    )
    opening = [style.disclaimer or "", greeting, _fill(style.intro_template, title, style)]
    lines = [SpokenLine(NARRATOR, " ".join(part for part in opening if part))]
    if turns:
        lines.append(SpokenLine(SECOND_HOST, _pick(_OPENERS, title).format(host=host)))
    asked = False
    for number, turn in enumerate(turns):
        if number % 2:
            parts = [_pick(_REACTIONS, turn), turn]
            upcoming = (
                key_terms(turns[number + 1], limit=1, language=brief.language)
                if number + 1 < len(turns)
                else []
            )
            if upcoming:
                parts.append(_pick(_QUESTIONS, turn).format(term=upcoming[0]))
            asked = bool(upcoming)
            lines.append(SpokenLine(SECOND_HOST, " ".join(parts)))
        else:
            answer = _pick(_ANSWERS, turn) if asked else ""
            lines.append(SpokenLine(NARRATOR, f"{answer} {turn}".strip()))
    terms = key_terms(brief.text, limit=3, language=brief.language)
    recap = f"So, to sum up: {join_words(terms)}." if terms else "That was a lot to take in."
    last_part = brief.index + 1 >= brief.count
    outro = _fill(style.outro_template, title, style) if style.outro_template else ""
    closing = f"That's {title}. Thanks, {guest}. {outro}".strip()
    if lines[-1].speaker == NARRATOR:
        sign_off = "Thanks for listening, everyone." if last_part else "More in the next part."
        lines.append(SpokenLine(SECOND_HOST, recap))
        lines.append(SpokenLine(NARRATOR, f"{closing} {sign_off}"))
    else:
        sign_off = (
            "And thanks for listening, everyone." if last_part else "See you in the next part."
        )
        lines.append(SpokenLine(NARRATOR, f"{recap} {closing}"))
        lines.append(SpokenLine(SECOND_HOST, f"Thanks, {host}. {sign_off}"))
    return Narration(tuple(lines))


def _own_sentences(brief: SegmentBrief, podcast: bool) -> Narration:
    """The segment's headings and sentences in order, with no framing: one narrator reads
    a paragraph a line; in a podcast, the hosts take the sentences in turn."""
    body = [
        [as_sentence(heading, brief.language)] if heading is not None else sentences
        for heading, sentences in paragraphs(brief.text, brief.language)
    ]
    if not podcast:
        return Narration(tuple(SpokenLine(NARRATOR, " ".join(p)) for p in body if p))
    turns = [sentence for paragraph in body for sentence in paragraph]
    speakers = (NARRATOR, SECOND_HOST)
    return Narration(tuple(SpokenLine(speakers[n % 2], turn) for n, turn in enumerate(turns)))


def narrate(brief: SegmentBrief, audio_type: AudioType | str, style: ContentStyle) -> Narration:
    """The script for one segment in the requested audio type, in the brief's language."""
    try:
        kind = AudioType(audio_type)
    except ValueError as exc:
        raise GenerationError(
            f"audio type {audio_type!r} is not one the local backend knows"
        ) from exc
    if kind is AudioType.NONE:
        narration = Narration(lines=())
    elif kind is AudioType.VERBATIM:
        narration = Narration(lines=(SpokenLine(NARRATOR, brief.text),))
    else:
        brief = replace(brief, text=without_code(brief.text))
        if not is_english(brief.language):
            narration = _own_sentences(brief, podcast=kind is AudioType.PODCAST)
        elif kind is AudioType.PODCAST:
            narration = _dialogue(brief, style)
        else:
            narration = _retelling(brief, style)
    return replace(narration, language=brief.language)
