"""Caption cues from timings: sentences, two lines of 42 columns, about 7 seconds, never a
split word; files that WebVTT and SubRip parsers read back."""

from __future__ import annotations

from itertools import pairwise

import srt
import webvtt
from hypothesis import given, settings
from hypothesis import strategies as st
from icu4py.breakers import LineBreaker

from stories_adapters.subtitles import to_srt, to_webvtt
from stories_core.captions import Cue, cues, story_cues
from stories_core.generation import Voices
from stories_core.timing import ENGINE, TimedSpan, Timings, estimate

LONG = (
    "The solar system formed about four and a half billion years ago from a cloud of gas "
    "and dust that collapsed under its own gravity, spinning faster and faster."
)


def said(text: str, start: float, seconds_per_word: float, line: int = 0) -> Timings:
    """Engine-like timings: each word the same length, the sentence from its first to last."""
    words = text.split()
    spans = tuple(
        TimedSpan(word, start + i * seconds_per_word, start + (i + 1) * seconds_per_word, line)
        for i, word in enumerate(words)
    )
    sentence = TimedSpan(text, start, spans[-1].end, line)
    return Timings(ENGINE, (sentence,), spans)


def test_a_long_sentence_is_cut_between_words_into_two_line_cues() -> None:
    found = cues(said(LONG, 0.0, 0.3))
    assert len(found) == 2
    for cue in found:
        assert len(cue.lines) <= 2 and all(len(line) <= 42 for line in cue.lines)
        assert cue.end - cue.start <= 7.0
    assert " ".join(line for cue in found for line in cue.lines) == LONG
    assert found[0].start == 0.0 and found[-1].end == round(len(LONG.split()) * 0.3, 3)
    assert found[0].end == found[1].start  # cut where a word starts
    assert found[0].lines == (  # as even as two lines can be
        "The solar system formed about four and",
        "a half billion years ago from a cloud of",
    )


def test_a_slow_sentence_is_cut_so_no_cue_lasts_more_than_seven_seconds() -> None:
    found = cues(said("One two three four five six seven eight nine ten.", 0.0, 1.5))
    assert len(found) >= 3
    assert all(cue.end - cue.start <= 7.0 for cue in found)


def test_a_word_longer_than_a_line_is_never_split() -> None:
    word = "pneumonoultramicroscopicsilicovolcanoconiosis-and-then-some"
    found = cues(said(f"It is {word} indeed.", 0.0, 0.4))
    assert any(word in line for cue in found for line in cue.lines)


def test_chinese_is_cut_between_characters_and_a_wide_character_takes_two_columns() -> None:
    text = "太阳是一颗恒星，它的质量占整个太阳系总质量的百分之九十九点八六，是太阳系的中心天体。"  # noqa: RUF001
    found = cues(Timings(ENGINE, (TimedSpan(text, 0.0, 9.0),)), "zh")
    assert "".join(line for cue in found for line in cue.lines) == text
    assert all(2 * len(line) <= 42 for cue in found for line in cue.lines)
    assert not any(line.startswith(("，", "。")) for cue in found for line in cue.lines)  # noqa: RUF001


def test_a_podcast_names_its_speakers_in_both_files() -> None:
    timings = Timings(
        ENGINE,
        (
            TimedSpan("Rates are up.", 0.0, 1.2, 0, "narrator", "Ada"),
            TimedSpan("What does it mean?", 1.5, 2.8, 1, "second_host", "Ben"),
        ),
    )
    found = cues(timings)
    assert [cue.speaker for cue in found] == ["Ada", "Ben"]
    vtt = webvtt.from_string(to_webvtt(found))
    assert [(c.voice, c.text) for c in vtt] == [
        ("Ada", "Rates are up."),
        ("Ben", "What does it mean?"),
    ]
    subtitles = list(srt.parse(to_srt(found)))
    assert [s.content for s in subtitles] == ["Ada: Rates are up.", "Ben: What does it mean?"]
    assert subtitles[1].start.total_seconds() == 1.5


def test_one_voice_names_no_speaker() -> None:
    assert all(cue.speaker is None for cue in cues(said(LONG, 0.0, 0.3)))


def test_cue_text_is_escaped_in_webvtt_and_kept_in_srt() -> None:
    found = [Cue(0.0, 1.0, ("AT&T <b>rises</b>",))]
    assert "AT&amp;T &lt;b&gt;rises&lt;/b&gt;" in to_webvtt(found)
    assert next(srt.parse(to_srt(found))).content == "AT&T <b>rises</b>"


def test_a_storys_cues_start_at_each_segments_start() -> None:
    first, second = said("First part here.", 0.0, 0.5), said("Second part.", 0.0, 0.5)
    found = story_cues([(0.0, first), (4.25, second)])
    assert [(cue.start, cue.end) for cue in found] == [(0.0, 1.5), (4.25, 5.25)]


texts = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=18), min_size=1, max_size=60
)


