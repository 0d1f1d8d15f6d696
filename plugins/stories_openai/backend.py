"""The `openai` generator backend: writes, speaks and draws through any server that speaks
OpenAI's API (chat completions, /audio/speech, /images/generations), each part from its
own server, and speech or images from the `local` backend when they are turned off."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from openai.types.chat import ChatCompletion
from openai.types.image import Image
from openai.types.images_response import ImagesResponse
from pydantic import BaseModel
from stories_local import LocalBackend, LocalBackendFactory

from stories_core import prompting
from stories_core.errors import GenerationError, ModelOutputInvalid
from stories_core.generation import (
    ContentStyle,
    Media,
    Narration,
    SegmentBrief,
    SegmentSpan,
    SpokenLine,
)
from stories_core.model import AudioType
from stories_core.segmentation import sentence_boundaries
from stories_core.timing import Timings, estimate, pauses
from stories_openai import prompts
from stories_openai.audio import (
    RATE,
    SAMPLE_WIDTH,
    decode,
    duration_seconds,
    encode_mp3,
    silence,
)
from stories_openai.client import Servers
from stories_openai.images import fetch, from_base64, picture
from stories_openai.responses import answer_json, answer_text
from stories_openai.retry import Rejected
from stories_openai.settings import OpenAISettings, load_settings

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

SPEECH_MAX_INPUT_CHARS = 4096  # /audio/speech's limit on `input`
PAUSE_BETWEEN_HOSTS_SECONDS = 0.25


@dataclass(frozen=True)
class Turn:
    speaker: str
    text: str


class OpenAIBackend:
    """Each method is one model call or a few (or none); a failed call raises and returns
    nothing. Safe to call from threads."""

    name = "openai"

    def __init__(
        self, settings: OpenAISettings, servers: Servers, local: LocalBackend | None = None
    ) -> None:
        self._settings = settings
        self._servers = servers
        self._local = local
        self._text = settings.endpoint("text")
        self._speech = settings.endpoint("speech")
        self._image = settings.endpoint("image")
        self._schema_taken: bool | None = None
        """Whether the text server takes a JSON schema in `response_format` (None: unknown)."""

    def __repr__(self) -> str:
        speech, images = self._settings.speech, self._settings.images
        return f"OpenAIBackend({self._servers!r}, speech={speech!r}, images={images!r})"

    # ---- text --------------------------------------------------------------------------------

    def segment(
        self, text: str, pictures: int, style: ContentStyle, language: str
    ) -> Sequence[SegmentSpan]:
        self._ready()
        prompt = prompting.segmentation(text, pictures, style, language)
        schema = prompts.segmentation_schema(pictures)
        return self._ask_json("segmentation", prompt, schema, prompting.SegmentPlan).spans()

    def narrate(self, brief: SegmentBrief, audio_type: AudioType, style: ContentStyle) -> Narration:
        unasked = prompting.unasked_narration(brief, audio_type)
        if unasked is not None:
            return unasked
        self._ready()
        if audio_type == AudioType.PODCAST:
            prompt = prompting.podcast(brief, style)
            script = self._ask_json(
                "podcast script", prompt, prompts.PODCAST_SCHEMA, prompting.PodcastScript
            )
            lines = script.spoken_lines()
        else:
            asked = prompts.messages(prompting.narration(brief, style))
            completion = self._chat("narration", asked)
            lines = [SpokenLine("narrator", answer_text(completion, "narration"))]
        return prompting.narrated(lines, style, brief.language)

    def image_prompt(self, brief: SegmentBrief, style: ContentStyle) -> str:
        if self._settings.images == "local":
            # The local backend draws from the segment, so its own prompt says what it drew.
            return self._delegate().image_prompt(brief, style)
        self._ready()
        asked = prompts.messages(prompting.image_scene(brief, style))
        completion = self._chat("image prompt", asked)
        return prompting.image_prompt(answer_text(completion, "image prompt"), style)

    # ---- speech ------------------------------------------------------------------------------

    def speaks(self, language: str) -> bool:
        """The local backend knows its voices; a speech server decides for itself."""
        if self._settings.speech == "local":
            return self._delegate().speaks(language)
        return True

    def speak(self, narration: Narration, style: ContentStyle) -> Media:
        if self._settings.speech == "local":
            return self._delegate().speak(narration, style)
        turns = _turns(narration)
        if not turns:
            raise GenerationError("nothing to speak: the narration is empty")
        self._ready()
        settings = self._settings
        voices = {
            turn.speaker: settings.speech_second_voice
            if turn.speaker == "second_host"
            else settings.speech_voice
            for turn in turns
        }
        instructions = (
            prompts.speech_instructions(narration, style, len(voices))
            if settings.speech_instructions
            else None
        )
        pcm: list[bytes] = []
        formats: set[str] = set()
        # The server reports no timings: each turn's are estimated from its own audio.
        timings: list[Timings] = []
        length = 0  # bytes of audio so far
        for index, turn in enumerate(turns):
            if index:
                pcm.append(silence(PAUSE_BETWEEN_HOSTS_SECONDS))
                length += len(pcm[-1])
            start = length / (SAMPLE_WIDTH * RATE)
            spoken: list[bytes] = []
            for piece in _pieces(turn.text, narration.language):
                decoded = decode(
                    self._say(piece, voices[turn.speaker], instructions), settings.speech_format
                )
                spoken.append(decoded.pcm)
                formats.add(decoded.source_format)
            said = b"".join(spoken)
            pcm.append(said)
            length += len(said)
            alone = estimate(
                [(turn.speaker, turn.text)],
                duration_seconds(said),
                narration.language,
                pauses(said, RATE),
            )
            timings.append(alone.shifted(start, index))
        audio = b"".join(pcm)
        return Media(
            data=encode_mp3(audio),
            content_type="audio/mpeg",
            extension="mp3",
            metadata={
                "duration_seconds": round(duration_seconds(audio), 3),
                "model": self._speech.model,
                "voices": voices,
                "sample_rate": RATE,
                "source_format": "+".join(sorted(formats)),
                **Timings.joined(timings).to_metadata(style.voices),
            },
        )

    def _say(self, text: str, voice: str, instructions: str | None) -> bytes:
        extra: dict[str, Any] = {"instructions": instructions} if instructions else {}
        response = self._servers[self._speech].call(
            self._speech,
            "speech",
            lambda sdk: sdk.audio.speech.create(
                model=self._speech.model,
                voice=voice,
                input=text,
                response_format=self._settings.speech_format,
                **extra,
            ),
        )
        return response.content

    # ---- images ------------------------------------------------------------------------------

    def draw(self, prompt: str, brief: SegmentBrief, style: ContentStyle) -> Media:
        if self._settings.images == "local":
            return self._delegate().draw(prompt, brief, style)
        self._ready()
        server = self._servers[self._image]
        response: ImagesResponse = server.call(
            self._image,
            "image",
            lambda sdk: sdk.images.generate(
                model=self._image.model, prompt=prompt, size=self._settings.image_size, n=1
            ),
            expect=ImagesResponse,
        )
        item = response.data[0] if isinstance(response.data, list) and response.data else None
        if not isinstance(item, Image):
            raise ModelOutputInvalid("the image server returned no image")
        if item.b64_json:
            data = from_base64(item.b64_json)
        elif item.url:
            url, timeout = item.url, self._settings.timeout_seconds
            data = server.retrying(self._image, "image download", lambda: fetch(url, timeout))
        else:
            raise ModelOutputInvalid("the image server's answer has neither b64_json nor url")
        image = picture(data)
        metadata: dict[str, Any] = {
            "width": image.width,
            "height": image.height,
            "model": self._image.model,
            "size": self._settings.image_size,
        }
        if item.revised_prompt:
            metadata["revised_prompt"] = item.revised_prompt
        return Media(image.data, image.content_type, image.extension, metadata)

    # ---- helpers -----------------------------------------------------------------------------

    def _ready(self) -> None:
        """Check, once, that every server in use offers its model, so a wrong model name fails
        the job at its first call instead of halfway through."""
        for endpoint in self._settings.endpoints:
            self._servers[endpoint].check_model(endpoint)

    def _delegate(self) -> LocalBackend:
        assert self._local is not None, "built with a local backend whenever a part is local"
        return self._local

    def _chat(
        self,
        what: str,
        messages: list[dict[str, str]],
        response_format: dict[str, Any] | None = None,
    ) -> ChatCompletion:
        extra: dict[str, Any] = {"response_format": response_format} if response_format else {}
        return self._servers[self._text].call(
            self._text,
            what,
            lambda sdk: sdk.chat.completions.create(
                model=self._text.model, messages=messages, **extra
            ),
            expect=ChatCompletion,
        )

    def _ask_json(
        self, what: str, prompt: prompting.Prompt, schema: prompts.Schema, shape: type[M]
    ) -> M:
        """A JSON answer: the schema goes in `response_format` where the server takes it, and
        its shape is spelt out in the instructions always (for servers that ignore it)."""
        messages = prompts.messages(prompt, schema.schema)
        if self._schema_taken is not False:
            try:
                completion = self._chat(what, messages, schema.response_format)
            except Rejected as rejected:
                if not _about_response_format(rejected):
                    raise
                logger.warning(
                    "%s takes no JSON schema in response_format (HTTP %d); asking for JSON "
                    "in the instructions from now on",
                    self._text.server,
                    rejected.status,
                )
                self._schema_taken = False
            else:
                self._schema_taken = True
                return answer_json(completion, shape, what)
        return answer_json(self._chat(what, messages), shape, what)


def _about_response_format(rejected: Rejected) -> bool:
    return rejected.status in (400, 422) and (
        "response_format" in rejected.detail or "json_schema" in rejected.detail
    )


def _turns(narration: Narration) -> list[Turn]:
    """The lines as turns: consecutive lines of one speaker spoken in one request. Two roles
    exist; a line with any other speaker is read by the narrator."""
    turns: list[Turn] = []
    for line in narration.lines:
        text = line.text.strip()
        if not text:
            continue
        speaker = "second_host" if line.speaker == "second_host" else "narrator"
        if turns and turns[-1].speaker == speaker:
            turns[-1] = Turn(speaker, f"{turns[-1].text}\n{text}")
        else:
            turns.append(Turn(speaker, text))
    return turns


def _pieces(text: str, language: str, limit: int = SPEECH_MAX_INPUT_CHARS) -> list[str]:
    """`text` in pieces the speech endpoint takes, cut at sentence ends where it can be."""
    bounds = sorted({b for b in sentence_boundaries(text, language) if 0 < b < len(text)})
    pieces: list[str] = []
    start = 0
    while len(text) - start > limit:
        fits = [b for b in bounds if start < b <= start + limit]
        cut = fits[-1] if fits else text.rfind(" ", start + 1, start + limit)
        if cut <= start:
            cut = start + limit
        pieces.append(text[start:cut].strip())
        start = cut
    pieces.append(text[start:].strip())
    return [piece for piece in pieces if piece]


class OpenAIBackendFactory:
    """Registered under the name `openai`; builds the backend from `STORIES_OPENAI_*`."""

    name = "openai"
    description = (
        "Any server that speaks OpenAI's API (OpenAI, Ollama, vLLM, LocalAI, Kokoro-FastAPI, "
        "speaches): chat completions write, /audio/speech speaks (two voices for podcasts), "
        "/images/generations draws; speech or images may be local. Set "
        "STORIES_OPENAI_BASE_URL and STORIES_OPENAI_API_KEY, or one per endpoint."
    )

    def create(self, environ: Mapping[str, str]) -> OpenAIBackend:
        settings = load_settings(environ)
        local = None
        if settings.speech == "local" or settings.images == "local":
            local = LocalBackendFactory().create(environ)
        return OpenAIBackend(settings, Servers(settings), local)
