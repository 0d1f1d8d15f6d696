"""The `gemini` generator backend: writes, speaks and draws with Gemini models."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from google.genai import types

from stories_core import prompting
from stories_core.errors import ContentBlocked, GenerationError, ModelOutputInvalid
from stories_core.generation import (
    ContentStyle,
    Media,
    Narration,
    SegmentBrief,
    SegmentSpan,
    SpokenLine,
)
from stories_core.model import AudioType
from stories_core.timing import estimate, pauses
from stories_gemini import prompts
from stories_gemini.audio import duration_seconds, encode_mp3, pcm_format
from stories_gemini.client import GeminiClient
from stories_gemini.images import inspect_image
from stories_gemini.responses import answer_json, answer_media, answer_text
from stories_gemini.settings import GeminiSettings, load_settings

GENERIC_SPEAKERS = ("Speaker 1", "Speaker 2")


class GeminiBackend:
    """Each method is one model call (or none); a failed call raises and returns nothing."""

    name = "gemini"

    def __init__(self, settings: GeminiSettings, client: GeminiClient) -> None:
        self._settings = settings
        self._client = client

    def segment(
        self, text: str, pictures: int, style: ContentStyle, language: str
    ) -> Sequence[SegmentSpan]:
        prompt = prompting.segmentation(text, pictures, style, language)
        response = self._write("segmentation", prompt, prompts.segmentation_schema(pictures))
        return answer_json(response, prompting.SegmentPlan, "segmentation").spans()

    def narrate(self, brief: SegmentBrief, audio_type: AudioType, style: ContentStyle) -> Narration:
        unasked = prompting.unasked_narration(brief, audio_type)
        if unasked is not None:
            return unasked
        if audio_type == AudioType.PODCAST:
            prompt = prompting.podcast(brief, style)
            response = self._write("podcast script", prompt, prompts.PODCAST_SCHEMA)
            script = answer_json(response, prompting.PodcastScript, "podcast script")
            lines = script.spoken_lines()
        else:
            response = self._write("narration", prompting.narration(brief, style))
            lines = [SpokenLine("narrator", answer_text(response, "narration"))]
        return prompting.narrated(lines, style, brief.language)

    def speak(self, narration: Narration, style: ContentStyle) -> Media:
        # Two roles exist; a line with any other speaker is read by the narrator.
        lines = tuple(
            SpokenLine("second_host" if line.speaker == "second_host" else "narrator", line.text)
            for line in narration.lines
            if line.text.strip()
        )
        if not lines:
            raise GenerationError("nothing to speak: the narration is empty")
        roles = list(dict.fromkeys(line.speaker for line in lines))
        voices = {
            role: self._settings.second_voice
            if role == "second_host"
            else self._settings.narrator_voice
            for role in roles
        }
        labels = _speaker_labels(style, roles)
        response = self._client.generate(
            "speech",
            self._settings.tts_model,
            prompts.speech(Narration(lines, narration.language), style, labels),
            types.GenerateContentConfig(
                response_modalities=["AUDIO"], speech_config=_speech_config(voices, labels)
            ),
        )
        blobs = answer_media(response, "audio/", "speech")
        fmt = pcm_format(blobs[0].mime_type or "")
        pcm = b"".join(blob.data or b"" for blob in blobs)
        duration = duration_seconds(pcm, fmt)
        spoken = [(line.speaker, line.text) for line in lines]
        timings = estimate(
            spoken, duration, narration.language, pauses(pcm, fmt.rate, fmt.channels)
        )
        return Media(
            data=encode_mp3(pcm, fmt),
            content_type="audio/mpeg",
            extension="mp3",
            metadata={
                "duration_seconds": round(duration, 3),
                "model": self._settings.tts_model,
                "voices": voices,
                "sample_rate": fmt.rate,
                **timings.to_metadata(style.voices),
            },
        )

    def image_prompt(self, brief: SegmentBrief, style: ContentStyle) -> str:
        response = self._write("image prompt", prompting.image_scene(brief, style))
        return prompting.image_prompt(answer_text(response, "image prompt"), style)

    def draw(self, prompt: str, brief: SegmentBrief, style: ContentStyle) -> Media:
        model = self._settings.resolved_image_model
        if self._settings.image_api == "imagen":
            data = self._draw_with_imagen(model, prompt)
        else:
            data = self._draw_with_gemini(model, prompt)
        info = inspect_image(data)
        return Media(
            data=data,
            content_type=info.content_type,
            extension=info.extension,
            metadata={
                "width": info.width,
                "height": info.height,
                "model": model,
                "image_api": self._settings.image_api,
            },
        )

    def _write(
        self, what: str, prompt: prompting.Prompt, schema: types.Schema | None = None
    ) -> types.GenerateContentResponse:
        config = types.GenerateContentConfig(
            system_instruction=prompt.system,
            response_mime_type="application/json" if schema is not None else None,
            response_schema=schema,
        )
        return self._client.generate(what, self._settings.text_model, prompt.user, config)

    def _draw_with_gemini(self, model: str, prompt: str) -> bytes:
        response = self._client.generate(
            "image",
            model,
            prompt,
            types.GenerateContentConfig(
                response_modalities=["IMAGE"],
                image_config=types.ImageConfig(aspect_ratio=self._settings.image_aspect_ratio),
            ),
        )
        return answer_media(response, "image/", "image")[0].data or b""

    def _draw_with_imagen(self, model: str, prompt: str) -> bytes:
        response = self._client.generate_images(
            "image",
            model,
            prompt,
            types.GenerateImagesConfig(
                number_of_images=1,
                aspect_ratio=self._settings.image_aspect_ratio,
                include_rai_reason=True,
                output_mime_type="image/png",
            ),
        )
        generated = response.generated_images or []
        for image in generated:
            if image.image is not None and image.image.image_bytes:
                return image.image.image_bytes
        reasons = [image.rai_filtered_reason for image in generated if image.rai_filtered_reason]
        if reasons:
            raise ContentBlocked(f"Imagen filtered the image ({reasons[0]})")
        raise ModelOutputInvalid("Imagen returned no image")


def _speaker_labels(style: ContentStyle, roles: list[str]) -> dict[str, str]:
    """Names the hosts go by in the TTS transcript: the style's, unless they cannot tell
    two hosts apart (the multi-speaker configuration needs distinct names)."""
    names = (style.voices.narrator_name.strip(), style.voices.second_host_name.strip())
    if not all(names) or names[0] == names[1]:
        names = GENERIC_SPEAKERS
    by_role = dict(zip(prompting.SPEAKERS, names, strict=True))
    return {role: by_role[role] for role in roles}


def _voice(name: str) -> types.VoiceConfig:
    return types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=name))


def _speech_config(voices: Mapping[str, str], labels: Mapping[str, str]) -> types.SpeechConfig:
    if len(voices) == 1:
        return types.SpeechConfig(voice_config=_voice(next(iter(voices.values()))))
    return types.SpeechConfig(
        multi_speaker_voice_config=types.MultiSpeakerVoiceConfig(
            speaker_voice_configs=[
                types.SpeakerVoiceConfig(speaker=labels[role], voice_config=_voice(voice))
                for role, voice in voices.items()
            ]
        )
    )


class GeminiBackendFactory:
    """Registered under the name `gemini`; builds the backend from `STORIES_GEMINI_*`."""

    name = "gemini"
    description = (
        "Google Gemini: a text model writes, Gemini TTS speaks (two voices for podcasts), "
        "a Gemini image model or Imagen draws. Needs STORIES_GEMINI_API_KEY."
    )

    def create(self, environ: Mapping[str, str]) -> GeminiBackend:
        settings = load_settings(environ)
        return GeminiBackend(settings, GeminiClient(settings))
