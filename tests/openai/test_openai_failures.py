"""How the backend fails: retried when trying again may help, a clear domain error otherwise."""

from __future__ import annotations

import logging
import socket
import time
import traceback
from collections.abc import Callable

import pytest
from fake_openai_api import (
    FAKE_API_KEY,
    FakeOpenAI,
    Reply,
    audio_reply,
    chat_reply,
    content_policy,
    error_reply,
    image_reply,
    invalid_key,
    json_reply,
    out_of_quota,
    rate_limited,
    refused,
    server_error,
)
from stories_openai import OpenAIBackend, OpenAIBackendFactory

from stories_core.errors import ContentBlocked, GenerationError, ModelOutputInvalid
from stories_core.generation import ContentStyle, Narration, SegmentBrief, SpokenLine
from stories_core.model import AudioType

TEXT = "One sentence here. Another one there. A third to finish."
HELLO = Narration((SpokenLine("narrator", "Hello"),))


def narrate(backend: OpenAIBackend, brief: SegmentBrief, style: ContentStyle) -> Narration:
    return backend.narrate(brief, AudioType.FREE_SPEECH, style)


# ---- retried -----------------------------------------------------------------------------


def test_a_429_with_retry_after_is_retried_after_the_pause_then_succeeds(
    make_backend, fake_openai: FakeOpenAI, style: ContentStyle
) -> None:
    backend = make_backend(backoff_max_seconds="1")
    fake_openai.queue(rate_limited(retry_after="0.3"), kind="chat")

    started = time.monotonic()
    spans = backend.segment(TEXT, 2, style, "en")

    assert spans
    assert time.monotonic() - started >= 0.3, "Retry-After was honoured"
    assert len(fake_openai.requests_to("chat")) == 2


def test_retry_after_ms_is_honoured(
    make_backend, fake_openai: FakeOpenAI, style: ContentStyle, brief: SegmentBrief
) -> None:
    backend = make_backend(backoff_max_seconds="1")
    fake_openai.queue(rate_limited(retry_after_ms="300"), kind="chat")

    started = time.monotonic()
    narrate(backend, brief, style)

    assert time.monotonic() - started >= 0.3
    assert len(fake_openai.requests_to("chat")) == 2


