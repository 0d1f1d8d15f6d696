import pytest
from hypothesis import given
from hypothesis import strategies as st

from stories_core.errors import InvalidInput
from stories_core.markup import MarkupSegment, StoryDocument, parse, render

ids = st.uuids().map(str)
titles = st.text(st.characters(blacklist_characters="\n"), min_size=1).map(str.strip).filter(bool)
texts = st.text(min_size=1).map(str.strip).filter(bool)
segments = st.builds(
    MarkupSegment,
    segment_id=ids,
    title=titles,
    text=texts,
    image_asset_id=st.none() | ids,
    audio_asset_id=st.none() | ids,
)


@given(st.lists(segments, max_size=6).map(tuple).map(StoryDocument))
def test_parse_inverts_render(document: StoryDocument) -> None:
    assert parse(render(document)) == document


def test_rendered_form_matches_the_documented_layout() -> None:
    document = StoryDocument((MarkupSegment("s1", "Intro", "Hello.\n[[tricky", "i1", "a1"),))
    assert render(document) == (
        "[[SEGMENT id=s1]]\n# Intro\n\nHello.\n\\[[tricky\n\n"
        "[[IMAGE asset_id=i1]]\n[[AUDIO asset_id=a1]]\n[[/SEGMENT]]\n"
    )


@pytest.mark.parametrize(
    ("markup", "line"),
    [
        ("# no opening tag\n", 1),
        ("[[SEGMENT id=s]]\nno title\n\nx\n\n[[/SEGMENT]]\n", 2),
        ("[[SEGMENT id=s]]\n# t\n\nx\n\n[[IMAGE asset_id=i]]\n", 7),
    ],
)
def test_malformed_markup_names_the_line(markup: str, line: int) -> None:
    with pytest.raises(InvalidInput, match=f"line {line}"):
        parse(markup)
