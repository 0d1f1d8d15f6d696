"""The local backend's pictures: every script drawn in a font that has it, nothing clipped.

Each text element an image records (role, text, box, fonts) is checked against the font
files themselves: every drawn character has a glyph in the character map of one of the
element's fonts, and every box lies inside the picture.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import replace
from functools import cache
from itertools import combinations

import pytest
from bidi import get_display
from fontTools.ttLib import TTFont
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from stories_educational import EDUCATIONAL
from stories_fictional import FICTIONAL
from stories_financial import FINANCIAL
from stories_local import LocalBackendFactory, drawing, fonts
from stories_local.canvas import Typesetter, arrange, embedding_levels, fit, shape, wrap
from stories_local.narrator import segment_title

from stories_core.generation import ContentStyle, Media, SegmentBrief
from stories_core.text import text_direction

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


# A sentence in each script the reviewer found blank, and the font that must draw it (None:
# no shipped font has the script, so it must be listed as missing instead).
SCRIPT_SAMPLES = {
    "Bengali": ("bn", "ছোট বিড়ালটি সকালে বাড়ি থেকে বের হলো।", "NotoSansBengali[wght].ttf"),
    "Gurmukhi": ("pa", "ਛੋਟੀ ਬਿੱਲੀ ਸਵੇਰੇ ਘਰੋਂ ਨਿਕਲੀ।", "NotoSansGurmukhi[wght].ttf"),
    "Gujarati": ("gu", "નાની બિલાડી સવારે ઘરેથી નીકળી.", "NotoSansGujarati[wght].ttf"),
    "Oriya": ("or", "ଛୋଟ ବିରାଡ଼ି ସକାଳେ ଘରୁ ବାହାରିଲା।", "NotoSansOriya[wght].ttf"),
    "Kannada": ("kn", "ಚಿಕ್ಕ ಬೆಕ್ಕು ಬೆಳಿಗ್ಗೆ ಮನೆಯಿಂದ ಹೊರಟಿತು.", "NotoSansKannada[wght].ttf"),
    "Malayalam": ("ml", "ചെറിയ പൂച്ച രാവിലെ വീട്ടിൽ നിന്ന് ഇറങ്ങി.", "NotoSansMalayalam[wght].ttf"),
    "Sinhala": ("si", "පුංචි පූසා උදේ ගෙදරින් පිටත් විය.", "NotoSansSinhala[wght].ttf"),
    "Georgian": ("ka", "პატარა კატა დილით სახლიდან გავიდა.", "NotoSansGeorgian[wght].ttf"),
    "Armenian": ("hy", "Փոքրիկ կատուն առավոտյան դուրս եկավ տնից։", "NotoSansArmenian[wght].ttf"),  # noqa: RUF001
    "Ethiopic": ("am", "ትንሿ ድመት ጠዋት ከቤት ወጣች።", "NotoSansEthiopic[wght].ttf"),
    "Myanmar": ("my", "ကြောင်ကလေးသည် မနက်ခင်း အိမ်မှ ထွက်သွားသည်။", "NotoSansMyanmar[wght].ttf"),
    "Lao": ("lo", "ແມວນ້ອຍອອກຈາກເຮືອນໃນຕອນເຊົ້າ.", "NotoSansLao[wght].ttf"),
    "Tibetan": ("bo", "བྱི་ལ་ཆུང་ཆུང་ཞོགས་པ་ཁྱིམ་ནས་ཕྱིར་ཐོན།", None),
}  # fmt: skip


@pytest.mark.parametrize("script", sorted(SCRIPT_SAMPLES))
def test_each_script_is_drawn_with_glyphs_or_listed_as_missing(script: str) -> None:
    language, text, font = SCRIPT_SAMPLES[script]
    setter = Typesetter.for_language(language, text)
    block = fit(setter, text, 4000, 400, 1, 40, 40)
    if font is None:
        assert block is None  # nothing left to draw: no box, no blank pill
        assert set(setter.missing(text)) == set(text) - {" "}
        assert fonts.script_names(setter.missing(text)) == [script]
        return
    assert block is not None and block.missing == "" and setter.missing(text) == ""
    assert block.text == text
    for line in block.lines:
        for run in line.runs:
            for char in run.text:
                if not char.isspace():
                    assert ord(char) in cmap(run.face.name, run.face.index), (char, run)
            if any(unicodedata.category(char)[0] == "L" for char in run.text):
                assert run.face.name == font, run


@pytest.mark.parametrize("script", sorted(s for s, (_, _, f) in SCRIPT_SAMPLES.items() if f))
def test_a_story_in_each_newly_covered_script_shows_its_title(script: str) -> None:
    language, text, font = SCRIPT_SAMPLES[script]
    media = drawing.draw("p", brief_for(text, language), FINANCIAL, 1024, 576)
    check_drawn_text(media, 1024, 576)
    title = title_element(media)
    assert title["fonts"][0] == font
    assert title["text"]


def test_what_no_font_has_is_left_out_and_told() -> None:
    setter = Typesetter.for_language("en")
    text = "Tibetan བོད and emoji 😀 in one line"
    block = fit(setter, text, 2000, 200, 1, 30, 30)
    assert block is not None
    assert block.text == "Tibetan and emoji in one line"
    assert block.missing == "བོད😀"
    assert fonts.script_names(block.missing) == ["Emoji", "Tibetan"]
    placed = arrange(block, (0, 0, 2000, 200))
    assert placed.missing == "བོད😀"
    assert placed.visual == ["Tibetan and emoji in one line"]
    # Invisible characters are never drawn by design: they are not missing.
    assert fonts.missing("a\u200bb\u00ad\u2060c\ufe0f", setter.faces) == ""


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


# Lines as python-bidi (the unicode-bidi crate) displays them, with the base direction the
# paragraph should get: the language's where it is right to left and the text has
# right-to-left letters, else the first strong letter's, else the language's.
BIDI_LINES = [
    ("he", "שלום עולם - hello world - שלום", "R"),
    ("he", "אני אוהב C++ ו-Java!", "R"),  # noqa: RUF001
    ("he", "1. שלום", "R"),
    ("he", "ביקור ב-New York. · PART 1 OF 1", "R"),
    ("he", "המחיר עלה ב-2023 ל-45% (בערך).", "R"),
    ("he", "שלום (hello) עולם", "R"),
    ("he", "Java היא שפה (language) טובה.", "R"),
    ("he", "PART 1 OF 1", "L"),
    ("en", "abc (שלום) def", "L"),
    ("en", "The word مرحبا means hello, 123 شكرا 2023", "L"),
    ("en", "שלום world (again) 42", "R"),
    ("en", "(1) 2.5 - 3", "L"),
    ("ar", "قال Tom (صديقي) مرحبا في عام 2023 و ١٢٣", "R"),
    ("ar", "عام 2023 كان 45%", "R"),
    ("ar", "السعر 1,234.50 دولار [تقريبا]", "R"),
    ("fa", "سال ۱۴۰۲ (2023) بود", "R"),
    ("pa-Arab", "123 - 456", "R"),
    ("ur", "Tom کا گھر", "R"),
]


@pytest.mark.parametrize(("language", "text", "base"), BIDI_LINES)
def test_lines_are_drawn_in_the_order_python_bidi_displays_them(
    language: str, text: str, base: str
) -> None:
    setter = Typesetter.for_language(language).directed(text)
    assert setter.direction == {"R": "rtl", "L": "ltr"}[base]
    line = shape(setter, setter.prepare(text), 30)
    assert line.visual == get_display(text, base_dir=base)
    if language == "en":  # the text decides: python-bidi finds the same base itself
        assert line.visual == get_display(text)
    for run in line.runs:
        assert run.direction == ("rtl" if run.level % 2 else "ltr")


def test_the_reviewed_hebrew_lines_read_as_fribidi_shows_them() -> None:
    def visual(text: str) -> str:
        return shape(Typesetter.for_language("he").directed(text), text, 30).visual

    # Characters from left to right (a Hebrew word's letters so appear reversed).
    assert visual("שלום עולם - hello world - שלום") == "םולש - hello world - םלוע םולש"
    assert visual("אני אוהב C++ ו-Java!") == "!Java-ו ++C בהוא ינא"  # noqa: RUF001
    assert visual("1. שלום") == "םולש .1"
    assert visual("ביקור ב-New York. · PART 1 OF 1") == "New York. · PART 1 OF 1-ב רוקיב"
    assert visual("עלה ב-2023 ל-45%") == "45%-ל 2023-ב הלע"  # "%" stays with its number


def test_each_run_has_one_level_and_brackets_share_the_face_of_what_surrounds_them() -> None:
    assert run_view("ביקור ב-New York. · PART 1 OF 1", "he") == [
        ("New York. · PART 1 OF 1", "NotoSans[wdth,wght].ttf", "ltr"),
        ("ביקור ב-", "Heebo[wght].ttf", "rtl"),
    ]
    assert run_view("שלום (hello) עולם", "he") == [
        (") עולם", "Heebo[wght].ttf", "rtl"),
        ("hello", "NotoSans[wdth,wght].ttf", "ltr"),
        ("שלום (", "Heebo[wght].ttf", "rtl"),
    ]
    # Digits in a right-to-left line read left to right, in a run of their own (in the
    # face of the words before them, which has them).
    assert run_view("عام 2023", "ar") == [
        ("2023", "NotoSansArabic[wdth,wght].ttf", "ltr"),
        ("عام", "NotoSansArabic[wdth,wght].ttf", "rtl"),
    ]


def test_embedding_levels_follow_rule_l1_for_trailing_spaces() -> None:
    assert embedding_levels("abc  ", "rtl") == (2, 2, 2, 1, 1)
    assert embedding_levels("שלום  ", "ltr") == (1, 1, 1, 1, 0, 0)
    assert embedding_levels("abc 12", "ltr") == (0,) * 6
    assert embedding_levels("ab 12", "rtl") == (2, 2, 2, 2, 2)
    assert embedding_levels("א 12", "ltr") == (1, 1, 2, 2)  # numbers count as R (N1)
    assert embedding_levels("א  b", "ltr") == (1, 0, 0, 0)


_BIDI_ALPHABET = "abcXYZ שלוםמرحبا0123456789٠١٢۱۲.,:;-+/%#$€()[]!?\"'·"  # noqa: RUF001


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=_BIDI_ALPHABET, max_size=40), rtl=st.booleans())
def test_any_mixed_line_is_drawn_in_python_bidis_order(text: str, rtl: bool) -> None:
    setter = replace(Typesetter.for_language("en"), direction="rtl" if rtl else "ltr")
    prepared = setter.prepare(text)
    line = shape(setter, prepared, 12)
    assert line.visual == get_display(prepared, base_dir="R" if rtl else "L")
    assert sorted(line.visual) == sorted(prepared)


@pytest.mark.parametrize(
    "language",
    ["ar", "he", "fa", "ur", "ps", "yi", "dv", "ug", "ckb", "sd", "ks", "pa-Arab", "az-Arab",
     "en", "pa", "hi", "zh", "ja", "ru", "az", "und"],
)  # fmt: skip
def test_the_base_direction_follows_stories_core_text_direction(language: str) -> None:
    rtl = text_direction(language) == "rtl"
    assert fonts.is_rtl_language(language) == (rtl and language != "und")
    # No strong letter: the language decides.
    assert fonts.paragraph_direction("2023 - 45%", language) == ("rtl" if rtl else "ltr")
    # A right-to-left language whose text has right-to-left letters reads right to left;
    # any other takes the first strong letter.
    assert fonts.paragraph_direction("Java שלום", language) == ("rtl" if rtl else "ltr")
    assert fonts.paragraph_direction("שלום Java", language) == "rtl"


def test_punjabi_in_shahmukhi_reads_right_to_left_and_in_gurmukhi_left_to_right() -> None:
    assert fonts.paragraph_direction("123", "pa-Arab") == "rtl"
    assert fonts.paragraph_direction("123", "pa") == "ltr"
    assert fonts.paragraph_direction("پنجابی 123", "pa-Arab") == "rtl"


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


# --- charts: negative bars, labels and axes in the text's language -----------------------


def _chart(text: str, language: str, width: int = 1024, height: int = 576) -> Media:
    brief = SegmentBrief(index=1, count=4, title="Results", text=text, language=language)
    media = drawing.draw("prompt", brief, FINANCIAL, width, height)
    assert media.metadata["renderer"] == "chart"
    check_drawn_text(media, width, height)
    return media


def _texts(media: Media, role: str) -> list[str]:
    return [element["text"] for element in elements(media) if element["role"] == role]


@pytest.mark.parametrize(
    "text",
    [
        "Profit was $5 million in 2022 and -$2 million in 2023.",
        "Losses were -$5 million in 2022 and -$2 million in 2023.",
        "Results: -$5 million in 2021, $3 million in 2022 and -$0.5 million in 2023.",
    ],
)
def test_a_negative_bar_shows_both_its_value_and_its_label(text: str) -> None:
    media = _chart(text, "en")
    years = [year for year in ("2021", "2022", "2023") if year in text]
    assert _texts(media, "label") == years
    assert len(_texts(media, "value")) == len(years)
    values = [e for e in elements(media) if e["role"] == "value"]
    labels = [e for e in elements(media) if e["role"] == "label"]
    assert max(e["box"][3] for e in values) <= min(e["box"][1] for e in labels)


def test_bars_that_share_a_year_are_labelled_by_noun_and_year() -> None:
    media = _chart(
        "Revenue was $5 million in 2023 and $4 million in 2022, while profit was "
        "$1 million in 2023 and -$0.8 million in 2022.",
        "en",
    )
    assert _texts(media, "label") == ["revenue 2023", "revenue 2022", "profit 2023", "profit 2022"]


def test_a_german_chart_is_written_the_german_way() -> None:
    media = _chart(
        "Der Umsatz stieg 2023 auf 5,2 Mio. € und lag 2022 bei 4,1 Mio. €; der Gewinn sank "
        "2023 auf -0,4 Mio. € nach 0,6 Mio. € im Jahr 2022.",
        "de",
    )
    ticks = _texts(media, "tick")
    assert "0\u00a0€" in ticks and "2\u00a0Mio.\u00a0€" in ticks and "-2\u00a0Mio.\u00a0€" in ticks
    bare = [tick.replace("Mio.", "") for tick in ticks]
    assert not any("M" in tick or "." in tick for tick in bare), ticks  # not "€2.5M"
    assert _texts(media, "label") == ["Umsatz 2023", "Umsatz 2022", "Gewinn 2023", "Gewinn 2022"]
    assert _texts(media, "value") == ["5,2 Mio. €", "4,1 Mio. €", "-0,4 Mio. €", "0,6 Mio. €"]
    assert _texts(media, "note") == []  # the English note; "0 €" marks the baseline


@pytest.mark.parametrize(
    ("language", "text", "tick"),
    [
        ("ar", "بلغت الإيرادات 5.2 مليون € في عام 2023 و4.1 مليون € في عام 2022.", "مليون"),
        ("zh", "2023年收入为520万欧元，2022年为410万欧元。收入€5.2 百万。", "万"),  # noqa: RUF001
        ("zh", "收入在2023年是 €5,200,000，在2022年是 €4,100,000。", "万"),  # noqa: RUF001
    ],
)
def test_charts_in_other_languages_carry_no_english_words(
    language: str, text: str, tick: str
) -> None:
    brief = SegmentBrief(index=1, count=4, title="", text=text, language=language)
    media = drawing.draw("prompt", brief, FINANCIAL, 1024, 576)
    check_drawn_text(media, 1024, 576)
    drawn = " ".join(element["text"] for element in elements(media))
    for english in ("Figures", "Bars", "zero", "Part", "Untitled", "of 4"):
        assert english not in drawn
    if media.metadata["renderer"] == "chart" and tick:
        assert all(tick in t for t in _texts(media, "tick") if t.strip("0\u00a0€US$") != "")


@pytest.mark.parametrize("language", ["ar", "zh", "de", "hi"])
@pytest.mark.parametrize("title", ["", "Untitled", "Part 2"])
def test_other_languages_get_neutral_part_labels_and_titles(language: str, title: str) -> None:
    brief = SegmentBrief(index=1, count=4, title=title, text="🚀 🚀", language=language)
    for style in STYLES:
        media = drawing.draw("prompt", brief, style, 1024, 576)
        check_drawn_text(media, 1024, 576)
        drawn = [element["text"] for element in elements(media)]
        assert not any("Part" in text or "Untitled" in text for text in drawn), drawn
        assert "2 / 4" in drawn
    arabic = SegmentBrief(1, 4, "Untitled", TEXTS["arabic"][1], language="ar")
    media = drawing.draw("prompt", arabic, FINANCIAL, 1024, 576)
    assert _texts(media, "part_label") == ["2 / 4"]
    assert _texts(media, "title")[0].startswith("خرج")


def test_english_pictures_keep_their_english_part_label_and_note() -> None:
    brief = SegmentBrief(index=1, count=4, title="", text="🚀 🚀", language="en")
    media = drawing.draw("prompt", brief, FINANCIAL, 1024, 576)
    assert _texts(media, "part_label") == ["PART 2 OF 4"]
    assert _texts(media, "title") == ["Part 2"]
    chart = _chart("Revenue was $3m in 2022 and $4m in 2023.", "en-GB")
    assert _texts(chart, "note") == ["Figures as stated in the text. Bars start at zero."]
    assert "$4M" in _texts(chart, "tick")


def test_drawing_never_fails_on_any_text() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    pieces = [
        *"0123456789", "1,234", "1.234,56", "9" * 40, "3.14159265358979323846264338327950288",
        ".", ",", " ", "\u00a0", "\n", "-", "\u2212", "%", "$", "€", "¥", " million", "bn",
        " Mio.", " 万", " per ", " a year", " each", " in 2023", " and ", "Revenue", "# ",
        "**", "[x](http://a.b)", "🚀", "مليون", "收入", "\u200f",
    ]  # fmt: skip
    texts = st.lists(
        st.one_of(st.sampled_from(pieces), st.text(max_size=4)), min_size=1, max_size=30
    ).map("".join)
    languages = st.sampled_from(["en", "de", "fr", "ar", "zh", "hi", "und", "", "xx"])
    sizes = st.sampled_from([(320, 180), (200, 300), (64, 64)])

    @settings(max_examples=60, deadline=None)
    @given(texts, languages, st.sampled_from(STYLES), sizes)
    def check(text: str, language: str, style: ContentStyle, size: tuple[int, int]) -> None:
        brief = SegmentBrief(index=0, count=1, title="", text=text, language=language)
        media = drawing.draw("prompt", brief, style, *size)
        assert media.data.startswith(b"\x89PNG")

    check()


def test_the_scene_prompt_quotes_plain_words_split_by_the_texts_language() -> None:
    from stories_local.prompts import image_prompt

    text = (
        "# 🚀 **Launch** [report](https://example.com/launch-report-2024) 🚀\n\n"
        "The **rocket** rose at [dawn](https://example.com/dawn). It flew 🚀."
    )
    prompt = image_prompt(SegmentBrief(0, 1, "", text, language="en"), FICTIONAL)
    assert prompt.endswith("The moment: The rocket rose at dawn.")
    for markup in ("#", "*", "[", "](", "http", "example.com", "🚀"):
        assert markup not in prompt
    german = "Der Hund bzw. Wolf lief nach Hause. Dann schlief er."
    prompt = image_prompt(SegmentBrief(0, 1, "Heimweg", german, language="de"), FICTIONAL)
    assert prompt.endswith("The moment: Der Hund bzw. Wolf lief nach Hause.")


def test_a_script_no_shipped_font_covers_is_listed_not_drawn() -> None:
    text = "# བོད་ཡིག\n\nབོད་ཡིག་ནི་ཡིག་གཟུགས་ཡིན། 🚀"
    media = drawing.draw("", brief_for(text, "bo"), EDUCATIONAL, 1024, 576)
    assert "Tibetan" in media.metadata["missing_scripts"]
    drawn = "".join(element["text"] for element in elements(media))
    assert "བ" not in drawn and "🚀" not in drawn
    english = drawing.draw("", brief_for("The Moon pulls the sea.", "en"), EDUCATIONAL, 640, 360)
    assert english.metadata["missing_scripts"] == []


def test_a_long_unbroken_word_neither_becomes_a_term_nor_stalls_the_picture() -> None:
    text = f"The sequence {'ACGT' * 1000} was read. The sequence matters."
    brief = SegmentBrief(0, 1, "", text, "", "en")
    media = drawing.draw("", brief, EDUCATIONAL, 1024, 576)
    assert all(len(element["text"]) <= 130 for element in elements(media))
    check_drawn_text(media, 1024, 576)
