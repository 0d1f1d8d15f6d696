"""The local backend's pictures: every script drawn in a font that has it, nothing clipped.

Each text element an image records (role, text, box, fonts) is checked against the font
files themselves: every drawn character has a glyph in the character map of one of the
element's fonts, and every box lies inside the picture.
"""

from __future__ import annotations

import io
import unicodedata
from functools import cache
from itertools import combinations

import pytest
from fontTools.ttLib import TTFont
from PIL import Image
from stories_educational import EDUCATIONAL
from stories_fictional import FICTIONAL
from stories_financial import FINANCIAL
from stories_local import LocalBackendFactory, drawing, fonts
from stories_local.canvas import Typesetter, fit, shape, wrap
from stories_local.narrator import segment_title

from stories_core.generation import ContentStyle, Media, SegmentBrief

STYLES = (EDUCATIONAL, FINANCIAL, FICTIONAL)

# Unicode's Default_Ignorable_Code_Point ranges, written out here so the check does not
# lean on the code under test.
IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)  # fmt: skip

BAKERS = "Notes From the Annual General Meeting of the Northern Regional Cooperative Bakers"
BAKERS_TEXT = (
    f"# {BAKERS}\n\n"
    "Members discussed flour prices, the new ovens and the delivery rota. "
    "The board remains cautious about costs and asked for a fuller report."
)

TEXTS = {
    "accents": ("en", "Café in Zürich costs €5. The naïve señor paid for crème brûlée."),
    "chinese": ("zh", "小猫早上离开了家。它走过一座小桥。它看见一条鱼。"),
    "arabic": (
        "ar",
        "خرج القط الصغير من البيت في الصباح. مشى فوق جسر صغير ورأى سمكة في النهر.",
    ),
    "hindi": ("hi", "छोटी बिल्ली सुबह घर से निकली। उसने एक छोटा पुल पार किया और एक मछली देखी।"),
    "thai": ("th", "แมวตัวเล็กออกจากบ้านตอนเช้า มันเดินข้ามสะพานเล็กๆ และเห็นปลาตัวหนึ่ง"),
    "japanese": ("ja", "子猫は朝、家を出ました。小さな橋を渡りました。魚を見つけました。"),
    "korean": (
        "ko",
        "작은 고양이가 아침에 집을 나섰습니다. 작은 다리를 건넜습니다. 물고기를 보았습니다.",
    ),
    "russian": ("ru", "Маленький кот утром вышел из дома. Он перешёл через мостик и увидел рыбу."),
    "hebrew": ("he", "החתול הקטן יצא מהבית בבוקר. הוא חצה גשר קטן וראה דג בנהר."),
    "mixed": ("en", "The word مرحبا means hello, and شكرا means thank you in Arabic."),
    "invisible": (
        "en",
        "Zero\u200bwidth spa\u200bces, soft\u00adhyphens and emoji 😀🎉 👍🏽 stay out of "
        "sight\u2060. Family: 👨\u200d👩\u200d👧. Flags 🇫🇷 and keycaps 1\ufe0f\u20e3.",
    ),
    "figures": (
        "en",
        "In 2021 revenue was €3.4 million, and in 2022 it was €4.1 million. "
        "In 2023 revenue reached €5.2 million at the café in Zürich.",
    ),
    "bakers": ("en", BAKERS_TEXT),
}


def ignorable(char: str) -> bool:
    return any(low <= ord(char) <= high for low, high in IGNORABLE)


@cache
def shipped_paths() -> dict[str, str]:
    return {face.name: face.path for face in fonts.shipped_faces()}


@cache
def cmap(file: str, index: int) -> frozenset[int]:
    with TTFont(shipped_paths()[file], fontNumber=index, lazy=True) as font:
        return frozenset(font.getBestCmap())


def brief_for(text: str, language: str) -> SegmentBrief:
    """The brief the pipeline would hand over for a one-segment story of `text`."""
    backend = LocalBackendFactory().create({})
    (span,) = backend.segment(text, 1, EDUCATIONAL, language)
    return SegmentBrief(
        index=0,
        count=1,
        title=span.title,
        text=text[span.start : span.end],
        language=language,
    )


def elements(media: Media) -> list[dict]:
    return media.metadata["text_elements"]


