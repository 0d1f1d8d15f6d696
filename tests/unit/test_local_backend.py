"""The offline `local` backend: real segmentation, scripts, speech (MP3) and pictures (PNG).

Styles are built here rather than imported from the style plugins, so these tests pin the
backend's behaviour for any style a plugin might register.
"""

from __future__ import annotations

import io
import struct
import threading
from itertools import pairwise

import pytest
import stories_local
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from stories_local import LocalBackend, LocalBackendFactory
from stories_local.figures import chart_figures, find_figures

from stories_core.errors import BackendMisconfigured, GenerationError
from stories_core.generation import (
    ContentStyle,
    Narration,
    SegmentBrief,
    SpokenLine,
    Voices,
)
from stories_core.model import AudioType
from stories_core.plugins import build_registry, make_plugin_manager
from stories_core.ports import GeneratorBackend

EDUCATIONAL = ContentStyle(
    name="educational",
    description="Explains",
    tone="clear",
    image_style="Clean labelled diagram, flat colours",
    visual="diagram",
    intro_template="Let's learn about {title}.",
    outro_template="That's the key idea.",
    palette=("#0f172a", "#e2e8f0", "#0ea5e9", "#f97316"),
)
FINANCIAL = ContentStyle(
    name="financial",
    description="Reports",
    tone="sober",
    image_style="Restrained financial chart",
    visual="chart",
    disclaimer="This is not financial advice.",
    intro_template="Here is {title}.",
    palette=("#ffffff", "#111827", "#1d4ed8", "#dc2626"),
)
FICTIONAL = ContentStyle(
    name="fictional",
    description="Tells",
    tone="vivid",
    image_style="Cinematic, painterly",
    visual="scene",
    keeps_source_words=True,
    intro_template="{title}.",
    voices=Voices(
        narrator="en-gb", second_host="en-us", narrator_name="Ada", second_host_name="Ben"
    ),
    palette=("#1e1b4b", "#fef3c7", "#7c3aed", "#f59e0b"),
)
PLAIN = ContentStyle(name="plain", description="Plain", tone="neutral", image_style="")

PARAGRAPH = (
    "Photosynthesis is the process by which green plants turn light into chemical energy. "
    "Inside the leaves, chlorophyll absorbs sunlight and uses it to split water molecules. "
    "The plant combines hydrogen with carbon dioxide from the air to build glucose. "
    "Oxygen escapes as a by-product, which is why forests matter so much for the air we breathe."
)
FIGURES = (
    "In 2021 revenue was $3.4 million, and in 2022 it was $4.1 million. "
    "In 2023 revenue reached $5.2 million. Margins improved."
)
NO_FIGURES = "Management expects demand to stay steady. The board remains cautious about rates."
STORY = (
    "Night fell over the harbour town. Mara watched the moon rise above the dark water. "
    "Somewhere in the streets below, a door slammed."
)


@pytest.fixture(scope="module")
def backend() -> LocalBackend:
    return LocalBackendFactory().create({})


def brief(text: str, title: str = "", index: int = 0, count: int = 1) -> SegmentBrief:
    return SegmentBrief(index=index, count=count, title=title, text=text, story_title="Demo")


def sentences_text(count: int, paragraph_every: int = 0) -> str:
    """`count` distinct sentences, with a blank line after every `paragraph_every`."""
    parts = []
    for number in range(count):
        parts.append(f"Sentence {number} says something about topic {number % 5}.")
        if paragraph_every and (number + 1) % paragraph_every == 0 and number + 1 < count:
            parts.append("\n\n")
        else:
            parts.append(" ")
    return "".join(parts).strip()


# --- registration ----------------------------------------------------------------------------


def test_the_plugin_registers_the_local_backend_factory() -> None:
    registry = build_registry(
        make_plugin_manager(load_entrypoints=False, extra_plugins=[stories_local])
    )
    factory = registry.backends["local"]
    assert isinstance(factory, LocalBackendFactory)
    assert factory.description
    created = factory.create({})
    assert isinstance(created, GeneratorBackend)
    assert created.name == "local"


def test_image_size_comes_from_the_environment() -> None:
    created = LocalBackendFactory().create(
        {"STORIES_LOCAL_IMAGE_WIDTH": "640", "STORIES_LOCAL_IMAGE_HEIGHT": "360"}
    )
    media = created.draw("prompt", brief(PARAGRAPH, "Photosynthesis"), EDUCATIONAL)
    assert Image.open(io.BytesIO(media.data)).size == (640, 360)
    assert (media.metadata["width"], media.metadata["height"]) == (640, 360)


