"""Value objects exchanged with generator backends and content styles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SegmentSpan:
    """A backend's proposal for one segment: half-open character offsets into the text."""

    start: int
    end: int
    title: str = ""


@dataclass(frozen=True)
class Voices:
    """Voice names a style prefers; backends map them onto voices they have."""

    narrator: str = "en-us"
    second_host: str = "en-gb"
    narrator_name: str = "Alex"
    second_host_name: str = "Sam"


@dataclass(frozen=True)
class ContentStyle:
    """How a kind of text is told and shown. Registered by plugins; read by backends.

    Model-backed backends use the instructions (`tone`, `image_style`, `segmentation_hint`);
    the offline backend uses the templates and `visual` to pick how it draws.
    """

    name: str
    description: str
    tone: str
    image_style: str
    visual: str = "card"
    """One of: diagram, chart, scene, card. Backends fall back to `card` for unknown values."""
    segmentation_hint: str = ""
    disclaimer: str | None = None
    voices: Voices = field(default_factory=Voices)
    keeps_source_words: bool = False
    """When true, free narration retells the segment in its own words (fiction)."""
    intro_template: str = "{title}."
    outro_template: str = ""
    palette: tuple[str, ...] = ("#1f2937", "#f9fafb", "#2563eb", "#f59e0b")
    """Background, foreground and two accents, as hex colours, for drawn images."""


@dataclass(frozen=True)
class SegmentBrief:
    """What a backend is told about one segment."""

    index: int
    count: int
    title: str
    text: str
    story_title: str = ""
    language: str = "en"
    """The text's language as a BCP-47 tag (e.g. "en", "zh", "pt-BR"): detected or given."""


@dataclass(frozen=True)
class SpokenLine:
    speaker: str
    """Voice role: "narrator" or "second_host"."""
    text: str


@dataclass(frozen=True)
class Narration:
    """A narration script: one line for a narrator, alternating lines for a podcast."""

    lines: tuple[SpokenLine, ...]
    language: str = "en"
    """The language the lines are in, as a BCP-47 tag; speech picks its voice by it."""

    @property
    def text(self) -> str:
        return "\n".join(f"{line.speaker}: {line.text}" for line in self.lines)

    @property
    def is_empty(self) -> bool:
        return not any(line.text.strip() for line in self.lines)


@dataclass(frozen=True)
class Media:
    """Bytes a backend produced, with what is known about them (duration, resolution, model)."""

    data: bytes
    content_type: str
    extension: str
    metadata: dict[str, Any] = field(default_factory=dict)