def check_drawn_text(media: Media, width: int, height: int) -> None:
    """Every element: known keys, inside the canvas, and every character in its fonts."""
    image = Image.open(io.BytesIO(media.data))
    assert image.size == (width, height)
    assert {"width", "height", "renderer", "prompt"} <= set(media.metadata)
    for element in elements(media):
        assert {"role", "text", "box", "fonts"} <= set(element)
        left, top, right, bottom = element["box"]
        assert 0 <= left < right <= width, element
        assert 0 <= top < bottom <= height, element
        assert element["fonts"], element
        assert set(element["fonts"]) <= set(shipped_paths()), "only shipped fonts"
        maps = [cmap(face["file"], face["index"]) for face in element["faces"]]
        assert {face["file"] for face in element["faces"]} == set(element["fonts"])
        for char in element["text"]:
            if char.isspace() or ignorable(char):
                continue
            assert any(ord(char) in found for found in maps), (
                f"{char!r} (U+{ord(char):04X}) has no glyph in {element['fonts']}: {element}"
            )
        assert not any(ignorable(char) and char not in "\u200c\u200d" for char in element["text"])


def draw(name: str, style: ContentStyle, width: int = 1024, height: int = 576) -> Media:
    language, text = TEXTS[name]
    return drawing.draw("prompt", brief_for(text, language), style, width, height)


# --- every script, every renderer --------------------------------------------------------


@pytest.mark.parametrize("style", STYLES, ids=lambda style: style.name)
@pytest.mark.parametrize("name", sorted(TEXTS))
def test_every_drawn_character_has_a_glyph_and_every_box_is_inside(
    name: str, style: ContentStyle
) -> None:
    media = draw(name, style)
    check_drawn_text(media, 1024, 576)
    roles = {element["role"] for element in elements(media)}
    expected = {
        "diagram": {"title", "part_label"},
        "chart": {"title", "tick", "value", "label", "note"},
        "card": {"title", "part_label"},
        "scene": {"caption"},
    }[media.metadata["renderer"]]
    assert expected <= roles


@pytest.mark.parametrize("style", STYLES, ids=lambda style: style.name)
@pytest.mark.parametrize("name", sorted(TEXTS))
def test_a_narrow_picture_keeps_every_text_inside(name: str, style: ContentStyle) -> None:
    media = draw(name, style, 200, 300)
    check_drawn_text(media, 200, 300)
    assert any(element["role"] in ("title", "caption") for element in elements(media))


@pytest.mark.parametrize(("width", "height"), [(64, 64), (4096, 64), (64, 4096), (320, 64)])
@pytest.mark.parametrize("name", ["bakers", "figures", "arabic", "chinese"])
def test_extreme_sizes_keep_every_text_inside(name: str, width: int, height: int) -> None:
    for style in STYLES:
        check_drawn_text(draw(name, style, width, height), width, height)


@pytest.mark.parametrize("style", STYLES, ids=lambda style: style.name)
@pytest.mark.parametrize(
    ("width", "height"), [(1024, 576), (200, 300), (320, 64), (64, 64), (4096, 64), (64, 4096)]
)
def test_text_elements_do_not_overlap(style: ContentStyle, width: int, height: int) -> None:
    for name in ("bakers", "figures", "accents", "arabic"):
        boxes = [element["box"] for element in elements(draw(name, style, width, height))]
        for a, b in combinations(boxes, 2):
            apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert apart, (name, a, b)


# --- what each script is drawn with ------------------------------------------------------


def title_element(media: Media) -> dict:
    return next(e for e in elements(media) if e["role"] in ("title", "caption"))


@pytest.mark.parametrize(
    ("name", "font"),
    [
        ("accents", "NotoSans[wdth,wght].ttf"),
        ("russian", "NotoSans[wdth,wght].ttf"),
        ("arabic", "NotoSansArabic[wdth,wght].ttf"),
        ("hebrew", "Heebo[wght].ttf"),
        ("hindi", "NotoSansDevanagari[wdth,wght].ttf"),
        ("thai", "NotoSansThai[wdth,wght].ttf"),
        ("chinese", "NotoSansCJK-Regular.ttc"),
        ("japanese", "NotoSansCJK-Regular.ttc"),
        ("korean", "NotoSansCJK-Regular.ttc"),
    ],
)
def test_each_script_is_drawn_with_its_own_font(name: str, font: str) -> None:
    language, text = TEXTS[name]
    brief = brief_for(text, language)
    element = title_element(drawing.draw("prompt", brief, FINANCIAL, 1024, 576))
    assert element["fonts"][0] == font
    title = unicodedata.normalize("NFC", segment_title(brief))
    assert element["text"] == title or (
        element["text"].endswith("…") and title.startswith(element["text"][:-1])
    )


