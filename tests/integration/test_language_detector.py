"""The language detector on the texts people paste: short, mixed, in many scripts."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stories_adapters.language import FastTextLanguageDetector
from stories_core.text import language_tag

DETECTOR = FastTextLanguageDetector()
FULL_WIDTH = "".join(chr(ord(char) + 0xFEE0) for char in "ABCDEF fullwidth" if char != " ")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Café in Zürich costs €5.", "en"),
        ("Sales reached $1.5M on 2024-01-05.", "en"),
        ("# Volcanoes\n\n## Overview\n\nA volcano is an opening in the crust.", "en"),
        ("小猫早上离开了家。它走过一座小桥。它看见一条鱼。", "zh"),
        ("小貓早上離開了家。牠走過一座小橋。", "zh-Hant"),
        ("猫が家を出た。橋を渡った。", "ja"),
        ("東京都は日本の首都です。人口は約千四百万人です。", "ja"),
        # Chinese quoting a Japanese name in katakana
        (
            "我喜欢看ポケモン动画片\uff0c这是一个很长的中文句子\uff0c讲的是我的爱好和我的朋友们。",
            "zh",
        ),
        ("안녕하세요 반갑습니다. 오늘 날씨가 좋네요.", "ko"),
        ("मेरा नाम राम है। मैं दिल्ली में रहता हूँ।", "hi"),
        ("எனது பெயர் ராம். நான் சென்னையில் வசிக்கிறேன்.", "ta"),
        ("ฉันชื่อราม ฉันอาศัยอยู่ในกรุงเทพ", "th"),
        ("ذهب الولد إلى المدرسة في الصباح.", "ar"),
        (
            # Persian, with a zero-width non-joiner inside a word
            "\u06a9\u062a\u0627\u0628\u200c\u0647\u0627 \u0631\u0627 "
            "\u062e\u0648\u0627\u0646\u062f\u0645.",
            "fa",
        ),
        ("שלום עולם, מה שלומך היום?", "he"),
        ("Dr. Müller kam am 3. Mai. Er zahlte 1.234,50 €.", "de"),
        ("Le chat dort sur la table de la cuisine.", "fr"),
        ("Привет, как дела? Сегодня хорошая погода.", "ru"),
        ("12345 $ % 😀", "en"),
    ],
)
def test_detects_the_language(text: str, language: str) -> None:
    assert DETECTOR.detect(text) == language


@pytest.mark.parametrize(
    "text",
    [
        "The word カラオケ means empty orchestra. This is an English text about singing.",
        "Climate report 气候报告 2024 — تقرير المناخ — जलवायु — דוח אקלים. The climate is "
        "changing quickly and the report explains why temperatures rise.",
        "Visit [our page](https://例子.测试/页面) and read the 🚀 **launch** notes today.",
        FULL_WIDTH + " text is here and it is English all the same",
    ],
)
def test_a_few_words_of_another_script_do_not_change_the_language(text: str) -> None:
    assert DETECTOR.detect(text) == "en"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_gets_a_valid_tag(text: str) -> None:
    tag = DETECTOR.detect(text)
    assert language_tag(tag) == tag, "a canonical tag of a real language"
