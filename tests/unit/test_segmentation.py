import pytest
from hypothesis import given
from hypothesis import strategies as st

from stories_core.errors import ModelOutputInvalid
from stories_core.generation import SegmentSpan
from stories_core.segmentation import clean_title, enforce, sentence_boundaries

TEXT = "One is here. Two is there.\n\nThree comes next. Four ends it."


def assert_contract(text: str, spans, pictures: int) -> None:
    assert spans, "at least one segment"
    assert len(spans) <= pictures
    sentence_count = len(sentence_boundaries(text)) + 1
    assert len(spans) >= min(pictures, sentence_count), "fewer only for fewer sentences"
    previous_end = 0
    for span in spans:
        assert span.start < span.end
        assert span.start >= previous_end
        piece = text[span.start : span.end]
        assert piece == piece.strip() and piece
        assert text[previous_end : span.start].strip() == "", "gap holds only whitespace"
        assert span.title and "\n" not in span.title
        previous_end = span.end
    assert text[previous_end:].strip() == ""


def test_a_good_answer_is_kept() -> None:
    spans = [SegmentSpan(0, 26, "A"), SegmentSpan(28, len(TEXT), "B")]
    result = enforce(TEXT, spans, 2)
    assert [(s.start, s.end, s.title) for s in result] == [(0, 26, "A"), (28, len(TEXT), "B")]


def test_out_of_order_overlapping_and_gappy_spans_are_repaired() -> None:
    spans = [SegmentSpan(30, len(TEXT) - 3, "B"), SegmentSpan(2, 40, "A")]
    result = enforce(TEXT, spans, 2)
    assert [s.title for s in result] == ["A", "B"]
    assert result[0].start == 0 and result[-1].end == len(TEXT)
    assert_contract(TEXT, result, 2)


def test_too_many_segments_are_merged_down_to_the_pictures_asked_for() -> None:
    spans = [SegmentSpan(i, i + 5) for i in range(0, len(TEXT), 5)]
    result = enforce(TEXT, spans, 3)
    assert len(result) == 3
    assert_contract(TEXT, result, 3)


def test_too_few_segments_are_split_at_sentence_ends() -> None:
    result = enforce(TEXT, [SegmentSpan(0, len(TEXT), "All")], 4)
    assert [TEXT[s.start : s.end] for s in result] == [
        "One is here.",
        "Two is there.",
        "Three comes next.",
        "Four ends it.",
    ]


def test_fewer_segments_only_when_the_text_has_fewer_sentences() -> None:
    result = enforce("Just one sentence here", [SegmentSpan(0, 22)], 5)
    assert len(result) == 1
    assert result[0].title == "Just one sentence here"


@pytest.mark.parametrize(
    "spans",
    [[], [SegmentSpan(10, 5)], [SegmentSpan(500, 600)], [SegmentSpan(0, 0)]],
    ids=["none", "inverted", "outside", "empty"],
)
def test_a_broken_answer_is_an_error(spans: list[SegmentSpan]) -> None:
    with pytest.raises(ModelOutputInvalid):
        enforce(TEXT, spans, 2)


words = st.sampled_from(["alpha", "beta", "gamma.", "delta!", "\n\n", "# Head\n", "eps?", " "])


@given(
    st.lists(words, min_size=1, max_size=40).map(" ".join).filter(str.strip),
    st.lists(st.tuples(st.integers(0, 400), st.integers(1, 200)), min_size=1, max_size=12),
    st.integers(1, 8),
)
def test_any_repairable_answer_meets_the_contract(text, raw, pictures) -> None:
    spans = [SegmentSpan(min(s, len(text) - 1), min(s, len(text) - 1) + n) for s, n in raw]
    result = enforce(text, spans, pictures)
    assert_contract(text, result, pictures)
    for span in result:  # never cut inside a word
        assert span.start == 0 or not text[span.start - 1].isalnum()


def test_a_heading_stays_with_the_text_it_opens() -> None:
    text = "# Tides\n\nThe moon pulls the sea.\n\n# Waves\n\nWind makes waves. They break."
    assert len(sentence_boundaries(text)) + 1 == 3
    result = enforce(text, [SegmentSpan(0, len(text))], 5)
    pieces = [text[s.start : s.end] for s in result]
    assert pieces == [
        "# Tides\n\nThe moon pulls the sea.",
        "# Waves\n\nWind makes waves.",
        "They break.",
    ]


def test_a_long_title_is_shortened_on_a_whole_word() -> None:
    heading = "Notes From the Annual General Meeting of the Northern Regional Cooperative " * 2
    title = clean_title(heading, "")
    assert title.endswith("…") and len(title) <= 120
    assert heading.startswith(title[:-1]) and heading[len(title) - 1] == " "
    assert clean_title("# **[Volcanoes](https://example.com)** 🌋", "") == "Volcanoes"
