"""The one clean-up, the one sentence splitter and the markdown structure of a text."""

import itertools
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stories_local import segmenter

from stories_core import markup
from stories_core.generation import SegmentSpan
from stories_core.markup import MarkupSegment, StoryDocument
from stories_core.segmentation import enforce
from stories_core.text import (
    blocks,
    clean,
    headings,
    language_tag,
    plain,
    plain_inline,
    sentence_spans,
    sentences,
    story_title,
    text_direction,
)


@pytest.mark.parametrize(
    ("raw", "recorded"),
    [
        ("\ufeffHello", "Hello"),
        ("one\r\ntwo\r\n", "one\ntwo\n"),
        ("one\rtwo\r", "one\ntwo\n"),
        ("one\u2028two\u2029three\x85four", "one\ntwo\nthree\nfour"),
        ("Cafe\u0301", "Café"),  # NFC
        ("Zür\u200bich", "Zürich"),  # zero-width space inside a word
        ("infor\u00admation", "information"),  # soft hyphen
        ("word\u2060joiner", "wordjoiner"),
        ("a\ufeffb", "ab"),
        ("bell\x07 and escape\x1b", "bell and escape"),
        ("a\u200db \u200d c", "ab  c"),  # joiners between Latin letters or spaces join nothing
        ("\U0001f468\u200d\U0001f469", "\U0001f468\u200d\U0001f469"),  # an emoji sequence
        (
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
        ),
        ("tab\tstays", "tab\tstays"),
    ],
)
def test_clean(raw: str, recorded: str) -> None:
    assert clean(raw) == recorded


@given(st.text())
def test_clean_is_idempotent_and_leaves_no_other_line_breaks(raw: str) -> None:
    once = clean(raw)
    assert clean(once) == once
    assert (once + "\n").splitlines() == once.split("\n")
    assert "\r" not in once and "\ufeff" not in once and "\u200b" not in once
    assert unicodedata.is_normalized("NFC", once)


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("We met Dr. Ames at noon by the river.", "en", ["We met Dr. Ames at noon by the river."]),
        (
            "The U.S. economy grew 3.5% in 2023. Mr. J. K. Smith agreed. It was fine.",
            "en",
            ["The U.S. economy grew 3.5% in 2023.", "Mr. J. K. Smith agreed.", "It was fine."],
        ),
        (
            'Wait... what happened? "Stop!" she said. He stopped.',
            "en",
            ["Wait... what happened?", '"Stop!" she said.', "He stopped."],
        ),
        (
            "The vote was 5 vs. 3. No. 7 won, e.g. by far.",
            "en",
            ["The vote was 5 vs. 3.", "No. 7 won, e.g. by far."],
        ),
        (
            "小猫早上离开了家。它走过一座小桥。它看见一条鱼。",
            "zh",
            ["小猫早上离开了家。", "它走过一座小桥。", "它看见一条鱼。"],
        ),
        ("राम स्कूल गया। वह खुश था।", "hi", ["राम स्कूल गया।", "वह खुश था।"]),
        ("هل رأيت القطة؟ نعم رأيتها.", "ar", ["هل رأيت القطة؟", "نعم رأيتها."]),
        (
            "Dr. Müller kam am 3. Mai. Er zahlte 1.234,50 €.",
            "de",
            ["Dr. Müller kam am 3. Mai.", "Er zahlte 1.234,50 €."],
        ),
        (
            "# Title\nFirst line\n- one item\n- two item\n\nNext para",
            "en",
            ["# Title", "First line", "- one item", "- two item", "Next para"],
        ),
    ],
)
def test_sentences(text: str, language: str, expected: list[str]) -> None:
    assert sentences(text, language) == expected


def test_a_segment_never_ends_after_an_abbreviation() -> None:
    text = "We met Dr. Ames at noon by the river."
    assert [
        (s.start, s.end) for s in enforce(text, [SegmentSpan(0, 11), SegmentSpan(11, len(text))], 2)
    ] == [(0, len(text))]
    assert [(s.start, s.end) for s in segmenter.segment(text, 2)] == [(0, len(text))]


def test_chinese_sentences_make_three_segments() -> None:
    text = "小猫早上离开了家。它走过一座小桥。它看见一条鱼。"
    spans = enforce(text, segmenter.segment(text, 3, "zh"), 3, "zh")
    assert [text[s.start : s.end] for s in spans] == [
        "小猫早上离开了家。",
        "它走过一座小桥。",
        "它看见一条鱼。",
    ]


def test_a_cut_inside_a_sentence_moves_to_the_nearest_sentence_start() -> None:
    text = "One sentence here. Another one follows. And a third."
    spans = enforce(text, [SegmentSpan(0, 25), SegmentSpan(25, len(text))], 2)
    assert [text[s.start : s.end] for s in spans] == [
        "One sentence here.",
        "Another one follows. And a third.",
    ]


def test_the_story_is_titled_by_its_first_top_level_heading() -> None:
    text = (
        "# Volcanoes\n\n## Overview\n\nA volcano is an opening in the crust. Lava flows out of it."
    )
    assert story_title(text) == "Volcanoes"
    assert [h.title for h in headings(text)] == ["Volcanoes", "Overview"]
    (span,) = segmenter.segment(text, 1)
    assert span.title == "Volcanoes"
    assert story_title("## First\n\ntext\n\n## Second\n\nmore") == "First"
    assert story_title("Setext Title\n============\n\nBody.") == "Setext Title"
    assert story_title("No headings here. Just text.") == ""
    assert story_title("```\n# not a heading\n```\n\n# Real") == "Real"