@pytest.mark.parametrize("value", ["wide", "0", "-5", "100000"])
def test_a_bad_image_size_names_the_setting(value: str) -> None:
    with pytest.raises(BackendMisconfigured) as raised:
        LocalBackendFactory().create({"STORIES_LOCAL_IMAGE_WIDTH": value})
    assert "STORIES_LOCAL_IMAGE_WIDTH" in raised.value.message


# --- segmentation ----------------------------------------------------------------------------


def assert_valid_cover(text: str, spans: list) -> None:
    assert spans[0].start == 0
    assert spans[-1].end == len(text)
    for before, after in pairwise(spans):
        assert before.end == after.start, "spans are contiguous: ordered, no gap, no overlap"
    for span in spans:
        assert text[span.start : span.end].strip(), "no span is only whitespace"
        assert span.title.strip()


@pytest.mark.parametrize(
    ("sentence_count", "paragraph_every"), [(1, 0), (5, 0), (12, 3), (30, 4), (7, 1)]
)
@pytest.mark.parametrize("pictures", [1, 2, 3, 5, 8])
def test_segments_cover_the_text_in_order(
    backend: LocalBackend, sentence_count: int, paragraph_every: int, pictures: int
) -> None:
    text = sentences_text(sentence_count, paragraph_every)
    spans = list(backend.segment(text, pictures, PLAIN, "en"))
    assert len(spans) == min(pictures, sentence_count)
    assert_valid_cover(text, spans)
    assert "".join(text[s.start : s.end] for s in spans) == text


_WORDS = st.sampled_from(["river", "light", "stone", "green", "moves", "the", "of", "Rome", "is"])
_SENTENCE = st.lists(_WORDS, min_size=2, max_size=9).map(lambda w: " ".join(w).capitalize() + ".")


@settings(max_examples=60, deadline=None)
@given(
    paragraphs=st.lists(st.lists(_SENTENCE, min_size=1, max_size=6), min_size=1, max_size=6),
    pictures=st.integers(min_value=1, max_value=12),
)
def test_segmentation_properties_hold_for_any_text(
    paragraphs: list[list[str]], pictures: int
) -> None:
    text = "\n\n".join(" ".join(paragraph) for paragraph in paragraphs)
    sentence_count = sum(len(paragraph) for paragraph in paragraphs)
    spans = list(LocalBackend().segment(text, pictures, PLAIN, "en"))
    assert len(spans) == min(pictures, sentence_count)
    assert_valid_cover(text, spans)


def test_uniform_text_is_split_into_equal_parts(backend: LocalBackend) -> None:
    text = "The same sentence is here. " * 12
    spans = backend.segment(text.strip(), 4, PLAIN, "en")
    pieces = [text[s.start : s.end].strip() for s in spans]
    assert [piece.count(".") for piece in pieces] == [3, 3, 3, 3]


def test_uneven_counts_stay_balanced(backend: LocalBackend) -> None:
    text = sentences_text(10)
    lengths = [s.end - s.start for s in backend.segment(text, 3, PLAIN, "en")]
    assert max(lengths) <= 1.6 * min(lengths)


def test_paragraph_boundaries_win_over_sentence_boundaries(backend: LocalBackend) -> None:
    text = sentences_text(6, paragraph_every=3)
    first, second = backend.segment(text, 2, PLAIN, "en")
    assert (
        text[first.start : first.end].rstrip().endswith("Sentence 2 says something about topic 2.")
    )
    assert text[second.start : second.end].startswith("Sentence 3")


SECTIONED = """# Photosynthesis

Plants turn light into sugar. They use chlorophyll to capture light. The sugar feeds the plant.

# Respiration

Cells burn sugar to release energy. Oxygen is consumed and carbon dioxide released.

The Water Cycle

Water evaporates from the sea. It condenses into clouds. Rain falls and the cycle repeats.
"""


def test_headings_open_the_segments_they_title(backend: LocalBackend) -> None:
    spans = backend.segment(SECTIONED, 3, EDUCATIONAL, "en")
    assert [s.title for s in spans] == ["Photosynthesis", "Respiration", "The Water Cycle"]
    assert [s.start for s in spans] == [
        0,
        SECTIONED.index("# Respiration"),
        SECTIONED.index("The Water Cycle"),
    ]


