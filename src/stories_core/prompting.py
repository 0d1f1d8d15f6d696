"""What any language-model backend asks a model, and the shapes of the answers.

Prompts are a `Prompt` (a system and a user text); a backend sends them in its SDK's
request and, for a structured answer, adds a schema in the SDK's own type.

- `segmentation(text, pictures, style, language)`: split the text into at most `pictures`
  segments; the answer is a `SegmentPlan`, `{"segments": [{"title", "start", "end"}, ...]}`
  with half-open character offsets (as in `SegmentSpan`).
- `unasked_narration(brief, audio_type)`: no narration, or the segment as written, where
  no model is asked.
- `narration(brief, style)`: the narrator's words for one segment, as plain text.
- `podcast(brief, style)`: a two-host script; the answer is a `PodcastScript`,
  `{"lines": [{"speaker": "narrator" | "second_host", "text"}, ...]}`.
- `image_scene(brief, style)`: a scene description as plain text; `image_prompt()` adds the
  style's picture style to it.

Where the rules come from: the style (`ContentStyle`) decides the voice (`tone`), the
pictures (`image_style`, `description`), how close a retelling stays to the source
(`keeps_source_words`), any `disclaimer` (appended by `narrated()`, never asked of the
model, so it stays exact) and `segmentation_hint`; the segment brief decides the content
and the language. Sentence starts offered for segment boundaries come from
`segmentation.sentence_boundaries`; language names from CLDR, by babel.

Answers are read by `answer_model()`: malformed JSON or a wrong shape is ModelOutputInvalid.
Only the shape matters: the core repairs the spans (`segmentation`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypeVar

from babel import Locale, UnknownLocaleError
from pydantic import BaseModel, Field, ValidationError

from stories_core.errors import ModelOutputInvalid
from stories_core.generation import ContentStyle, Narration, SegmentBrief, SegmentSpan, SpokenLine
from stories_core.model import AudioType
from stories_core.segmentation import sentence_boundaries
from stories_core.text import plain

SPEAKERS = ("narrator", "second_host")
MAX_BOUNDARY_HINTS = 200

M = TypeVar("M", bound=BaseModel)


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

    def spans(self) -> list[SegmentSpan]:
        return [SegmentSpan(s.start, s.end, s.title.strip()) for s in self.segments]


class ScriptLine(BaseModel):
    speaker: Literal["narrator", "second_host"]
    text: str = Field(min_length=1)


class PodcastScript(BaseModel):
    lines: list[ScriptLine] = Field(min_length=1)

    def spoken_lines(self) -> list[SpokenLine]:
        return [SpokenLine(line.speaker, line.text.strip()) for line in self.lines]


def unasked_narration(brief: SegmentBrief, audio_type: AudioType) -> Narration | None:
    """The narration no model is asked for: none, or the segment as written; else None."""
    if audio_type == AudioType.NONE:
        return Narration((), language=brief.language)
    if audio_type == AudioType.VERBATIM:
        # As written, but as read: no markup, link targets, code or emoji spoken.
        words = plain(brief.text)
        return Narration((SpokenLine("narrator", words),), language=brief.language)
    return None


def narrated(lines: list[SpokenLine], style: ContentStyle, language: str) -> Narration:
    """The narration of the lines, with the style's disclaimer appended."""
    if style.disclaimer:
        # Appended, not requested: a model may drop or reword it, and it must be exact.
        lines = [*lines, SpokenLine("narrator", style.disclaimer)]
    return Narration(tuple(lines), language=language)


# ---- reading answers ----------------------------------------------------------------------

FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(?P<body>.*?)\n?```$", re.DOTALL)


def unwrapped_json(text: str) -> str:
    """The JSON object in an answer, without a code fence or a sentence around it (as a
    model not held to a schema may add)."""
    fenced = FENCE.match(text)
    if fenced:
        text = fenced["body"].strip()
    start, end = text.find("{"), text.rfind("}")
    if start > 0 and end > start:
        text = text[start : end + 1]
    return text


def answer_model(text: str, shape: type[M], what: str, whose: str) -> M:
    """The answer parsed into `shape`; malformed JSON or a wrong shape is ModelOutputInvalid
    ("{whose} {what} answer is not the JSON asked for ...")."""
    try:
        return shape.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(map(str, first["loc"])) or "answer"
        raise ModelOutputInvalid(
            f"{whose} {what} answer is not the JSON asked for ({where}: {first['msg']})"
        ) from None


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
