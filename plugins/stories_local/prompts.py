"""The prompt an image model would get for a segment.

The local backend draws without a model, but it still writes the prompt a model-backed
backend would send, so stored jobs look alike whichever backend made them.
"""

from __future__ import annotations

from stories_core.generation import ContentStyle, SegmentBrief
from stories_core.text import headings, plain
from stories_local.analysis import join_words, key_terms, sentences
from stories_local.figures import chart_figures
from stories_local.narrator import segment_title


def _opening(brief: SegmentBrief, title: str) -> list[str]:
    """The text's first sentence as plain words (no markdown, link targets or emoji), split
    by the rules of its language. Headings name the passage, they are no moment of it."""
    blocks = plain(brief.text).split("\n")  # one block a line: a heading ends a sentence
    found = sentences("\n\n".join(blocks), language=brief.language or "en")
    named = {" ".join(h.title.split()).casefold() for h in headings(brief.text)}
    named.add(title.casefold())
    return [sentence for sentence in found if sentence.casefold() not in named][:1]


def _subject(brief: SegmentBrief, style: ContentStyle, title: str) -> str:
    terms = key_terms(brief.text, limit=5, language=brief.language)
    listed = join_words(terms) if terms else title.lower()
    if style.visual == "diagram":
        return f"A labelled diagram titled '{title}' connecting {listed}."
    if style.visual == "chart":
        figures = chart_figures(brief.text, limit=6, language=brief.language)
        if figures:
            stated = [f"{f.label or 'item'} {f.text}" for f in figures]
            return f"A bar chart titled '{title}' from a zero baseline showing {'; '.join(stated)}."
        return f"A restrained title card '{title}' noting {listed}; no invented numbers."
    if style.visual == "scene":
        opening = _opening(brief, title)
        moment = f" The moment: {opening[0]}" if opening else ""
        return f"A cinematic wide shot for '{title}' featuring {listed}.{moment}"
    return f"A clean title card '{title}' with the key terms {listed}."


def image_prompt(brief: SegmentBrief, style: ContentStyle) -> str:
    """Style direction, then the subject built from the segment's title and key terms."""
    title = segment_title(brief)
    direction = style.image_style.strip().rstrip(".")
    subject = _subject(brief, style, title)
    return f"{direction}. {subject}" if direction else subject