def test_retry_after_is_capped_by_the_longest_backoff(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_openai.queue(rate_limited(retry_after="3600"), kind="chat")

    started = time.monotonic()
    narrate(backend, brief, style)

    assert time.monotonic() - started < 1, "STORIES_OPENAI_BACKOFF_MAX_SECONDS bounds the wait"


def test_5xx_until_retries_run_out_is_backend_unavailable(
    backend: OpenAIBackend,
    fake_openai: FakeOpenAI,
    style: ContentStyle,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_openai.always(server_error(503), kind="chat")

    with caplog.at_level(logging.WARNING), pytest.raises(GenerationError) as caught:
        backend.segment(TEXT, 2, style, "en")

    assert caught.value.code == "BACKEND_UNAVAILABLE"
    assert caught.value.retryable is True
    assert "503" in caught.value.message and fake_openai.base_url in caught.value.message
    assert len(fake_openai.requests_to("chat")) == 3  # STORIES_OPENAI_MAX_ATTEMPTS
    assert len([r for r in caplog.records if "retrying" in r.getMessage()]) == 2


@pytest.mark.parametrize("status", [500, 502, 504, 408, 409])
def test_each_transient_status_is_retried(
    backend: OpenAIBackend,
    fake_openai: FakeOpenAI,
    style: ContentStyle,
    brief: SegmentBrief,
    status: int,
) -> None:
    fake_openai.queue(server_error(status), kind="chat")

    narrate(backend, brief, style)

    assert len(fake_openai.requests_to("chat")) == 2


@pytest.mark.parametrize(
    "reply",
    [
        Reply(status=502, raw=b"<html>upstream reset</html>", content_type="text/html"),
        Reply(raw=b"<html>upstream reset</html>", content_type="text/html"),
        Reply(raw=b'{"id": "chatcmpl-1", "choices": ['),  # cut off mid-body
    ],
    ids=["502-html", "200-html", "cut-off"],
)
def test_a_body_that_is_not_json_is_retried(
    backend: OpenAIBackend,
    fake_openai: FakeOpenAI,
    style: ContentStyle,
    brief: SegmentBrief,
    reply: Reply,
) -> None:
    fake_openai.queue(reply, kind="chat")

    narrate(backend, brief, style)

    assert len(fake_openai.requests_to("chat")) == 2


def test_a_timeout_is_retried(
    make_backend, fake_openai: FakeOpenAI, style: ContentStyle, brief: SegmentBrief
) -> None:
    backend = make_backend(timeout_seconds="0.3")
    fake_openai.queue(Reply(body={}, delay=0.6), kind="chat")

    narration = narrate(backend, brief, style)

    assert not narration.is_empty
    assert len(fake_openai.requests_to("chat")) == 2


def test_an_unreachable_server_is_backend_unavailable(
    fake_openai: FakeOpenAI, style: ContentStyle
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = OpenAIBackendFactory().create(
        fake_openai.environ(base_url=f"http://127.0.0.1:{port}/v1")
    )

    with pytest.raises(GenerationError) as caught:
        backend.segment(TEXT, 2, style, "en")

    assert (caught.value.code, caught.value.retryable) == ("BACKEND_UNAVAILABLE", True)
    assert f"127.0.0.1:{port}" in caught.value.message


@pytest.mark.parametrize(
    "call",
    [
        lambda b, s, br: b.segment(TEXT, 2, s, "en"),
        lambda b, s, br: b.image_prompt(br, s),
        lambda b, s, br: b.speak(HELLO, s),
        lambda b, s, br: b.draw("a scene", br, s),
    ],
    ids=["segment", "image_prompt", "speak", "draw"],
)
def test_every_call_goes_through_the_retry_layer(
    backend: OpenAIBackend,
    fake_openai: FakeOpenAI,
    style: ContentStyle,
    brief: SegmentBrief,
    call: Callable[..., object],
) -> None:
    fake_openai.queue(server_error(503))

    call(backend, style, brief)

    assert len(fake_openai.generation_requests) == 2


def test_the_model_list_goes_through_the_retry_layer(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle
) -> None:
    fake_openai.queue(rate_limited(), kind="models")

    backend.segment(TEXT, 2, style, "en")

    assert len(fake_openai.requests_to("models")) == 2


def test_an_image_url_that_fails_for_a_while_is_fetched_again(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_openai.image_urls = True
    fake_openai.queue(server_error(503), kind="files")

    media = backend.draw("a scene", brief, style)

    assert media.metadata["width"] == 640
    assert len(fake_openai.requests_to("files")) == 2
    assert len(fake_openai.requests_to("images")) == 1, "the image is not drawn twice"


# ---- not retried ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [invalid_key(), error_reply(403, "Project does not have access.", code="forbidden")],
    ids=["401", "403"],
)
def test_a_bad_key_fails_at_once_and_is_not_retried(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle, reply: Reply
) -> None:
    fake_openai.queue(reply, kind="chat")

    with pytest.raises(GenerationError) as caught:
        backend.segment(TEXT, 2, style, "en")

    assert (caught.value.code, caught.value.retryable) == ("BACKEND_AUTH_FAILED", False)
    assert "STORIES_OPENAI_API_KEY" in caught.value.message
    assert len(fake_openai.requests_to("chat")) == 1


def test_a_wrong_key_fails_up_front_naming_the_endpoints_key(
    make_backend, fake_openai: FakeOpenAI, style: ContentStyle
) -> None:
    backend = make_backend(text_api_key="sk-wrong-key-for-text")

    with pytest.raises(GenerationError) as caught:
        backend.segment(TEXT, 2, style, "en")

    assert (caught.value.code, caught.value.retryable) == ("BACKEND_AUTH_FAILED", False)
    assert "STORIES_OPENAI_TEXT_API_KEY" in caught.value.message
    assert "401" in caught.value.message
    assert [r.kind for r in fake_openai.requests] == ["models"]


def test_another_client_error_is_rejected_without_retry(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_openai.queue(error_reply(400, "'messages' must contain at least one item."))

    with pytest.raises(GenerationError) as caught:
        narrate(backend, brief, style)

    assert (caught.value.code, caught.value.retryable) == ("BACKEND_REJECTED", False)
    assert "at least one item" in caught.value.message
    assert len(fake_openai.generation_requests) == 1


def test_a_spent_quota_is_not_retried_but_may_be_later(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_openai.queue(out_of_quota())

    with pytest.raises(GenerationError) as caught:
        narrate(backend, brief, style)

    assert (caught.value.code, caught.value.retryable) == ("BACKEND_UNAVAILABLE", True)
    assert "insufficient_quota" in caught.value.message
    assert len(fake_openai.generation_requests) == 1


# ---- refusals -----------------------------------------------------------------------------


def test_an_image_refused_by_the_content_policy_is_content_blocked(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_openai.queue(content_policy(), kind="images")

    with pytest.raises(ContentBlocked) as caught:
        backend.draw("a scene", brief, style)

    assert (caught.value.code, caught.value.retryable) == ("CONTENT_BLOCKED", False)
    assert "content_policy_violation" in caught.value.message
    assert len(fake_openai.requests_to("images")) == 1


@pytest.mark.parametrize(
    "reply",
    [
        refused("I can't help with that request."),
        chat_reply(None, finish_reason="content_filter"),
        error_reply(400, "The response was filtered.", code="content_filter"),
    ],
    ids=["refusal", "finish_reason", "azure_filter"],
)
def test_a_refused_text_is_content_blocked(
    backend: OpenAIBackend,
    fake_openai: FakeOpenAI,
    style: ContentStyle,
    brief: SegmentBrief,
    reply: Reply,
) -> None:
    fake_openai.queue(reply, kind="chat")

    with pytest.raises(ContentBlocked):
        backend.narrate(brief, AudioType.PODCAST, style)

    assert len(fake_openai.requests_to("chat")) == 1


def test_a_failed_call_is_never_partial(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_openai.queue(refused())
    result: list[object] = []

    with pytest.raises(ContentBlocked):
        result.append(backend.narrate(brief, AudioType.PODCAST, style))

    assert result == []


# ---- unusable output ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        chat_reply('{"segments": [{"title": "A", "start": 0, "end": '),  # cut-off JSON
        chat_reply("Sure! Here are your segments: first, second."),  # prose, not JSON
        json_reply({"segments": [{"title": "A", "start": "zero", "end": 4}]}),  # wrong type
        json_reply({"segments": []}),  # no spans at all
        json_reply({"parts": []}),  # wrong shape
        chat_reply("", finish_reason="stop"),  # nothing
        chat_reply('{"segments": [', finish_reason="length"),  # cut off at the token limit
        Reply(
            body={"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}
        ),  # no choice
        Reply(body={"choices": "none"}),  # not a completion at all
        Reply(body={"choices": [{"message": "hi"}]}),  # a message that is not one
        Reply(body={"choices": [{"message": {"content": 5}}]}),  # content that is no text
    ],
    ids=[
        "cut-off",
        "prose",
        "wrong-type",
        "empty-list",
        "wrong-shape",
        "empty",
        "length",
        "no-choices",
        "not-a-completion",
        "not-a-message",
        "not-text",
    ],
)
def test_malformed_segmentation_is_model_output_invalid(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle, reply: Reply
) -> None:
    fake_openai.queue(reply, kind="chat")

    with pytest.raises(ModelOutputInvalid) as caught:
        backend.segment(TEXT, 2, style, "en")

    assert (caught.value.code, caught.value.retryable) == ("MODEL_OUTPUT_INVALID", False)
    assert len(fake_openai.requests_to("chat")) == 1


def test_a_podcast_script_with_an_unknown_speaker_is_invalid(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle, brief: SegmentBrief
) -> None:
    fake_openai.queue(json_reply({"lines": [{"speaker": "guest", "text": "Hi"}]}))

    with pytest.raises(ModelOutputInvalid):
        backend.narrate(brief, AudioType.PODCAST, style)


@pytest.mark.parametrize(
    "reply",
    [
        audio_reply(b"", "mp3"),  # nothing
        audio_reply(b"<html>not audio</html>" * 20, "mp3"),  # an error page with a 200
        Reply(body={"error": None, "note": "JSON, not audio"}),
        audio_reply(b"RIFF\x24\x00\x00\x00WAVEfmt ", "wav"),  # a WAV header, no samples
    ],
    ids=["empty", "html", "json", "header-only"],
)
def test_speech_without_usable_audio_is_invalid(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle, reply: Reply
) -> None:
    fake_openai.queue(reply, kind="speech")

    with pytest.raises(ModelOutputInvalid):
        backend.speak(HELLO, style)


@pytest.mark.parametrize(
    "reply",
    [
        image_reply(b"<html>not a picture</html>"),
        Reply(body={"created": 0, "data": [{"b64_json": "%%% not base64 %%%"}]}),
        Reply(body={"created": 0, "data": []}),
        Reply(body={"created": 0, "data": [{}]}),
        Reply(body={"created": 0, "data": "none"}),
        Reply(body={"created": 0, "data": [{"url": "file:///etc/passwd"}]}),
    ],
    ids=["not-an-image", "not-base64", "no-data", "neither", "not-a-list", "file-url"],
)
def test_an_image_answer_that_is_not_an_image_is_invalid(
    backend: OpenAIBackend,
    fake_openai: FakeOpenAI,
    style: ContentStyle,
    brief: SegmentBrief,
    reply: Reply,
) -> None:
    fake_openai.queue(reply, kind="images")

    with pytest.raises(ModelOutputInvalid):
        backend.draw("a scene", brief, style)


def test_empty_narration_is_not_sent_to_speech(
    backend: OpenAIBackend, fake_openai: FakeOpenAI, style: ContentStyle
) -> None:
    with pytest.raises(GenerationError, match="empty"):
        backend.speak(Narration((SpokenLine("narrator", "  "),)), style)
    assert fake_openai.requests == []


def test_a_voice_the_server_lacks_is_rejected_naming_it(
    make_backend, fake_openai: FakeOpenAI, style: ContentStyle
) -> None:
    backend = make_backend(speech_voice="nova-but-misspelt")

    with pytest.raises(GenerationError) as caught:
        backend.speak(HELLO, style)

    assert caught.value.code == "BACKEND_REJECTED"
    assert "nova-but-misspelt" in caught.value.message


# ---- the key -------------------------------------------------------------------------------


def _everything_said_about(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + repr(vars(exc))


@pytest.mark.parametrize(
    "reply",
    [
        error_reply(400, f"bad request from key {FAKE_API_KEY}"),
        error_reply(403, f"key {FAKE_API_KEY} is not allowed"),
        error_reply(503, f"overloaded, key {FAKE_API_KEY}", type="server_error"),
        error_reply(
            404, f"The model `x` does not exist for {FAKE_API_KEY}", code="model_not_found"
        ),
    ],
    ids=["400", "403", "503", "404"],
)
def test_the_key_never_appears_in_errors_or_logs(
    backend: OpenAIBackend,
    fake_openai: FakeOpenAI,
    style: ContentStyle,
    caplog: pytest.LogCaptureFixture,
    reply: Reply,
) -> None:
    fake_openai.always(reply, kind="chat")  # a server that (wrongly) echoes the key back

    with caplog.at_level(logging.DEBUG), pytest.raises(GenerationError) as caught:
        backend.segment(TEXT, 2, style, "en")

    assert FAKE_API_KEY not in _everything_said_about(caught.value)
    assert "[redacted]" in caught.value.message
    assert FAKE_API_KEY not in caplog.text


def test_the_key_is_not_in_media_metadata(
    backend: OpenAIBackend, style: ContentStyle, brief: SegmentBrief
) -> None:
    audio = backend.speak(HELLO, style)
    image = backend.draw("a scene", brief, style)

    for media in (audio, image):
        assert FAKE_API_KEY not in repr(media.metadata)
