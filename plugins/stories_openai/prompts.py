"""What is specific to chat completions in asking: the messages, and the answer schemas as
JSON Schema (`response_format` json_schema; a server that does not take one gets the schema
in the instructions instead). The wording and the answer models are
`stories_core.prompting`'s."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from stories_core.generation import ContentStyle, Narration
from stories_core.prompting import SPEAKERS, Prompt, language_name


def messages(prompt: Prompt, json_schema: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """Chat messages; with `json_schema`, the system message also spells out the answer's
    shape (for servers that cannot be given a schema in `response_format`)."""
    system = prompt.system
    if json_schema is not None:
        system += (
            "\n\nAnswer with one JSON object and nothing else: no prose, no markdown, no "
            f"code fences. It must match this JSON Schema:\n{json.dumps(json_schema)}"
        )
    return [{"role": "system", "content": system}, {"role": "user", "content": prompt.user}]


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


def speech_instructions(narration: Narration, style: ContentStyle, hosts: int) -> str:
    """How the lines are to be delivered, for a speech model that takes `instructions`."""
    who = "One host of a two-host podcast" if hosts > 1 else "A narrator reading a story aloud"
    return f"{who}. Delivery: {style.tone} Spoken in {language_name(narration.language)}."
