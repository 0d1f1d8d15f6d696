"""The shared prompts and answer models every language-model backend uses."""

import pytest
from pydantic import ValidationError

from stories_core.errors import ModelOutputInvalid
from stories_core.generation import ContentStyle, SegmentBrief, SegmentSpan, SpokenLine, Voices
from stories_core.model import AudioType
from stories_core.prompting import (
    PodcastScript,
    SegmentPlan,
    answer_model,
    language_name,
    narrated,
    podcast,
    segmentation,
    unasked_narration,
    unwrapped_json,
)

STYLE = ContentStyle(
    name="educational",
    description="a lesson",
    tone="Clear and friendly.",
    image_style="flat illustration",
    voices=Voices(narrator_name="Ada", second_host_name="Ben"),
    disclaimer="Not advice.",
)
BRIEF = SegmentBrief(index=0, count=2, title="Start", text="Bonjour le monde.", language="fr")


def test_segmentation_prompt_names_the_language_and_the_picture_count() -> None:
    prompt = segmentation("Bonjour le monde. Au revoir.", 3, STYLE, "fr")
    assert "at most 3 segments" in prompt.user
    assert "exactly 3 if the text has room" in prompt.user
    assert "Titles are in French (fr), the language of the text." in prompt.user
    assert "the last ends at 28" in prompt.user
    assert "educational (a lesson)" in prompt.system


def test_podcast_prompt_names_both_speakers() -> None:
    prompt = podcast(BRIEF, STYLE)
    assert 'Ada (speaker "narrator")' in prompt.system
    assert 'Ben (speaker "second_host")' in prompt.system
    assert "Write in French (fr)" in prompt.system
    assert "Do not add a disclaimer" in prompt.system
    assert "This is part 1 of 2" in prompt.user and "Bonjour le monde." in prompt.user


def test_the_plan_rejects_an_empty_segment_list() -> None:
    with pytest.raises(ValidationError):
        SegmentPlan.model_validate({"segments": []})
    with pytest.raises(ModelOutputInvalid, match="segments"):
        answer_model('{"segments": []}', SegmentPlan, "segmentation", "the model's")


def test_answers_map_to_spans_and_lines_and_the_disclaimer_is_appended() -> None:
    plan = SegmentPlan.model_validate_json('{"segments": [{"title": " A ", "start": 0, "end": 5}]}')
    assert plan.spans() == [SegmentSpan(0, 5, "A")]
    script = PodcastScript.model_validate({"lines": [{"speaker": "second_host", "text": " Hi "}]})
    assert script.spoken_lines() == [SpokenLine("second_host", "Hi")]
    told = narrated(script.spoken_lines(), STYLE, "fr")
    assert told.lines[-1] == SpokenLine("narrator", "Not advice.") and told.language == "fr"


def test_lenient_json_and_language_names() -> None:
    assert unwrapped_json('```json\n{"a": 1}\n```') == '{"a": 1}'
    assert unwrapped_json('Here it is: {"a": 1} done') == '{"a": 1}'
    assert language_name("zh-Hant") == "Chinese (Traditional) (zh-Hant)"
    assert language_name("not a tag") == "not a tag"


def test_no_model_is_asked_for_no_audio_or_the_text_as_written() -> None:
    assert unasked_narration(BRIEF, AudioType.NONE).lines == ()
    verbatim = unasked_narration(BRIEF, AudioType.VERBATIM)
    assert verbatim.lines == (SpokenLine("narrator", "Bonjour le monde."),)
    assert verbatim.language == "fr"
    assert unasked_narration(BRIEF, AudioType.PODCAST) is None
