"""What is Gemini-specific in asking: the answer schemas as `google.genai` types, and the
speech prompt. The wording and the answer models are `stories_core.prompting`'s."""

from __future__ import annotations

from google.genai import types

from stories_core.generation import ContentStyle, Narration
from stories_core.prompting import SPEAKERS, language_name


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
