"""What the models are asked, and the shapes of the JSON answers they must give.

The style decides the voice (`tone`), the pictures (`image_style`), how close a retelling
stays to the source (`keeps_source_words`) and any `disclaimer`; the segment decides
the content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from babel import Locale, UnknownLocaleError
from google.genai import types
from pydantic import BaseModel, Field

from stories_core.generation import ContentStyle, Narration, SegmentBrief
from stories_core.segmentation import sentence_boundaries

SPEAKERS = ("narrator", "second_host")
MAX_BOUNDARY_HINTS = 200


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str


# ---- answer shapes (parsed leniently: the core repairs spans, so only the shape matters) ----


class PlannedSegment(BaseModel):
    title: str = ""
    start: int
    end: int


class SegmentPlan(BaseModel):
    segments: list[PlannedSegment] = Field(min_length=1)


class ScriptLine(BaseModel):
    speaker: Literal["narrator", "second_host"]
    text: str = Field(min_length=1)


class PodcastScript(BaseModel):
    lines: list[ScriptLine] = Field(min_length=1)


def _string() -> types.Schema:
    return types.Schema(type=types.Type.STRING)


def segmentation_schema(pictures: int) -> types.Schema:
    span = types.Schema(
        type=types.Type.OBJECT,
        properties={
            "title": _string(),
            "start": types.Schema(type=types.Type.INTEGER),
            "end": types.Schema(type=types.Type.INTEGER),
        },
        required=["title", "start", "end"],
        property_ordering=["title", "start", "end"],
    )
    return types.Schema(
        type=types.Type.OBJECT,
        properties={
            "segments": types.Schema(
                type=types.Type.ARRAY, items=span, min_items=1, max_items=pictures
            )
        },
        required=["segments"],
    )


PODCAST_SCHEMA = types.Schema(
    type=types.Type.OBJECT,
    properties={
        "lines": types.Schema(
            type=types.Type.ARRAY,
            min_items=1,
            items=types.Schema(
                type=types.Type.OBJECT,
                properties={
                    "speaker": types.Schema(type=types.Type.STRING, enum=list(SPEAKERS)),
                    "text": _string(),
                },
                required=["speaker", "text"],
                property_ordering=["speaker", "text"],
            ),
        )
    },
    required=["lines"],
)


# ---- prompts ------------------------------------------------------------------------------


def language_name(tag: str) -> str:
    """The language's English name (from CLDR, by babel) and its BCP-47 tag, for
    instructions to a model: "zh-Hant" -> "Chinese (Traditional) (zh-Hant)"."""
    try:
        name = Locale.parse(tag, sep="-").english_name
    except (ValueError, UnknownLocaleError):
        return tag
    return f"{name} ({tag})" if name else tag


def _in_language(tag: str) -> str:
    return f" Write in {language_name(tag)}, the language of the text."


def segmentation(text: str, pictures: int, style: ContentStyle, language: str) -> Prompt:
    """Offsets are what the answer must hold, and models count characters badly, so the
    prompt lists where sentences and paragraphs start for the model to choose from."""
    hint = (
        f"\nHint for this kind of text: {style.segmentation_hint}"
        if style.segmentation_hint
        else ""
    )
    return Prompt(
        system=(
            "You split a text into segments for a narrated, illustrated story. Each segment "
            "is a contiguous run of the text that makes sense on its own and deserves one "
            f"picture. Kind of text: {style.name} ({style.description})."
        ),
        user=(
            f"Split the text between <source_text> tags into at most {pictures} segments "
            f"(exactly {pictures} if the text has room for them), in order, covering the whole "
            "text with no gaps and no overlaps. Give each a short title (at most eight words) "
            "and its start and end as character offsets into the text: start inclusive, end "
            "exclusive, counted from 0 in Unicode characters. The first segment starts at 0, "
            f"the last ends at {len(text)}, and each starts where the previous one ends. "
            "Prefer boundaries where a sentence or paragraph starts. Titles are in "
            f"{language_name(language)}, the language of the text.{hint}\n\n"
            "Offsets where sentences and paragraphs start (offset: first words):\n"
            f"{_boundary_hints(text, language)}\n\n<source_text>\n{text}\n</source_text>"
        ),
    )


def _boundary_hints(text: str, language: str) -> str:
    starts = [0, *sentence_boundaries(text, language)]
    if len(starts) > MAX_BOUNDARY_HINTS:
        step = len(starts) / MAX_BOUNDARY_HINTS
        starts = [starts[int(i * step)] for i in range(MAX_BOUNDARY_HINTS)]
    return "\n".join(
        f"{start}: {' '.join(text[start : start + 60].split()[:6])}" for start in starts
    )


def _segment_context(brief: SegmentBrief) -> str:
    story = f' of "{brief.story_title}"' if brief.story_title else ""
    title = f' titled "{brief.title}"' if brief.title else ""
    return (
        f"This is part {brief.index + 1} of {brief.count}{story}{title}.\n\n"
        f"<segment>\n{brief.text}\n</segment>"
    )


def _wording(style: ContentStyle) -> str:
    if style.keeps_source_words:
        return (
            "Stay close to the source: keep its own words, names and dialogue, smoothing "
            "only what does not read well aloud."
        )
    return "Tell it in your own words for a listener; keep every fact, name and number right."


def _no_disclaimer(style: ContentStyle) -> str:
    return " Do not add a disclaimer: one is appended separately." if style.disclaimer else ""


def narration(brief: SegmentBrief, style: ContentStyle) -> Prompt:
    return Prompt(
        system=(
            f"You are the narrator of a narrated, illustrated story. Tone and structure: "
            f"{style.tone} {_wording(style)} Write only the words to be spoken: no headings, "
            f"no stage directions, no markdown, no speaker labels.{_no_disclaimer(style)}"
            f"{_in_language(brief.language)}"
        ),
        user=f"Narrate this part of the story.\n{_segment_context(brief)}",
    )


def podcast(brief: SegmentBrief, style: ContentStyle) -> Prompt:
    host, guest = style.voices.narrator_name, style.voices.second_host_name
    return Prompt(
        system=(
            f'You write the script of a two-host podcast. {host} (speaker "narrator") leads '
            f'and explains; {guest} (speaker "second_host") asks, reacts and sums up. Tone '
            f"and structure: {style.tone} {_wording(style)} Alternate the hosts in four to ten "
            "short lines of spoken words only: no stage directions, no markdown, no names at "
            f"the start of lines.{_no_disclaimer(style)}{_in_language(brief.language)}"
        ),
        user=f"Write the hosts' conversation about this part.\n{_segment_context(brief)}",
    )


def image_scene(brief: SegmentBrief, style: ContentStyle) -> Prompt:
    """The model describes the scene; `image_prompt()` adds the style, so every picture of a
    story shares it word for word."""
    return Prompt(
        system=(
            "You write prompts for an image generation model. Describe one clear, concrete "
            "picture for the given part of a story: subject, setting, composition and mood, "
            f"fitting this kind of text: {style.description}. One paragraph of at most 80 "
            "words, no art-style words, no text, letters or logos in the picture. Answer with "
            "the description only."
        ),
        user=_segment_context(brief),
    )


def image_prompt(scene: str, style: ContentStyle) -> str:
    return f"{scene.strip()}\n\nVisual style: {style.image_style}. No text or lettering."


def speech(narration: Narration, style: ContentStyle, labels: dict[str, str]) -> str:
    """A TTS prompt: direction, then the transcript with one speaker label per line when
    two hosts speak (the labels must match the multi-speaker voice configuration)."""
    if len(labels) > 1:
        transcript = "\n".join(f"{labels[line.speaker]}: {line.text}" for line in narration.lines)
        direction = f"A two-host podcast conversation. Delivery: {style.tone}"
    else:
        transcript = "\n".join(line.text for line in narration.lines)
        direction = f"A narrator reads a story aloud. Delivery: {style.tone}"
    direction += f" Spoken in {language_name(narration.language)}."
    return f"### DIRECTOR'S NOTES\n{direction}\n\n#### TRANSCRIPT\n{transcript}"
