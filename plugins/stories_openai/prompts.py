"""What the models are asked, and the shapes of the JSON answers they must give.

The style decides the voice (`tone`), the pictures (`image_style`), how close a retelling
stays to the source (`keeps_source_words`) and any `disclaimer`; the segment decides
the content. Structured answers are asked for with a JSON schema (`response_format`
json_schema); a server that does not take one gets the schema in the instructions instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from babel import Locale, UnknownLocaleError
from pydantic import BaseModel, Field

from stories_core.generation import ContentStyle, Narration, SegmentBrief
from stories_core.segmentation import sentence_boundaries

SPEAKERS = ("narrator", "second_host")
MAX_BOUNDARY_HINTS = 200


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str

    def messages(self, json_schema: dict[str, Any] | None = None) -> list[dict[str, str]]:
        """Chat messages; with `json_schema`, the system message also spells out the answer's
        shape (for servers that cannot be given a schema in `response_format`)."""
        system = self.system
        if json_schema is not None:
            system += (
                "\n\nAnswer with one JSON object and nothing else: no prose, no markdown, no "
                f"code fences. It must match this JSON Schema:\n{json.dumps(json_schema)}"
            )
        return [{"role": "system", "content": system}, {"role": "user", "content": self.user}]


@dataclass(frozen=True)
class Schema:
    """A named JSON schema for an answer: `response_format` when the server takes it."""

    name: str
    schema: dict[str, Any]

    @property
    def response_format(self) -> dict[str, Any]:
        return {
            "type": "json_schema",
            "json_schema": {"name": self.name, "schema": self.schema, "strict": True},
        }


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


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    """An object with every property required and no others (what strict mode asks for)."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def segmentation_schema(pictures: int) -> Schema:
    span = _object(
        {"title": {"type": "string"}, "start": {"type": "integer"}, "end": {"type": "integer"}}
    )
    segments = {"type": "array", "items": span, "minItems": 1, "maxItems": pictures}
    return Schema("segment_plan", _object({"segments": segments}))


PODCAST_SCHEMA = Schema(
    "podcast_script",
    _object(
        {
            "lines": {
                "type": "array",
                "minItems": 1,
                "items": _object(
                    {
                        "speaker": {"type": "string", "enum": list(SPEAKERS)},
                        "text": {"type": "string"},
                    }
                ),
            }
        }
    ),
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


def speech_instructions(narration: Narration, style: ContentStyle, hosts: int) -> str:
    """How the lines are to be delivered, for a speech model that takes `instructions`."""
    who = "One host of a two-host podcast" if hosts > 1 else "A narrator reading a story aloud"
    return f"{who}. Delivery: {style.tone} Spoken in {language_name(narration.language)}."
