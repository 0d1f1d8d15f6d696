"""Each backend method against the fake Gemini API, through the real google-genai client."""

from __future__ import annotations

import io
from itertools import pairwise

import pytest
from fake_gemini_api import (
    FAKE_API_KEY,
    FakeGemini,
    audio_reply,
    image_reply,
    json_reply,
    png_bytes,
    sine_pcm,
    text_reply,
)
from PIL import Image
from stories_gemini import GeminiBackend, GeminiBackendFactory

from stories_core.generation import ContentStyle, Narration, SegmentBrief, SpokenLine
from stories_core.model import AudioType
from stories_core.plugins import build_registry, make_plugin_manager
from tests.model_backends import HELLO_TIMINGS, is_mp3

TEXT = (
    "Interest rates are the price of money. When a central bank raises them, loans get "
    "dearer.\n\nHouseholds feel it first. Mortgages reset and spending slows!\n\n"
    "Companies follow. They delay projects, hire less, and wait for cheaper credit."
)


def test_the_plugin_registers_the_gemini_factory() -> None:
    import stories_gemini

    manager = make_plugin_manager(load_entrypoints=False, extra_plugins=[stories_gemini])
    registry = build_registry(manager)
    assert isinstance(registry.backends["gemini"], GeminiBackendFactory)
    assert "STORIES_GEMINI_API_KEY" in registry.backends["gemini"].description


def test_segment_asks_for_a_schema_and_returns_spans(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle
) -> None:
    spans = backend.segment(TEXT, 3, style, "en")

    assert spans[0].start == 0
    assert spans[-1].end == len(TEXT)
    assert all(a.end == b.start for a, b in pairwise(spans))
    assert len(spans) == 3 and all(s.title for s in spans)
    [request] = fake_gemini.requests
    assert request.path == "/v1beta/models/gemini-text-test:generateContent"
    assert request.headers["x-goog-api-key"] == FAKE_API_KEY
    config = request.generation_config
    assert config["responseMimeType"] == "application/json"
    segments = config["responseSchema"]["properties"]["segments"]
    assert segments.get("maxItems", segments.get("max_items")) == 3
    assert set(segments["items"]["properties"]) == {"title", "start", "end"}
    assert f"<source_text>\n{TEXT}\n</source_text>" in request.prompt
    assert "0: Interest rates are the price of" in request.prompt  # offset hints


def test_segment_passes_model_offsets_through_for_the_core_to_repair(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle
) -> None:
    fake_gemini.queue(json_reply({"segments": [{"title": "All", "start": 5, "end": 9999}]}))

    [span] = backend.segment(TEXT, 2, style, "en")

    assert (span.start, span.end, span.title) == (5, 9999, "All")


