"""Each backend method against the fake OpenAI-compatible server, through the real openai client."""

from __future__ import annotations

import io
from itertools import pairwise

import av
import pytest
from fake_openai_api import (
    FAKE_API_KEY,
    FakeOpenAI,
    Reply,
    audio_reply,
    chat_reply,
    encoded_audio,
    image_reply,
    json_reply,
    png_bytes,
)
from PIL import Image
from stories_openai import OpenAIBackend, OpenAIBackendFactory

from stories_core.errors import BackendMisconfigured
from stories_core.generation import ContentStyle, Narration, SegmentBrief, SpokenLine
from stories_core.model import AudioType
from stories_core.plugins import build_registry, make_plugin_manager
from tests.model_backends import HELLO_TIMINGS, is_mp3

TEXT = (
    "Interest rates are the price of money. When a central bank raises them, loans get "
    "dearer.\n\nHouseholds feel it first. Mortgages reset and spending slows!\n\n"
    "Companies follow. They delay projects, hire less, and wait for cheaper credit."
)
HELLO = Narration((SpokenLine("narrator", "Hello, listeners."),))


def seconds_of(mp3: bytes) -> float:
    """The MP3's length, decoded by PyAV (not taken from the metadata under test)."""
    with av.open(io.BytesIO(mp3)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
        return samples / container.streams.audio[0].rate


def test_the_plugin_registers_the_openai_factory() -> None:
    import stories_openai

    manager = make_plugin_manager(load_entrypoints=False, extra_plugins=[stories_openai])
    registry = build_registry(manager)
    assert isinstance(registry.backends["openai"], OpenAIBackendFactory)
    assert "STORIES_OPENAI_BASE_URL" in registry.backends["openai"].description


# ---- text ---------------------------------------------------------------------------------


def test_segment_asks_for_a_json_schema_and_returns_spans(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle
) -> None:
    spans = backend.segment(TEXT, 3, style, "en")

    assert spans[0].start == 0
    assert spans[-1].end == len(TEXT)
    assert all(a.end == b.start for a, b in pairwise(spans))
    assert len(spans) == 3 and all(s.title for s in spans)
    [request] = fake_openai.requests_to("chat")
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {FAKE_API_KEY}"
    assert request.body["model"] == "text-test"
    response_format = request.body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    segments = response_format["json_schema"]["schema"]["properties"]["segments"]
    assert segments["maxItems"] == 3
    assert set(segments["items"]["properties"]) == {"title", "start", "end"}
    assert f"<source_text>\n{TEXT}\n</source_text>" in request.prompt
    assert "0: Interest rates are the price of" in request.prompt  # offset hints


def test_segment_passes_model_offsets_through_for_the_core_to_repair(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle
) -> None:
    fake_openai.queue(json_reply({"segments": [{"title": "All", "start": 5, "end": 9999}]}))

    [span] = backend.segment(TEXT, 2, style, "en")

    assert (span.start, span.end, span.title) == (5, 9999, "All")


def test_a_server_without_json_schema_gets_json_instructions_and_is_remembered(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_openai.takes_json_schema = False

    spans = backend.segment(TEXT, 2, style, "en")
    script = backend.narrate(brief, AudioType.PODCAST, style)

    assert spans[0].start == 0 and spans[-1].end == len(TEXT)
    assert [line.speaker for line in script.lines][:2] == ["narrator", "second_host"]
    refused, asked, podcast = fake_openai.requests_to("chat")
    assert refused.schema is not None, "json_schema was tried first"
    assert "response_format" not in asked.body and "response_format" not in podcast.body
    assert '"maxItems": 2' in asked.system, "the schema is spelt out in the instructions"
    assert "Answer with one JSON object" in podcast.system


def test_json_around_prose_or_in_a_fence_is_read(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle
) -> None:
    fake_openai.queue(
        chat_reply(
            '<think>The text has two parts.</think>Sure! Here it is:\n{"segments": '
            '[{"title": "One", "start": 0, "end": 10}]}\nHope this helps.'
        )
    )

    [span] = backend.segment(TEXT, 2, style, "en")

    assert (span.start, span.end, span.title) == (0, 10, "One")


def test_free_narration_uses_the_style_voice_and_appends_the_disclaimer(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_openai.queue(chat_reply("  Rates went up, so borrowing costs more.  "))

    narration = backend.narrate(brief, AudioType.FREE_SPEECH, style)

    assert narration.lines == (
        SpokenLine("narrator", "Rates went up, so borrowing costs more."),
        SpokenLine("narrator", "This is not financial advice."),
    )
    [request] = fake_openai.requests_to("chat")
    assert "response_format" not in request.body
    assert style.tone in request.system
    assert "own words" in request.system
    assert brief.text in request.prompt
    assert "part 2 of 3" in request.prompt


def test_podcast_narration_is_a_two_host_script_from_structured_output(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle, brief: SegmentBrief
) -> None:
    narration = backend.narrate(brief, AudioType.PODCAST, style)

    assert [line.speaker for line in narration.lines] == ["narrator", "second_host", "narrator"]
    assert narration.lines[-1].text == style.disclaimer
    [request] = fake_openai.requests_to("chat")
    lines = request.schema["schema"]["properties"]["lines"]
    assert lines["items"]["properties"]["speaker"]["enum"] == ["narrator", "second_host"]
    assert "Alex" in request.system and "Sam" in request.system


@pytest.mark.parametrize("audio_type", [AudioType.VERBATIM, AudioType.NONE])
def test_verbatim_and_none_make_no_call(
    backend: OpenAIBackend,
    fake_openai: FakeOpenAI,
    style: ContentStyle,
    brief: SegmentBrief,
    audio_type: AudioType,
) -> None:
    narration = backend.narrate(brief, audio_type, style)

    if audio_type == AudioType.NONE:
        assert narration.is_empty
    else:
        assert narration.lines == (SpokenLine("narrator", brief.text),)
    assert fake_openai.requests == []


def test_image_prompt_adds_the_style_to_the_model_scene(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_openai.queue(chat_reply("A family at a kitchen table reading a mortgage letter."))

    prompt = backend.image_prompt(brief, style)

    assert prompt.startswith("A family at a kitchen table reading a mortgage letter.")
    assert style.image_style in prompt
    assert brief.text in fake_openai.requests_to("chat")[0].prompt


def test_every_model_is_told_the_language(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle
) -> None:
    german = SegmentBrief(
        index=0, count=1, title="Zinsen", text="Die Zinsen stiegen. Kredite wurden teurer.",
        language="de",
    )  # fmt: skip
    backend.narrate(german, AudioType.FREE_SPEECH, style)
    backend.segment(german.text, 1, style, "de")
    backend.speak(Narration((SpokenLine("narrator", "Hallo."),), language="de"), style)

    narration, segmentation = fake_openai.requests_to("chat")
    [speech] = fake_openai.requests_to("speech")
    assert "Write in German (de)" in narration.system
    assert "German (de), the language of the text" in segmentation.prompt
    assert "Spoken in German (de)." in speech.body["instructions"]


# ---- speech -------------------------------------------------------------------------------


def test_speak_asks_for_the_format_and_stores_mp3_with_its_duration(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle
) -> None:
    fake_openai.queue(audio_reply(encoded_audio("wav", 1.5)), kind="speech")

    media = backend.speak(HELLO, style)

    assert (media.content_type, media.extension) == ("audio/mpeg", "mp3")
    assert is_mp3(media.data)
    assert abs(seconds_of(media.data) - 1.5) < 0.1
    assert media.metadata == {
        "duration_seconds": 1.5,
        "model": "tts-test",
        "voices": {"narrator": "voice-one"},
        "sample_rate": 24000,
        "source_format": "wav",
        **HELLO_TIMINGS,
    }
    [request] = fake_openai.requests_to("speech")
    assert request.path == "/v1/audio/speech"
    assert request.body["model"] == "tts-test"
    assert request.body["voice"] == "voice-one"
    assert request.body["input"] == "Hello, listeners."
    assert request.body["response_format"] == "wav"
    assert style.tone in request.body["instructions"]


@pytest.mark.parametrize("audio_format", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_every_format_a_speech_server_returns_is_decoded(
    make_backend, fake_openai: FakeOpenAI, style: ContentStyle, audio_format: str
) -> None:
    backend = make_backend(speech_format=audio_format)
    fake_openai.queue(audio_reply(encoded_audio(audio_format, 1.0), audio_format), kind="speech")

    media = backend.speak(HELLO, style)

    assert fake_openai.requests_to("speech")[0].body["response_format"] == audio_format
    assert is_mp3(media.data)
    # AAC and Opus add a few ms of priming; the duration is what was decoded.
    assert abs(media.metadata["duration_seconds"] - 1.0) < 0.1
    assert abs(seconds_of(media.data) - media.metadata["duration_seconds"]) < 0.1


def test_a_server_answering_in_another_format_than_asked_is_still_decoded(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle
) -> None:
    fake_openai.speech_format = "mp3"  # asked for wav, answers mp3 (some servers do)

    media = backend.speak(HELLO, style)

    assert media.metadata["source_format"] == "mp3"
    assert media.metadata["duration_seconds"] > 0


def test_a_podcast_is_spoken_in_two_voices_turn_by_turn(
    make_backend, fake_openai: FakeOpenAI, style: ContentStyle
) -> None:
    backend = make_backend(speech_voice="alloy", speech_second_voice="echo")
    narration = Narration(
        (
            SpokenLine("narrator", "Rates are up."),
            SpokenLine("second_host", "What does that mean for me?"),
            SpokenLine("narrator", "Dearer loans."),
            SpokenLine("narrator", "This is not financial advice."),
        )
    )
    for seconds in (1.0, 0.5, 0.75):
        fake_openai.queue(audio_reply(encoded_audio("wav", seconds)), kind="speech")

    media = backend.speak(narration, style)

    requests = fake_openai.requests_to("speech")
    assert [(r.body["voice"], r.body["input"]) for r in requests] == [
        ("alloy", "Rates are up."),
        ("echo", "What does that mean for me?"),
        ("alloy", "Dearer loans.\nThis is not financial advice."),
    ]
    assert media.metadata["voices"] == {"narrator": "alloy", "second_host": "echo"}
    pauses = 2 * 0.25
    assert media.metadata["duration_seconds"] == pytest.approx(2.25 + pauses, abs=0.01)
    assert abs(seconds_of(media.data) - media.metadata["duration_seconds"]) < 0.1


def test_long_narration_is_spoken_in_pieces_cut_at_sentence_ends(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle
) -> None:
    sentence = "Interest rates shape what borrowing costs for households and firms alike. "
    long = Narration((SpokenLine("narrator", (sentence * 120).strip()),))  # ~9,000 chars

    backend.speak(long, style)

    inputs = [r.body["input"] for r in fake_openai.requests_to("speech")]
    assert len(inputs) == 3
    assert all(len(text) <= 4096 and text.endswith("alike.") for text in inputs)
    assert " ".join(inputs) == long.lines[0].text


def test_speech_instructions_can_be_left_out(
    make_backend, fake_openai: FakeOpenAI, style: ContentStyle
) -> None:
    make_backend(speech_instructions="false").speak(HELLO, style)

    assert "instructions" not in fake_openai.requests_to("speech")[0].body


# ---- images -------------------------------------------------------------------------------


def test_draw_records_model_and_resolution(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle, brief: SegmentBrief
) -> None:
    media = backend.draw("a calm chart", brief, style)

    assert (media.content_type, media.extension) == ("image/png", "png")
    assert Image.open(io.BytesIO(media.data)).size == (640, 360)
    assert media.metadata == {"width": 640, "height": 360, "model": "image-test", "size": "640x360"}
    [request] = fake_openai.requests_to("images")
    assert request.path == "/v1/images/generations"
    assert request.body == {
        "model": "image-test",
        "prompt": "a calm chart",
        "size": "640x360",
        "n": 1,
    }


def test_draw_fetches_an_image_given_by_url_without_the_key(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_openai.image_urls = True

    media = backend.draw("a calm chart", brief, style)

    assert (media.metadata["width"], media.metadata["height"]) == (640, 360)
    [download] = fake_openai.requests_to("files")
    assert "authorization" not in download.headers, "a signed link needs no API key"


def test_draw_keeps_jpeg_and_turns_other_formats_into_png(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_openai.queue(
        image_reply(png_bytes(320, 240, "JPEG")), image_reply(png_bytes(64, 48, "BMP"))
    )

    jpeg = backend.draw("a chart", brief, style)
    bmp = backend.draw("a chart", brief, style)

    assert (jpeg.content_type, jpeg.extension, jpeg.metadata["width"]) == ("image/jpeg", "jpg", 320)
    assert (bmp.content_type, bmp.extension) == ("image/png", "png")
    assert Image.open(io.BytesIO(bmp.data)).format == "PNG"


def test_a_revised_prompt_is_kept(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle, brief: SegmentBrief
) -> None:
    png = image_reply(png_bytes(64, 64)).body
    png["data"][0]["revised_prompt"] = "A calm bar chart in muted blues."
    fake_openai.queue(Reply(body=png))

    media = backend.draw("a chart", brief, style)

    assert media.metadata["revised_prompt"] == "A calm bar chart in muted blues."


# ---- the model check ------------------------------------------------------------------------


def test_models_are_checked_once_per_server(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle, brief: SegmentBrief
) -> None:
    backend.segment(TEXT, 2, style, "en")
    backend.narrate(brief, AudioType.FREE_SPEECH, style)
    backend.speak(HELLO, style)
    backend.draw("a chart", brief, style)

    [listing] = fake_openai.requests_to("models")
    assert listing.path == "/v1/models"
    assert fake_openai.requests[0] is listing, "checked before the first generation call"


@pytest.mark.parametrize("kind", ["text", "speech", "image"])
def test_a_model_the_server_does_not_offer_fails_at_the_first_call(
    make_backend, fake_openai: FakeOpenAI, style: ContentStyle, kind: str
) -> None:
    backend = make_backend(**{f"{kind}_model": "no-such-model"})

    with pytest.raises(BackendMisconfigured) as caught:
        backend.segment(TEXT, 2, style, "en")

    message = caught.value.message
    assert "'no-such-model'" in message and fake_openai.base_url in message
    assert f"STORIES_OPENAI_{kind.upper()}_MODEL" in message
    assert "text-test" in message, "it names the models the server does offer"
    assert (caught.value.code, caught.value.retryable) == ("BACKEND_MISCONFIGURED", False)
    assert fake_openai.generation_requests == [], "nothing was generated"


def test_a_missing_model_is_looked_up_again_once_pulled(
    make_backend, fake_openai: FakeOpenAI, style: ContentStyle
) -> None:
    backend = make_backend(text_model="llama3.2")
    with pytest.raises(BackendMisconfigured):
        backend.segment(TEXT, 2, style, "en")

    fake_openai.models.add("llama3.2:latest")  # `ollama pull llama3.2` lists it so

    assert backend.segment(TEXT, 2, style, "en")


def test_a_server_without_a_model_list_is_taken_at_its_word(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle
) -> None:
    fake_openai.lists_models = False

    assert backend.segment(TEXT, 2, style, "en")
    assert backend.segment(TEXT, 2, style, "en")

    assert len(fake_openai.requests_to("models")) == 1


def test_a_model_unknown_to_a_server_without_a_model_list_is_named(
    make_backend, fake_openai: FakeOpenAI, style: ContentStyle
) -> None:
    fake_openai.lists_models = False
    backend = make_backend(text_model="no-such-model")

    with pytest.raises(BackendMisconfigured) as caught:
        backend.segment(TEXT, 2, style, "en")

    assert "'no-such-model'" in caught.value.message
    assert "STORIES_OPENAI_TEXT_MODEL" in caught.value.message


# ---- three servers, and the local parts -----------------------------------------------------


def test_each_endpoint_goes_to_its_own_server_with_its_own_key(
    style: ContentStyle, brief: SegmentBrief
) -> None:
    text, speech, image = (FakeOpenAI(api_key=f"sk-{n}-key").start() for n in ("t", "s", "i"))
    try:
        backend = OpenAIBackendFactory().create(
            text.environ(
                api_key="",
                text_base_url=text.base_url,
                text_api_key="sk-t-key",
                speech_base_url=speech.base_url,
                speech_api_key="sk-s-key",
                image_base_url=image.base_url,
                image_api_key="sk-i-key",
            )
        )
        backend.segment(TEXT, 2, style, "en")
        backend.speak(HELLO, style)
        backend.draw("a chart", brief, style)
    finally:
        for fake in (text, speech, image):
            fake.stop()

    assert [r.kind for r in text.requests] == ["models", "chat"]
    assert [r.kind for r in speech.requests] == ["models", "speech"]
    assert [r.kind for r in image.requests] == ["models", "images"]


def test_a_text_only_server_makes_a_whole_story_with_local_speech_and_images(
    make_backend, fake_openai: FakeOpenAI, style: ContentStyle, brief: SegmentBrief
) -> None:
    backend = make_backend(
        speech="local", images="local", speech_model="elsewhere", image_model="elsewhere"
    )

    narration = backend.narrate(brief, AudioType.PODCAST, style)
    audio = backend.speak(narration, style)
    prompt = backend.image_prompt(brief, style)
    image = backend.draw(prompt, brief, style)

    assert is_mp3(audio.data) and audio.metadata["duration_seconds"] > 0
    assert "spoken_text" in audio.metadata, "eSpeak NG (the local backend) spoke it"
    assert Image.open(io.BytesIO(image.data)).size == (1024, 576)
    assert [r.kind for r in fake_openai.requests] == ["models", "chat"]
    assert backend.speaks("en") and not backend.speaks("ja")


def test_with_openai_speech_every_language_is_the_servers_to_judge(
    backend: OpenAIBackend,
) -> None:
    assert backend.speaks("ja") and backend.speaks("en")