@pytest.mark.parametrize("pictures", range(1, 10))
def test_a_heading_is_never_the_tail_of_a_segment(backend: LocalBackend, pictures: int) -> None:
    spans = backend.segment(SECTIONED, pictures, EDUCATIONAL, "en")
    headings = ("# Photosynthesis", "# Respiration", "The Water Cycle")
    for span in spans:
        last_line = SECTIONED[span.start : span.end].strip().splitlines()[-1]
        assert last_line not in headings
    assert len(spans) == min(pictures, 8)  # eight sentences; headings ride with the next one


def test_untitled_segments_get_a_key_phrase_from_their_first_sentence(
    backend: LocalBackend,
) -> None:
    text = "The fall of Rome took centuries. Rome declined slowly, and Rome was sacked in 410."
    (span,) = backend.segment(text, 1, PLAIN, "en")
    assert span.title == "Fall of Rome"


def test_segmentation_of_an_empty_text_is_empty(backend: LocalBackend) -> None:
    assert list(backend.segment("   \n\n ", 3, PLAIN, "en")) == []


# --- narration -------------------------------------------------------------------------------


def test_verbatim_reads_the_text_as_written(backend: LocalBackend) -> None:
    narration = backend.narrate(brief(SECTIONED), AudioType.VERBATIM, EDUCATIONAL)
    assert narration.lines == (SpokenLine("narrator", SECTIONED),)


def test_no_audio_means_an_empty_script(backend: LocalBackend) -> None:
    narration = backend.narrate(brief(PARAGRAPH), AudioType.NONE, EDUCATIONAL)
    assert narration.lines == ()
    assert narration.is_empty


def test_free_speech_for_fiction_keeps_the_story_words_in_order(backend: LocalBackend) -> None:
    narration = backend.narrate(brief(STORY, "Harbour Town"), AudioType.FREE_SPEECH, FICTIONAL)
    assert {line.speaker for line in narration.lines} == {"narrator"}
    assert narration.lines[0].text == "Harbour Town."
    spoken = " ".join(line.text for line in narration.lines[1:])
    assert spoken == STORY


def test_free_speech_for_teaching_leads_with_the_key_sentence_and_recaps(
    backend: LocalBackend,
) -> None:
    text = "# Photosynthesis\n\n" + PARAGRAPH
    narration = backend.narrate(brief(text, "Photosynthesis"), AudioType.FREE_SPEECH, EDUCATIONAL)
    lines = [line.text for line in narration.lines]
    assert lines[0] == "Let's learn about Photosynthesis."
    # "plant" and "air" recur in the passage, and this sentence has both.
    assert lines[1] == (
        "The plant combines hydrogen with carbon dioxide from the air to build glucose."
    )
    assert lines[-1] == "That's the key idea."
    assert lines[-2].startswith("Key terms: ")
    assert "plant" in lines[-2]
    body = " ".join(lines[1:-2])
    for sentence in PARAGRAPH.split(". "):
        assert sentence.rstrip(".") in body, "every source sentence is still told"
    assert "#" not in body


def test_free_speech_with_a_disclaimer_says_it_first_and_recaps_figures(
    backend: LocalBackend,
) -> None:
    narration = backend.narrate(brief(FIGURES), "free_speech", FINANCIAL)
    lines = [line.text for line in narration.lines]
    assert lines[0] == "This is not financial advice."
    assert lines[1].startswith("Here is ")
    assert lines[-1] == (
        "Key figures: $3.4 million for 2021, $4.1 million for 2022 and $5.2 million for 2023."
    )


def test_podcast_alternates_two_hosts_through_the_whole_segment(backend: LocalBackend) -> None:
    narration = backend.narrate(brief(PARAGRAPH, "Photosynthesis"), AudioType.PODCAST, FINANCIAL)
    speakers = [line.speaker for line in narration.lines]
    assert speakers[0] == "narrator"
    assert set(speakers) == {"narrator", "second_host"}
    assert all(a != b for a, b in pairwise(speakers)), "turns alternate"
    first = narration.lines[0].text
    assert first.startswith("This is not financial advice.")
    assert "Alex" in first and "Sam" in first and "Photosynthesis" in first
    dialogue = " ".join(line.text for line in narration.lines)
    for sentence in PARAGRAPH.split(". "):
        assert sentence.rstrip(".") in dialogue
    assert len(narration.lines) >= 5


def test_podcast_uses_the_style_host_names(backend: LocalBackend) -> None:
    narration = backend.narrate(brief(STORY, "Harbour Town"), AudioType.PODCAST, FICTIONAL)
    assert "I'm Ada, and with me is Ben." in narration.lines[0].text