def test_free_narration_uses_the_style_voice_and_appends_the_disclaimer(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_gemini.queue(text_reply("  Rates went up, so borrowing costs more.  "))

    narration = backend.narrate(brief, AudioType.FREE_SPEECH, style)

    assert narration.lines == (
        SpokenLine("narrator", "Rates went up, so borrowing costs more."),
        SpokenLine("narrator", "This is not financial advice."),
    )
    [request] = fake_gemini.requests
    system = request.body["systemInstruction"]["parts"][0]["text"]
    assert style.tone in system
    assert "own words" in system
    assert brief.text in request.prompt
    assert "part 2 of 3" in request.prompt


def test_narration_of_fiction_keeps_the_source_words(
    backend: GeminiBackend, fake_gemini: FakeGemini, brief: SegmentBrief
) -> None:
    fiction = ContentStyle(
        name="fictional",
        description="Stories",
        tone="Warm.",
        image_style="watercolour",
        keeps_source_words=True,
    )

    narration = backend.narrate(brief, AudioType.FREE_SPEECH, fiction)

    assert len(narration.lines) == 1  # no disclaimer for this style
    system = fake_gemini.requests[0].body["systemInstruction"]["parts"][0]["text"]
    assert "keep its own words" in system


def test_podcast_narration_is_a_two_host_script_from_structured_output(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle, brief: SegmentBrief
) -> None:
    narration = backend.narrate(brief, AudioType.PODCAST, style)

    speakers = [line.speaker for line in narration.lines]
    assert speakers == ["narrator", "second_host", "narrator"]
    assert narration.lines[-1].text == style.disclaimer
    [request] = fake_gemini.requests
    lines = request.generation_config["responseSchema"]["properties"]["lines"]
    assert lines["items"]["properties"]["speaker"]["enum"] == ["narrator", "second_host"]
    system = request.body["systemInstruction"]["parts"][0]["text"]
    assert "Alex" in system and "Sam" in system


@pytest.mark.parametrize(
    ("audio_type", "expected"),
    [(AudioType.VERBATIM, "the segment itself"), (AudioType.NONE, "nothing")],
)
def test_verbatim_and_none_make_no_call(
    backend: GeminiBackend,
    fake_gemini: FakeGemini,
    style: ContentStyle,
    brief: SegmentBrief,
    audio_type: AudioType,
    expected: str,
) -> None:
    narration = backend.narrate(brief, audio_type, style)

    if expected == "nothing":
        assert narration.is_empty
    else:
        assert narration.lines == (SpokenLine("narrator", brief.text),)
    assert fake_gemini.requests == []


def test_speak_encodes_the_pcm_as_mp3_and_records_its_duration(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle
) -> None:
    fake_gemini.queue(audio_reply(sine_pcm(1.5)))

    media = backend.speak(Narration((SpokenLine("narrator", "Hello, listeners."),)), style)

    assert (media.content_type, media.extension) == ("audio/mpeg", "mp3")
    assert is_mp3(media.data)
    assert media.metadata == {
        "duration_seconds": 1.5,
        "model": "gemini-tts-test",
        "voices": {"narrator": "Kore"},
        "sample_rate": 24000,
        **HELLO_TIMINGS,
    }
    [request] = fake_gemini.requests
    assert request.path == "/v1beta/models/gemini-tts-test:generateContent"
    config = request.generation_config
    assert config["responseModalities"] == ["AUDIO"]
    voice = config["speechConfig"]["voice_config"]["prebuilt_voice_config"]["voice_name"]
    assert voice == "Kore"
    assert "#### TRANSCRIPT\nHello, listeners." in request.prompt
    assert style.tone in request.prompt


def test_speech_timings_are_estimated_from_the_letters_and_moved_to_the_pauses(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle
) -> None:
    """Gemini reports no timings: the sentence boundary a letter count puts at 1.70 s (14
    letters of 29 after the leading silence) moves to the middle of the silence the audio
    has at 1.2-1.6 s."""
    rate = 24_000
    silence = bytes(2 * int(0.4 * rate))
    fake_gemini.queue(audio_reply(silence + sine_pcm(0.8) + silence + sine_pcm(1.5)))

    media = backend.speak(
        Narration((SpokenLine("narrator", "Hello, listeners. Rates are up today."),)), style
    )

    assert media.metadata["timing_source"] == "estimated"
    spans = [(s["text"], s["start"], s["end"]) for s in media.metadata["sentences"]]
    assert spans == [("Hello, listeners.", 0.4, 1.4), ("Rates are up today.", 1.4, 3.1)]
    words = media.metadata["words"]
    assert [w["text"] for w in words] == ["Hello,", "listeners.", "Rates", "are", "up", "today."]
    assert all(a["end"] == b["start"] for a, b in pairwise(words))


def test_speak_a_podcast_with_two_voices(
    make_backend, fake_gemini: FakeGemini, style: ContentStyle
) -> None:
    backend = make_backend(narrator_voice="Charon", second_voice="Aoede")
    narration = Narration(
        (
            SpokenLine("narrator", "Rates are up."),
            SpokenLine("second_host", "What does that mean for me?"),
            SpokenLine("narrator", "Dearer loans."),
        )
    )

    media = backend.speak(narration, style)

    assert media.metadata["voices"] == {"narrator": "Charon", "second_host": "Aoede"}
    assert is_mp3(media.data)
    [request] = fake_gemini.requests
    configs = request.generation_config["speechConfig"]["multi_speaker_voice_config"][
        "speaker_voice_configs"
    ]
    assert [
        (c["speaker"], c["voice_config"]["prebuilt_voice_config"]["voice_name"]) for c in configs
    ] == [("Alex", "Charon"), ("Sam", "Aoede")]
    assert "Alex: Rates are up.\nSam: What does that mean for me?\nAlex: Dearer loans." in (
        request.prompt
    )


def test_image_prompt_adds_the_style_to_the_model_scene(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_gemini.queue(text_reply("A family at a kitchen table reading a mortgage letter."))

    prompt = backend.image_prompt(brief, style)

    assert prompt.startswith("A family at a kitchen table reading a mortgage letter.")
    assert style.image_style in prompt
    assert brief.text in fake_gemini.requests[0].prompt


def test_draw_with_a_gemini_image_model(
    make_backend, fake_gemini: FakeGemini, style: ContentStyle, brief: SegmentBrief
) -> None:
    backend = make_backend(image_model="gemini-image-test")

    media = backend.draw("a calm chart", brief, style)

    assert (media.content_type, media.extension) == ("image/png", "png")
    assert Image.open(io.BytesIO(media.data)).size == (1344, 768)
    assert media.metadata == {
        "width": 1344,
        "height": 768,
        "model": "gemini-image-test",
        "image_api": "gemini",
    }
    [request] = fake_gemini.requests
    assert request.path == "/v1beta/models/gemini-image-test:generateContent"
    assert request.generation_config["responseModalities"] == ["IMAGE"]
    assert request.generation_config["imageConfig"] == {"aspectRatio": "16:9"}
    assert request.prompt == "a calm chart"


def test_draw_reports_what_the_bytes_are(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_gemini.queue(image_reply(png_bytes(640, 480, "JPEG"), mime_type="image/jpeg"))

    media = backend.draw("a chart", brief, style)

    assert (media.content_type, media.extension) == ("image/jpeg", "jpg")
    assert (media.metadata["width"], media.metadata["height"]) == (640, 480)


@pytest.mark.filterwarnings("ignore:The generate_images method is deprecated")
def test_draw_with_imagen(
    make_backend, fake_gemini: FakeGemini, style: ContentStyle, brief: SegmentBrief
) -> None:
    backend = make_backend(image_api="imagen", image_aspect_ratio="1:1")

    media = backend.draw("a calm chart", brief, style)

    assert media.metadata == {
        "width": 1024,
        "height": 1024,
        "model": "imagen-3.0-generate-002",
        "image_api": "imagen",
    }
    [request] = fake_gemini.requests
    assert request.action == "predict"
    assert request.path.endswith("/publishers/google/models/imagen-3.0-generate-002:predict")
    assert request.headers["x-goog-api-key"] == FAKE_API_KEY
    assert request.body["instances"] == [{"prompt": "a calm chart"}]
    assert request.body["parameters"]["sampleCount"] == 1
    assert request.body["parameters"]["includeRaiReason"] is True


def test_every_model_is_told_the_language(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle, brief: SegmentBrief
) -> None:
    german = SegmentBrief(
        index=0, count=1, title="Zinsen", text="Die Zinsen stiegen. Kredite wurden teurer.",
        language="de",
    )  # fmt: skip
    fake_gemini.queue(text_reply("Die Zinsen stiegen, also kosten Kredite mehr."))
    backend.narrate(german, AudioType.FREE_SPEECH, style)
    fake_gemini.queue(json_reply({"segments": [{"title": "Zinsen", "start": 0, "end": 42}]}))
    backend.segment(german.text, 1, style, "de")
    fake_gemini.queue(audio_reply(sine_pcm(0.5)))
    backend.speak(Narration((SpokenLine("narrator", "Hallo."),), language="de"), style)
    narration, segmentation, speech = fake_gemini.requests
    system = narration.body["systemInstruction"]["parts"][0]["text"]
    assert "Write in German (de)" in system
    assert "German (de), the language of the text" in segmentation.prompt
    assert "Spoken in German (de)." in speech.prompt


def test_verbatim_speech_is_the_text_as_read_not_its_markup(
    backend: GeminiBackend, style: ContentStyle
) -> None:
    brief = SegmentBrief(
        index=0, count=1, title="T",
        text="# Rates\n\nSee [the report](https://example.com) **now** 📈.\n\n```\ncode\n```",
    )  # fmt: skip
    narration = backend.narrate(brief, AudioType.VERBATIM, style)
    assert narration.lines == (SpokenLine("narrator", "Rates\nSee the report now."),)