@settings(max_examples=200, deadline=None)
@given(sentences=st.lists(texts, min_size=1, max_size=5), pace=st.floats(0.05, 1.2))
def test_cues_keep_every_rule_for_any_sentences(sentences: list[list[str]], pace: float) -> None:
    at, spans, words = 0.0, [], []
    for tokens in sentences:
        one = said(" ".join(tokens), at, pace)
        spans += one.sentences
        words += one.words
        at = one.sentences[0].end + 0.3
    found = cues(Timings(ENGINE, tuple(spans), tuple(words)))
    assert [w for cue in found for line in cue.lines for w in line.split()] == [
        w for tokens in sentences for w in tokens
    ], "every word, whole, in order"
    for cue in found:
        assert 1 <= len(cue.lines) <= 2
        assert all(len(line) <= 42 for line in cue.lines)
        assert cue.end - cue.start <= max(7.0, pace) + 1e-3  # times in whole milliseconds
        assert 0 <= cue.start < cue.end <= at
    assert all(a.end <= b.start for a, b in pairwise(found))


def test_timings_survive_the_assets_metadata() -> None:
    timings = estimate([("narrator", "One two. Three."), ("second_host", "Four!")], 4.0, "en")
    metadata = timings.to_metadata(Voices(narrator_name="Ada", second_host_name="Ben"))
    back = Timings.from_metadata(metadata)
    assert back is not None and back.source == "estimated"
    assert [(s.text, s.line, s.role, s.speaker) for s in back.sentences] == [
        ("One two.", 0, "narrator", "Ada"),
        ("Three.", 0, "narrator", "Ada"),
        ("Four!", 1, "second_host", "Ben"),
    ]
    assert back.sentences[-1].end == 4.0
    assert Timings.from_metadata({"duration_seconds": 3.0}) is None


def test_an_opening_bracket_goes_with_what_follows_it() -> None:
    text = "他说：「你好」。（注释）很重要的内容在这里，还有更多的文字需要换行显示出来。"  # noqa: RUF001
    found = cues(Timings(ENGINE, (TimedSpan(text, 0.0, 6.0),)), "zh", max_chars=12)
    lines = [line for cue in found for line in cue.lines]
    assert "".join(lines) == text
    assert not any(line.endswith(("「", "（")) for line in lines), lines  # noqa: RUF001
    assert not any(line.startswith(("」", "）", "。", "，")) for line in lines), lines  # noqa: RUF001


def test_thai_is_cut_between_its_words_though_it_has_no_spaces() -> None:
    text = "ภาษาไทยเป็นภาษาที่ไม่มีการเว้นวรรคระหว่างคำแต่ก็ยังต้องตัดบรรทัดให้ถูกตำแหน่งของคำเสมอ"
    found = cues(Timings(ENGINE, (TimedSpan(text, 0.0, 6.0),)), "th", max_chars=20)
    lines = [line for cue in found for line in cue.lines]
    assert "".join(lines) == text and len(lines) > 1
    words = set(LineBreaker(text, "th"))  # ICU's dictionary words
    for line in lines:
        assert any(line.startswith(word) for word in words), line


def test_a_speakers_name_counts_in_the_first_lines_width() -> None:
    words = "Rates are up again this quarter and the bank says more rises are coming soon."
    narrator = Timings(ENGINE, (TimedSpan(words, 0.0, 5.0, 0, "narrator", "Alexandra"),))
    host = Timings(ENGINE, (TimedSpan("Oh.", 5.0, 6.0, 1, "second_host", "Sam"),))
    found = story_cues([(0.0, narrator), (0.0, host)])
    first = found[0]
    assert first.speaker == "Alexandra"
    assert len(f"{first.speaker}: {first.lines[0]}") <= 42
    assert all(len(line) <= 42 for line in first.lines[1:])


def test_a_number_stays_with_the_word_after_it() -> None:
    text = "Der Umsatz stieg am 15. März 2024 auf insgesamt 1.250.000 € und dann auf $3.1 million."
    found = cues(Timings(ENGINE, (TimedSpan(text, 0.0, 6.0),)), "de", max_chars=16)
    lines = [line for cue in found for line in cue.lines]
    assert " ".join(lines) == text
    for kept in ("15. März", "2024 auf", "1.250.000 €", "$3.1 million."):
        assert any(kept in line for line in lines), (kept, lines)


def test_a_heading_is_a_sentence_of_its_own_when_timings_are_estimated() -> None:
    timings = estimate([("narrator", "# The Moon\n\nIt circles the Earth.")], 3.0, "en")
    assert [s.text for s in timings.sentences] == ["The Moon", "It circles the Earth."]


def test_a_number_keeps_one_word_not_a_chain() -> None:
    text = "Die Marge lag bei 8,3 %, nach 7,9 % im Vorjahr."
    found = cues(Timings(ENGINE, (TimedSpan(text, 0.0, 4.0),)), "de")
    assert found[0].lines == ("Die Marge lag bei 8,3 %,", "nach 7,9 % im Vorjahr.")
