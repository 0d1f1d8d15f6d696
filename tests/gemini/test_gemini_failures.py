"""How the backend fails: retried when trying again may help, a clear domain error otherwise."""

from __future__ import annotations

import logging
import socket
import time
import traceback
from collections.abc import Callable

import pytest
from fake_gemini_api import (
    FAKE_API_KEY,
    FakeGemini,
    Reply,
    api_key_invalid,
    audio_reply,
    error_reply,
    finished_blocked,
    image_reply,
    imagen_filtered,
    json_reply,
    prompt_blocked,
    rate_limited,
    text_reply,
    unavailable,
)
from stories_gemini import GeminiBackend, GeminiBackendFactory

from stories_core.errors import ContentBlocked, GenerationError, ModelOutputInvalid
from stories_core.generation import ContentStyle, Narration, SegmentBrief, SpokenLine
from stories_core.model import AudioType

TEXT = "One sentence here. Another one there. A third to finish."


def narrate(backend: GeminiBackend, brief: SegmentBrief, style: ContentStyle) -> Narration:
    return backend.narrate(brief, AudioType.FREE_SPEECH, style)


def test_a_429_is_retried_then_succeeds(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle
) -> None:
    fake_gemini.queue(rate_limited())

    spans = backend.segment(TEXT, 2, style, "en")

    assert spans
    assert len(fake_gemini.requests) == 2


def test_the_retry_delay_the_server_asks_for_is_honoured(
    make_backend, fake_gemini: FakeGemini, style: ContentStyle, brief: SegmentBrief
) -> None:
    backend = make_backend(backoff_max_seconds="1")
    fake_gemini.queue(rate_limited(retry_delay="0.3s"))

    started = time.monotonic()
    narrate(backend, brief, style)

    assert time.monotonic() - started >= 0.3
    assert len(fake_gemini.requests) == 2