def test_narration_is_deterministic(backend: LocalBackend) -> None:
    for audio_type in AudioType:
        first = backend.narrate(brief(PARAGRAPH), audio_type, EDUCATIONAL)
        assert backend.narrate(brief(PARAGRAPH), audio_type, EDUCATIONAL) == first


# --- speech ----------------------------------------------------------------------------------

_MPEG2_L3_KBPS = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_MPEG1_L3_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def mp3_frames(data: bytes) -> tuple[int, float]:
    """Walk the MPEG audio frames by their headers; returns (frames, seconds of audio)."""
    offset, frames, seconds = 0, 0, 0.0
    while offset + 4 <= len(data):
        (header,) = struct.unpack(">I", data[offset : offset + 4])
        assert header >> 21 == 0x7FF, f"frame sync lost at byte {offset}"
        version, layer = (header >> 19) & 3, (header >> 17) & 3
        assert layer == 1, "layer III"
        bitrate_index, rate_index = (header >> 12) & 15, (header >> 10) & 3
        padding = (header >> 9) & 1
        mpeg1 = version == 3
        kbps = (_MPEG1_L3_KBPS if mpeg1 else _MPEG2_L3_KBPS)[bitrate_index]
        rate = _RATES[version][rate_index]
        size = (144000 if mpeg1 else 72000) * kbps // rate + padding
        offset += size
        frames += 1
        seconds += (1152 if mpeg1 else 576) / rate
    assert offset == len(data), "the stream ends on a frame boundary"
    return frames, seconds


def test_speech_is_a_real_mp3_of_plausible_length(backend: LocalBackend) -> None:
    narration = backend.narrate(brief(PARAGRAPH), AudioType.VERBATIM, EDUCATIONAL)
    media = backend.speak(narration, EDUCATIONAL)
    assert (media.content_type, media.extension) == ("audio/mpeg", "mp3")
    assert media.data[:2] == b"\xff\xf3" or media.data[0] == 0xFF
    frames, seconds = mp3_frames(media.data)
    duration = media.metadata["duration_seconds"]
    assert frames > 100
    assert abs(seconds - duration) < 0.2
    words = len(PARAGRAPH.split())
    assert 0.2 * words <= duration <= 1.0 * words
    assert media.metadata["engine"] == "espeak-ng"
    assert media.metadata["sample_rate"] == 22050
    assert media.metadata["voices"] == ["en-us"]


def test_longer_scripts_make_longer_audio(backend: LocalBackend) -> None:
    short = backend.speak(Narration((SpokenLine("narrator", "Hello there."),)), PLAIN)
    long = backend.speak(Narration((SpokenLine("narrator", PARAGRAPH),)), PLAIN)
    assert long.metadata["duration_seconds"] > 5 * short.metadata["duration_seconds"]


def test_speech_is_the_same_bytes_whatever_was_spoken_before(backend: LocalBackend) -> None:
    narration = backend.narrate(brief(PARAGRAPH), AudioType.FREE_SPEECH, EDUCATIONAL)
    first = backend.speak(narration, EDUCATIONAL).data
    backend.speak(backend.narrate(brief(STORY), AudioType.PODCAST, FICTIONAL), FICTIONAL)
    assert backend.speak(narration, EDUCATIONAL).data == first


