"""The offline generator backend: no network, no model download, same output for same input."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stories_core.errors import InvalidInput
from stories_core.generation import ContentStyle, Media, Narration, SegmentBrief, SegmentSpan
from stories_core.model import AudioType
from stories_local import drawing, narrator, prompts, segmenter, speech

_SIZE_RANGE = (64, 4096)


def _dimension(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    low, high = _SIZE_RANGE
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInput(
            name, f"must be a whole number of pixels from {low} to {high}, not {raw!r}"
        )
    return int(raw)


@dataclass(frozen=True)
class LocalSettings:
    """`STORIES_LOCAL_*` settings: the size of drawn images."""

    image_width: int = 1024
    image_height: int = 576

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> LocalSettings:
        return cls(
            image_width=_dimension(environ, "STORIES_LOCAL_IMAGE_WIDTH", cls.image_width),
            image_height=_dimension(environ, "STORIES_LOCAL_IMAGE_HEIGHT", cls.image_height),
        )


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
        return LocalBackend(LocalSettings.from_environ(environ))