def test_5xx_until_retries_run_out_is_backend_unavailable(
    backend: GeminiBackend,
    fake_gemini: FakeGemini,
    style: ContentStyle,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_gemini.always(unavailable())

    with caplog.at_level(logging.WARNING), pytest.raises(GenerationError) as caught:
        backend.segment(TEXT, 2, style, "en")

    assert caught.value.code == "BACKEND_UNAVAILABLE"
    assert caught.value.retryable is True
    assert "503" in caught.value.message
    assert len(fake_gemini.requests) == 3  # STORIES_GEMINI_MAX_ATTEMPTS
    assert len([r for r in caplog.records if "retrying" in r.getMessage()]) == 2


@pytest.mark.parametrize("status", [500, 502, 504, 408])
def test_each_transient_status_is_retried(
    backend: GeminiBackend,
    fake_gemini: FakeGemini,
    style: ContentStyle,
    brief: SegmentBrief,
    status: int,
) -> None:
    fake_gemini.queue(error_reply(status, "INTERNAL", "try again"))

    narrate(backend, brief, style)

    assert len(fake_gemini.requests) == 2


def test_a_body_that_is_not_json_is_retried(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_gemini.queue(Reply(raw=b"<html>upstream reset</html>", content_type="text/html"))

    narrate(backend, brief, style)

    assert len(fake_gemini.requests) == 2


def test_a_timeout_is_retried(
    make_backend, fake_gemini: FakeGemini, style: ContentStyle, brief: SegmentBrief
) -> None:
    backend = make_backend(timeout_seconds="0.3")
    fake_gemini.queue(Reply(body={}, delay=0.6))

    narration = narrate(backend, brief, style)

    assert not narration.is_empty
    assert len(fake_gemini.requests) == 2


def test_an_unreachable_server_is_backend_unavailable(
    fake_gemini: FakeGemini, style: ContentStyle
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environ = fake_gemini.environ(base_url=f"http://127.0.0.1:{port}/")
    backend = GeminiBackendFactory().create(environ)

    with pytest.raises(GenerationError) as caught:
        backend.segment(TEXT, 2, style, "en")

    assert (caught.value.code, caught.value.retryable) == ("BACKEND_UNAVAILABLE", True)


@pytest.mark.parametrize(
    "reply",
    [
        api_key_invalid(),
        error_reply(401, "UNAUTHENTICATED", "no"),
        error_reply(403, "PERMISSION_DENIED", "denied"),
    ],
)
def test_a_bad_key_fails_at_once_and_is_not_retried(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle, reply: Reply
) -> None:
    fake_gemini.queue(reply)

    with pytest.raises(GenerationError) as caught:
        backend.segment(TEXT, 2, style, "en")

    assert (caught.value.code, caught.value.retryable) == ("BACKEND_AUTH_FAILED", False)
    assert "STORIES_GEMINI_API_KEY" in caught.value.message
    assert len(fake_gemini.requests) == 1


def test_another_client_error_is_rejected_without_retry(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_gemini.queue(error_reply(404, "NOT_FOUND", "models/gemini-text-test is not found"))

    with pytest.raises(GenerationError) as caught:
        narrate(backend, brief, style)

    assert (caught.value.code, caught.value.retryable) == ("BACKEND_REJECTED", False)
    assert "not found" in caught.value.message
    assert len(fake_gemini.requests) == 1


@pytest.mark.parametrize(
    "reply",
    [
        prompt_blocked("SAFETY"),
        prompt_blocked("PROHIBITED_CONTENT"),
        finished_blocked("SAFETY"),
        finished_blocked("PROHIBITED_CONTENT"),
    ],
)
def test_a_safety_block_is_content_blocked(
    backend: GeminiBackend,
    fake_gemini: FakeGemini,
    style: ContentStyle,
    brief: SegmentBrief,
    reply: Reply,
) -> None:
    fake_gemini.queue(reply)

    with pytest.raises(ContentBlocked) as caught:
        narrate(backend, brief, style)

    assert (caught.value.code, caught.value.retryable) == ("CONTENT_BLOCKED", False)
    assert len(fake_gemini.requests) == 1


def test_a_blocked_image_is_content_blocked(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_gemini.queue(finished_blocked("IMAGE_SAFETY"))

    with pytest.raises(ContentBlocked):
        backend.draw("a scene", brief, style)


@pytest.mark.filterwarnings("ignore:The generate_images method is deprecated")
def test_an_imagen_filtered_image_is_content_blocked(
    make_backend, fake_gemini: FakeGemini, style: ContentStyle, brief: SegmentBrief
) -> None:
    backend = make_backend(image_api="imagen")
    fake_gemini.queue(imagen_filtered("39322892: the prompt violates usage guidelines"))

    with pytest.raises(ContentBlocked) as caught:
        backend.draw("a scene", brief, style)

    assert "39322892" in caught.value.message


@pytest.mark.filterwarnings("ignore:The generate_images method is deprecated")
def test_an_imagen_prompt_refused_by_responsible_ai_is_content_blocked(
    make_backend, fake_gemini: FakeGemini, style: ContentStyle, brief: SegmentBrief
) -> None:
    backend = make_backend(image_api="imagen")
    fake_gemini.queue(
        error_reply(
            400,
            "INVALID_ARGUMENT",
            "Image generation failed with the following error: The prompt could not be "
            "submitted. This prompt contains sensitive words that violate Google's "
            "Responsible AI practices.",
        )
    )

    with pytest.raises(ContentBlocked):
        backend.draw("a scene", brief, style)

    assert len(fake_gemini.requests) == 1


@pytest.mark.parametrize(
    "reply",
    [
        text_reply('{"segments": [{"title": "A", "start": 0, "end": '),  # cut-off JSON
        text_reply("Sure! Here are your segments: first, second."),  # prose, not JSON
        json_reply({"segments": [{"title": "A", "start": "zero", "end": 4}]}),  # wrong type
        json_reply({"segments": []}),  # no spans at all
        json_reply({"parts": []}),  # wrong shape
        text_reply('{"segments": [', finish_reason="MAX_TOKENS"),
    ],
)
def test_malformed_segmentation_is_model_output_invalid(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle, reply: Reply
) -> None:
    fake_gemini.queue(reply)

    with pytest.raises(ModelOutputInvalid) as caught:
        backend.segment(TEXT, 2, style, "en")

    assert (caught.value.code, caught.value.retryable) == ("MODEL_OUTPUT_INVALID", False)
    assert len(fake_gemini.requests) == 1


def test_a_podcast_script_with_an_unknown_speaker_is_invalid(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_gemini.queue(json_reply({"lines": [{"speaker": "guest", "text": "Hi"}]}))

    with pytest.raises(ModelOutputInvalid):
        backend.narrate(brief, AudioType.PODCAST, style)


@pytest.mark.parametrize(
    "reply",
    [
        text_reply("I cannot speak that."),  # text instead of audio
        audio_reply(b"RIFF....WAVEfmt ", mime_type="audio/wav"),  # not raw PCM
        audio_reply(b"\x01"),  # not even one sample
    ],
)
def test_speech_without_usable_audio_is_invalid(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle, reply: Reply
) -> None:
    fake_gemini.queue(reply)

    with pytest.raises(ModelOutputInvalid):
        backend.speak(Narration((SpokenLine("narrator", "Hello"),)), style)


def test_an_image_that_is_not_an_image_is_invalid(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_gemini.queue(image_reply(b"<html>not a picture</html>"))

    with pytest.raises(ModelOutputInvalid):
        backend.draw("a scene", brief, style)


def test_empty_narration_is_not_sent_to_speech(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle
) -> None:
    with pytest.raises(GenerationError, match="empty"):
        backend.speak(Narration((SpokenLine("narrator", "  "),)), style)
    assert fake_gemini.requests == []


def _everything_said_about(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + repr(vars(exc))


@pytest.mark.parametrize(
    "reply",
    [
        error_reply(400, "INVALID_ARGUMENT", f"bad request from key {FAKE_API_KEY}"),
        error_reply(403, "PERMISSION_DENIED", f"key {FAKE_API_KEY} is not allowed"),
        error_reply(503, "UNAVAILABLE", f"overloaded, key {FAKE_API_KEY}"),
    ],
)
def test_the_key_never_appears_in_errors_or_logs(
    backend: GeminiBackend,
    fake_gemini: FakeGemini,
    style: ContentStyle,
    caplog: pytest.LogCaptureFixture,
    reply: Reply,
) -> None:
    fake_gemini.always(reply)  # a server that (wrongly) echoes the key back

    with caplog.at_level(logging.DEBUG), pytest.raises(GenerationError) as caught:
        backend.segment(TEXT, 2, style, "en")

    assert FAKE_API_KEY not in _everything_said_about(caught.value)
    assert "[redacted]" in caught.value.message
    assert FAKE_API_KEY not in caplog.text


def test_the_key_is_not_in_media_metadata(
    backend: GeminiBackend, style: ContentStyle, brief: SegmentBrief
) -> None:
    audio = backend.speak(Narration((SpokenLine("narrator", "Hello"),)), style)
    image = backend.draw("a scene", brief, style)

    for media in (audio, image):
        assert FAKE_API_KEY not in repr(media.metadata)


def test_a_failed_call_is_never_partial(
    backend: GeminiBackend, fake_gemini: FakeGemini, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_gemini.queue(finished_blocked("SAFETY"))
    result: list[object] = []

    with pytest.raises(ContentBlocked):
        result.append(backend.narrate(brief, AudioType.PODCAST, style))

    assert result == []


@pytest.mark.parametrize(
    "call",
    [
        lambda b, s, br: b.segment(TEXT, 2, s, "en"),
        lambda b, s, br: b.image_prompt(br, s),
        lambda b, s, br: b.speak(Narration((SpokenLine("narrator", "Hi"),)), s),
        lambda b, s, br: b.draw("a scene", br, s),
    ],
    ids=["segment", "image_prompt", "speak", "draw"],
)
def test_every_call_goes_through_the_retry_layer(
    backend: GeminiBackend,
    fake_gemini: FakeGemini,
    style: ContentStyle,
    brief: SegmentBrief,
    call: Callable[..., object],
) -> None:
    fake_gemini.queue(unavailable())

    call(backend, style, brief)

    assert len(fake_gemini.requests) == 2