@pytest.mark.parametrize(
    ("language", "index"),
    [("zh", 2), ("zh-CN", 2), ("zh-Hans", 2), ("zh-TW", 3), ("zh-HK", 3), ("zh-Hant", 3),
     ("ja", 0), ("ko", 1), ("en", 2)],
)  # fmt: skip
def test_the_cjk_face_follows_the_language(language: str, index: int) -> None:
    media = drawing.draw("p", brief_for(TEXTS["chinese"][1], language), EDUCATIONAL, 1024, 576)
    faces = {
        face["index"]
        for element in elements(media)
        for face in element["faces"]
        if face["file"] == "NotoSansCJK-Regular.ttc"
    }
    assert faces == {index}


def test_kana_and_hangul_pick_their_cjk_face_whatever_the_language_says() -> None:
    assert fonts.faces_for("en", "ひらがな")[-1].index == 0
    assert fonts.faces_for("en", "한국어")[-1].index == 1
    assert fonts.faces_for("en", "汉字")[-1].index == 2


def test_the_chinese_title_is_drawn_whole_in_the_simplified_face() -> None:
    media = draw("chinese", FINANCIAL)  # no figures: a card
    title = title_element(media)
    assert title["text"] == "小猫早上离开了家"
    assert title["faces"] == [{"file": "NotoSansCJK-Regular.ttc", "index": 2}]


def test_accented_latin_is_one_run_of_noto_sans() -> None:
    media = draw("accents", FINANCIAL)
    for element in elements(media):
        if element["role"] in ("title", "term"):
            assert element["fonts"] == ["NotoSans[wdth,wght].ttf"]
    drawn = " ".join(element["text"] for element in elements(media))
    assert "Café" in drawn or "Zürich" in drawn


def test_invisible_characters_and_emoji_are_left_out() -> None:
    for style in STYLES:
        for element in elements(draw("invisible", style)):
            text = element["text"]
            assert not any(unicodedata.category(char) == "So" for char in text), text
            assert not any(char in text for char in "\u200b\u00ad\u2060\ufe0f\u20e3"), text
            assert "  " not in text
    setter = Typesetter.for_language("en")
    prepared = setter.prepare("a\u200bb\u00adc 😀  d\u2060e\ufeff\u200ef")
    assert prepared == "a\u200bb\u00adc def"  # the break opportunities stay for the wrapper


def test_clean_keeps_joiners_only_between_letters() -> None:
    faces = fonts.faces_for("fa")
    persian = "می\u200cخواهم"  # noqa: RUF001
    assert fonts.clean(persian, faces) == persian
    assert fonts.clean("a \u200c b \u200d😀", faces) == "a b"
    assert fonts.clean("Cafe\u0301\u00a0au  lait", faces) == "Café\u00a0au lait"


# --- right-to-left and mixed lines -------------------------------------------------------


def run_view(text: str, language: str) -> list[tuple[str, str, str]]:
    line = shape(Typesetter.for_language(language).directed(text), text, 40)
    return [(run.text, run.face.name, run.direction) for run in line.runs if run.text.strip()]


def test_arabic_inside_english_keeps_reading_order() -> None:
    assert run_view("The word مرحبا means hello", "en") == [
        ("The word", "NotoSans[wdth,wght].ttf", "ltr"),
        ("مرحبا", "NotoSansArabic[wdth,wght].ttf", "rtl"),
        ("means hello", "NotoSans[wdth,wght].ttf", "ltr"),
    ]


def test_english_inside_arabic_runs_right_to_left() -> None:
    # Left to right on the page: the last Arabic word, the English word, the first one.
    assert run_view("قال Tom مرحبا", "ar") == [
        ("مرحبا", "NotoSansArabic[wdth,wght].ttf", "rtl"),
        ("Tom", "NotoSans[wdth,wght].ttf", "ltr"),
        ("قال", "NotoSansArabic[wdth,wght].ttf", "rtl"),
    ]


def test_arabic_is_shaped_joined_not_drawn_letter_by_letter() -> None:
    if not fonts.RAQM:
        pytest.skip("Pillow without raqm")
    face = fonts.faces_for("ar")[1]
    font = fonts.load(face, 40)
    word = "سلام"
    joined = font.getlength(word, direction="rtl", language="ar")
    isolated = sum(font.getlength(char, direction="rtl", language="ar") for char in word)
    assert joined < isolated * 0.9


