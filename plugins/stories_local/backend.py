"""The offline generator backend: no network, no model download, same output for same input."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from stories_core.generation import ContentStyle, Media, Narration, SegmentBrief, SegmentSpan
from stories_core.model import AudioType
from stories_core.plugins import backend_settings
from stories_local import drawing, narrator, prompts, segmenter, speech

Pixels = Annotated[int, Field(ge=64, le=4096)]


class LocalSettings(BaseModel):
    """`STORIES_LOCAL_*` settings: the size of drawn images, in pixels (64 to 4096)."""

    model_config = ConfigDict(frozen=True)

    image_width: Pixels = 1024
    image_height: Pixels = 576


class LocalBackend:
    """Rule-based writing, eSpeak NG speech and Pillow drawings. Safe to call from threads."""

    name = "local"

    def __init__(self, settings: LocalSettings | None = None) -> None:
        self.settings = settings or LocalSettings()

    def segment(
        self, text: str, pictures: int, style: ContentStyle, language: str
    ) -> Sequence[SegmentSpan]:
        return segmenter.segment(text, pictures, language)

    def narrate(self, brief: SegmentBrief, audio_type: AudioType, style: ContentStyle) -> Narration:
        return narrator.narrate(brief, audio_type, style)

    def speak(self, narration: Narration, style: ContentStyle) -> Media:
        return speech.speak(narration, style)

    def speaks(self, language: str) -> bool:
        """Whether `speak` has a voice for `language` (a BCP-47 tag): eSpeak NG reads ~100
        languages, not Japanese (it would name each kanji), nor any it has no voice for."""
        return speech.speaks(language)

    def image_prompt(self, brief: SegmentBrief, style: ContentStyle) -> str:
        return prompts.image_prompt(brief, style)

    def draw(self, prompt: str, brief: SegmentBrief, style: ContentStyle) -> Media:
        size = self.settings.image_width, self.settings.image_height
        return drawing.draw(prompt, brief, style, *size)


class LocalBackendFactory:
    """Registers the `local` backend: the default, because it needs nothing outside the box."""

    name = "local"
    description = (
        "Offline and deterministic: rule-based scripts, eSpeak NG speech (MP3) and "
        "Pillow drawings (PNG). No network, no model download."
    )

    def create(self, environ: Mapping[str, str]) -> LocalBackend:
        return LocalBackend(backend_settings(LocalSettings, self.name, environ))