def test_concurrent_speech_matches_sequential_speech(backend: LocalBackend) -> None:
    scripts = [
        Narration((SpokenLine("narrator", f"Line number {n} of the test."),)) for n in range(4)
    ]
    expected = [backend.speak(script, PLAIN).data for script in scripts]
    results: list[bytes | None] = [None] * len(scripts)

    def run(index: int) -> None:
        results[index] = backend.speak(scripts[index], PLAIN).data

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(scripts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == expected


def test_a_podcast_is_spoken_by_two_voices(backend: LocalBackend) -> None:
    narration = backend.narrate(brief(STORY, "Harbour Town"), AudioType.PODCAST, FICTIONAL)
    media = backend.speak(narration, FICTIONAL)
    assert media.metadata["voices"] == ["en-gb", "en-us"]
    mp3_frames(media.data)


def test_an_unknown_voice_falls_back_to_english(backend: LocalBackend) -> None:
    style = ContentStyle(
        name="odd", description="", tone="", image_style="", voices=Voices(narrator="xx-nope")
    )
    media = backend.speak(Narration((SpokenLine("narrator", "Still spoken."),)), style)
    assert media.metadata["voices"] == ["en"]


def test_speaking_nothing_is_an_error(backend: LocalBackend) -> None:
    with pytest.raises(GenerationError):
        backend.speak(Narration(lines=()), PLAIN)
    with pytest.raises(GenerationError):
        backend.speak(Narration((SpokenLine("narrator", "  "),)), PLAIN)


# --- pictures --------------------------------------------------------------------------------


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, kinds = 8, []
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kinds.append(data[offset + 4 : offset + 8])
        offset += 12 + length
    return kinds


def picture(backend: LocalBackend, text: str, style: ContentStyle, title: str = ""):
    segment = brief(text, title)
    return backend.draw(backend.image_prompt(segment, style), segment, style)


@pytest.mark.parametrize(
    ("style", "text", "renderer"),
    [
        (EDUCATIONAL, PARAGRAPH, "diagram"),
        (FINANCIAL, FIGURES, "chart"),
        (FINANCIAL, NO_FIGURES, "card"),
        (FICTIONAL, STORY, "scene"),
        (PLAIN, PARAGRAPH, "card"),
    ],
)
def test_each_visual_draws_a_valid_png(
    backend: LocalBackend, style: ContentStyle, text: str, renderer: str
) -> None:
    media = picture(backend, text, style)
    assert (media.content_type, media.extension) == ("image/png", "png")
    image = Image.open(io.BytesIO(media.data))
    image.load()
    assert image.format == "PNG"
    assert image.size == (1024, 576)
    assert media.metadata["renderer"] == renderer
    assert media.metadata["prompt"].startswith(
        style.image_style.rstrip(".") if style.image_style else "A "
    )
    assert len(image.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 8, "not a blank canvas"
    assert set(png_chunks(media.data)) <= {b"IHDR", b"IDAT", b"IEND"}, "no timestamp or text"


def test_pictures_are_deterministic(backend: LocalBackend) -> None:
    for style, text in [(EDUCATIONAL, PARAGRAPH), (FINANCIAL, FIGURES), (FICTIONAL, STORY)]:
        assert picture(backend, text, style).data == picture(backend, text, style).data


def test_pictures_differ_between_styles_and_texts(backend: LocalBackend) -> None:
    drawn = {
        picture(backend, PARAGRAPH, style).data
        for style in (EDUCATIONAL, FINANCIAL, FICTIONAL, PLAIN)
    }
    assert len(drawn) == 4
    assert (
        picture(backend, STORY, FICTIONAL).data
        != picture(backend, STORY.replace("Mara", "Nell"), FICTIONAL).data
    )


def test_the_letterboxed_scene_has_black_bands(backend: LocalBackend) -> None:
    image = Image.open(io.BytesIO(picture(backend, STORY, FICTIONAL).data)).convert("RGB")
    band = (576 - round(1024 / 2.39)) // 2
    assert image.getpixel((5, 5)) == (0, 0, 0)
    assert image.getpixel((5, band + 5)) != (0, 0, 0)
    assert image.getpixel((5, 576 - 5)) == (0, 0, 0)


def test_the_image_prompt_carries_style_title_and_key_terms(backend: LocalBackend) -> None:
    prompt = backend.image_prompt(brief(PARAGRAPH, "Photosynthesis"), EDUCATIONAL)
    assert prompt.startswith("Clean labelled diagram, flat colours. ")
    assert "Photosynthesis" in prompt and "plant" in prompt
    chart = backend.image_prompt(brief(FIGURES, "Results"), FINANCIAL)
    assert "$3.4 million" in chart and "zero baseline" in chart


# --- figures ---------------------------------------------------------------------------------


def test_figures_are_read_with_their_units_and_labels() -> None:
    found = find_figures(
        "Sales rose 12% to $4.5bn in 2023, while costs fell -3%. We hired 120 staff."
    )
    assert [(f.kind, f.value, f.unit, f.label) for f in found] == [
        ("percent", 12.0, "% change", "2023"),
        ("currency", 4.5e9, "$", "2023"),
        ("percent", -3.0, "% change", "costs"),
        ("number", 120.0, "", "staff"),
    ]


def test_a_chart_never_mixes_units() -> None:
    figures = chart_figures("Revenue was $3m in 2022 and $4m in 2023. Margin was 12%. Staff: 40.")
    assert {f.unit for f in figures} == {"$"}
    assert [f.label for f in figures] == ["2022", "2023"]
    assert chart_figures("Founded in 1998, the firm has 3 offices.") == []