@pytest.mark.parametrize(
    ("markdown", "words"),
    [
        ("**[Rome](https://example.com/rome)** 🏛", "Rome"),
        ("The `code` and *emphasis*", "The code and emphasis"),
        ("See https://example.com/x or mail me@example.org now", "See or mail now"),
        ("![a chart](chart.png) Growth", "Growth"),
    ],
)
def test_plain_inline(markdown: str, words: str) -> None:
    assert plain_inline(markdown) == words


def test_plain_reads_prose_only() -> None:
    text = (
        "# Title 🚀\n\nA [link](http://x.y) here.\n\n```python\nprint('no')\n```\n\n"
        "| Year | Sales |\n|---|---|\n| 2023 | $5 |\n\n- one\n- two\n\n<div>html</div>\n"
    )
    assert plain(text) == "Title\nA link here.\nYear, Sales\n2023, $5\none\ntwo"


@pytest.mark.parametrize(
    ("tag", "canonical", "direction"),
    [
        ("EN-us", "en-US", "ltr"),
        ("iw", "he", "rtl"),
        ("ar", "ar", "rtl"),
        ("zh-Hant", "zh-Hant", "ltr"),
        ("fa", "fa", "rtl"),
    ],
)
def test_language_tags(tag: str, canonical: str, direction: str) -> None:
    assert language_tag(tag) == canonical
    assert text_direction(canonical) == direction


@pytest.mark.parametrize("tag", ["", "klingon", "xx-bogus", "und", "en_US!", "x-foo", "qaa", "zxx"])
def test_bad_language_tags_are_refused(tag: str) -> None:
    with pytest.raises(ValueError):
        language_tag(tag)


lines = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "[[SEGMENT id=x]]",
            "[[/SEGMENT]]",
            "[[IMAGE asset_id=y]]",
            "\\",
            "# h",
            "\r",
            "\r\n",
            "\u2028",
            "\x85",
        ]
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(lines, min_size=1, max_size=12).map("\n".join), st.integers(1, 5))
def test_no_input_makes_markup_that_does_not_parse_back(raw: str, pictures: int) -> None:
    text = clean(raw)
    if not text.strip():
        return
    spans = enforce(
        text, segmenter.segment(text, pictures) or [SegmentSpan(0, len(text))], pictures
    )
    document = StoryDocument(
        tuple(
            MarkupSegment(f"s{i}", span.title, text[span.start : span.end], "img", "aud")
            for i, span in enumerate(spans)
        )
    )
    rendered = markup.render(document)
    assert markup.parse(rendered) == document
    # Any reader's notion of a line agrees with ours: no stray line breaks.
    assert rendered.splitlines() == rendered.split("\n")[:-1]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [*list("Ta .!?。円\u202f\xa0\u3000\u2009é\"'”)(…\n؟।"), "Dr.", "e.g.", "😀", "# ", "- "]
        ),
        max_size=16,
    ).map("".join),
    st.sampled_from(["en", "zh", "de", "ar", "hi", "xx"]),
)
def test_sentences_cover_any_text_in_order_without_failing(text: str, language: str) -> None:
    spans = sentence_spans(text, language=language)
    assert all(a < b for a, b in spans)
    assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(spans))
    covered = {i for a, b in spans for i in range(a, b)}
    assert all(i in covered for i, char in enumerate(text) if char.isalnum()), "no word lost"


def test_code_fences_hold_no_headings_and_setext_headings_stay_with_their_text() -> None:
    text = (
        "# Launch\n\nWe built it. It flew.\n\n```python\n# not a heading\nx = 1\n```\n\n"
        "Results\n=======\n\nThe price rose in\n2024. People left for the\n| coast. Then calm.\n"
    )
    assert [h.title for h in headings(text)] == ["Launch", "Results"]
    assert [b.kind.value for b in blocks(text)] == ["heading", "prose", "code", "heading", "prose"]
    spans = enforce(text, segmenter.segment(text, 4), 4)
    titles = [span.title for span in spans]
    assert "not a heading" not in titles and "Results" in titles
    for span in spans:
        segment = text[span.start : span.end]
        assert segment.strip() not in ("Results\n=======", "# Launch")
        assert not segment.endswith("for the")


def test_a_backend_title_gives_way_to_the_segment_heading() -> None:
    text = "## Empire\n\nAugustus ruled. Rome grew.\n\n## Fall\n\nRome fell."
    spans = enforce(text, [SegmentSpan(0, 36, "Augustus link"), SegmentSpan(36, len(text), "")], 2)
    assert [span.title for span in spans] == ["Empire", "Fall"]


def test_clean_normalises_after_removing_invisible_characters() -> None:
    assert clean("e\u00ad\u0301") == "\u00e9"
    assert clean("e\u0301\u200d\u0628") == "\u00e9\u0628"  # é is Latin: nothing to join
    assert clean("abc \u202edef\u202c \u2067x\u2069") == "abc def x"


@pytest.mark.parametrize(
    ("markdown", "words"),
    [
        ("See [the report](https://example.com) **now** \U0001f4c8.", "See the report now."),
        ("Visit https://x.org/a_b. Then go.", "Visit. Then go."),
        ("Bonjour ! \u00c7a va ?", "Bonjour ! \u00c7a va ?"),
    ],
)
def test_what_is_taken_out_leaves_no_space_before_punctuation(markdown: str, words: str) -> None:
    assert plain(markdown) == words