def test_arabic_titles_are_aligned_to_the_right_in_a_card() -> None:
    title = title_element(draw("arabic", FINANCIAL))
    assert title["box"][2] > 1024 - 72 - 8
    assert title["box"][0] > 72


# --- wrapping, shrinking, ellipsis -------------------------------------------------------


def test_the_long_bakers_heading_is_shown_whole_on_a_full_size_card() -> None:
    media = draw("bakers", FINANCIAL)
    assert media.metadata["renderer"] == "card"
    title = title_element(media)
    assert title["text"] == BAKERS
    assert len(title["lines"]) > 1
    assert " ".join(title["lines"]) == BAKERS
    part = next(e for e in elements(media) if e["role"] == "part_label")
    assert part["text"] == "PART 1 OF 1"
    check_drawn_text(media, 1024, 576)


@pytest.mark.parametrize("style", STYLES, ids=lambda style: style.name)
@pytest.mark.parametrize(("width", "height"), [(1024, 576), (200, 300), (320, 64), (64, 64)])
def test_the_bakers_heading_is_whole_or_a_prefix_ended_with_an_ellipsis(
    style: ContentStyle, width: int, height: int
) -> None:
    media = draw("bakers", style, width, height)
    check_drawn_text(media, width, height)
    for element in elements(media):
        if element["role"] in ("title", "caption"):
            text = " ".join(element["lines"])
            assert text == element["text"]
            assert text == BAKERS or (text.endswith("…") and BAKERS.startswith(text[:-1]))


def test_narrow_card_wraps_the_heading_and_keeps_the_part_label() -> None:
    media = draw("bakers", FINANCIAL, 200, 300)
    part = next(e for e in elements(media) if e["role"] == "part_label")
    assert part["text"] == "PART 1 OF 1"
    title = title_element(media)
    assert 2 <= len(title["lines"]) <= 3


def test_fit_shrinks_before_it_shortens() -> None:
    setter = Typesetter.for_language("en")
    roomy = fit(setter, BAKERS, 900, 400, 3, 68, 30)
    assert roomy is not None and roomy.text == BAKERS and roomy.size <= 68
    tight = fit(setter, BAKERS, 300, 120, 2, 40, 20)
    assert tight is not None and tight.size == 20
    assert tight.text.endswith("…") and BAKERS.startswith(tight.text[:-1])
    assert tight.width <= 300 and tight.height <= 120
    assert fit(setter, "😀 \u200b", 300, 100, 1, 20, 10) is None


def test_chinese_wraps_between_characters_but_never_before_closing_punctuation() -> None:
    text = TEXTS["chinese"][1]
    setter = Typesetter.for_language("zh", text).directed(text)
    lines = wrap(setter.prepare(text), setter, 30, 150)
    assert len(lines) > 2
    assert "".join(line.text for line in lines) == text
    assert all(shape(setter, line.text, 30).width <= 150 for line in lines)
    assert not any(line.text[0] in "。，" for line in lines)  # noqa: RUF001


def test_thai_wraps_without_spaces_and_never_before_a_mark() -> None:
    text = "แมวตัวเล็กออกจากบ้านตอนเช้าแล้วเดินข้ามสะพาน"
    setter = Typesetter.for_language("th", text).directed(text)
    lines = wrap(setter.prepare(text), setter, 24, 120)
    assert len(lines) > 1
    assert "".join(line.text for line in lines) == text
    assert all(shape(setter, line.text, 24).width <= 120 for line in lines)
    assert not any(unicodedata.category(line.text[0]).startswith("M") for line in lines)


def test_soft_hyphens_and_zero_width_spaces_are_break_opportunities() -> None:
    setter = Typesetter.for_language("en")
    text = setter.prepare("extra\u00adordinarily\u200bwonderful")
    lines = [line.text for line in wrap(text, setter, 20, 130)]
    assert lines[0] == "extra-"
    assert "".join(lines) == "extra-ordinarilywonderful"
    assert [line.text for line in wrap(text, setter, 20, 2000)] == ["extraordinarilywonderful"]


# --- determinism and speed ---------------------------------------------------------------


def test_same_input_same_png_bytes() -> None:
    for name in ("arabic", "chinese", "mixed", "bakers"):
        for style in STYLES:
            assert draw(name, style).data == draw(name, style).data


def test_fonts_are_loaded_once_per_file_index_size_and_weight() -> None:
    face = fonts.faces_for("en")[0]
    assert fonts.load(face, 31) is fonts.load(face, 31)
    assert fonts.load(face, 31, fonts.BOLD) is not fonts.load(face, 31)
