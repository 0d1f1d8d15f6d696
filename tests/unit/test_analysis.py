# ruff: noqa: RUF001, RUF003 (the cases are texts in many scripts, with their own marks)
"""Key terms and titles of the `local` backend in many languages (stories_local.analysis).

English keeps its rules (stopwords, weak words, plural folding, headline capitals); every
other language gets its own stopwords, keeps its words as written, and scripts written
without spaces (Chinese, Japanese, Thai) are split into words by a dictionary.
"""

from __future__ import annotations

import pytest
import regex
from stories_local.analysis import (
    is_salient,
    key_phrase,
    key_terms,
    sentences,
    stopwords,
    tokens,
)

TEXTS = {
    "en": (
        "Photosynthesis is the process by which green plants turn light into chemical "
        "energy. Inside the leaves, chlorophyll absorbs sunlight. A plant needs light, and "
        "plants need water."
    ),
    "de": (
        "Die Stadt wuchs schnell. In zehn Jahren hat sich die Bevölkerung der Stadt "
        "verdoppelt, und der Verkehr war ein Problem. Die Stadt baute neue Straßen."
    ),
    "fr": (
        "La ville a grandi rapidement. En dix ans, la population de la ville a doublé et "
        "l'eau est devenue rare. La ville a construit des réservoirs pour l'eau."
    ),
    "es": (
        "La ciudad creció rápidamente. En diez años, la población de la ciudad se duplicó. "
        "La ciudad construyó nuevas carreteras y una carretera costera."
    ),
    "ar": (
        "نمت المدينة بسرعة. خلال عشر سنوات تضاعف عدد سكان المدينة، وانتقل الناس إلى "
        "الضواحي. بنت المدينة طرقا جديدة إلى الضواحي."
    ),
    "fa": (
        "کتاب\u200cها در کتابخانه نگهداری می\u200cشوند. مردم کتاب\u200cها را دوست دارند. "
        "کتابخانه شهر بزرگ است."
    ),
    "zh": (
        "全球气温上升了1.5度，科学家警告海平面将继续上升。"
        "人工智能正在改变医疗行业，医院需要人工智能。"
    ),
    "th": ("ภาวะโลกร้อนทำให้อุณหภูมิเฉลี่ยของโลกสูงขึ้น นักวิทยาศาสตร์เตือนว่าระดับน้ำทะเลจะสูงขึ้นต่อไป"),
    "ru": (
        "Город быстро рос. За десять лет население города удвоилось, и вода стала "
        "проблемой. Город построил новые дороги."
    ),
}

KEY_TERMS = {
    "en": ["plant", "light", "photosynthesis", "process", "green", "chemical"],
    # German nouns are capitalised: they, and only they, are its salient words.
    "de": ["Stadt", "Jahren", "Bevölkerung", "Verkehr", "Problem", "Straßen"],
    # "l'eau" is "eau"; "dix" is a number word; "villes" would not fold into "ville".
    "fr": ["ville", "eau", "grandi", "rapidement", "ans", "population"],
    "es": ["ciudad", "creció", "rápidamente", "años", "población", "duplicó"],
    # "إلى" is a stopword although the list spells it without hamza ("الى").
    "ar": ["المدينة", "الضواحي", "نمت", "بسرعة", "تضاعف", "سكان"],
    # The plural "کتاب\u200cها" stays whole; "می\u200cشوند" is a verb.
    "fa": ["کتاب\u200cها", "کتابخانه", "نگهداری", "دوست", "شهر"],
    "zh": ["上升", "人工智能", "全球", "气温", "科学家", "警告"],
    "th": ["โลก", "สูง", "ภาวะ", "ร้อน", "อุณหภูมิ", "เฉลี่ย"],
    # No stemmer: "город" and "города" are two words.
    "ru": ["город", "быстро", "рос", "население", "города", "удвоилось"],
}

# Each sentence's title, with the whole text as context.
TITLES = {
    "en": ["Green Plants", "Chlorophyll Absorbs Sunlight", "Light and Plants"],
    "de": ["Stadt", "Bevölkerung der Stadt", "Stadt"],
    "fr": ["ville a grandi rapidement", "population de la ville", "ville a construit"],
    "es": ["ciudad creció rápidamente", "población de la ciudad", "ciudad construyó"],
    "ar": ["نمت المدينة بسرعة", "سكان المدينة", "بنت المدينة طرقا جديدة"],
    "fa": ["کتابخانه نگهداری", "کتاب\u200cها را دوست", "کتابخانه شهر"],
    "zh": ["全球气温上升了1.5度", "人工智能正在改变医疗行业"],
    "th": ["ภาวะโลกร้อน"],
    "ru": ["Город быстро рос", "население города удвоилось", "Город построил новые дороги"],
}


@pytest.mark.parametrize("language", sorted(TEXTS))
def test_key_terms_in_each_language(language: str) -> None:
    assert key_terms(TEXTS[language], language=language) == KEY_TERMS[language]


@pytest.mark.parametrize("language", sorted(TEXTS))
def test_titles_in_each_language(language: str) -> None:
    text = TEXTS[language]
    titles = [key_phrase(s, context=text, language=language) for s in sentences(text, language)]
    assert titles == TITLES[language]


def test_english_is_the_default_and_keeps_its_rules() -> None:
    text = TEXTS["en"]
    assert key_terms(text) == key_terms(text, language="en") == key_terms(text, language="en-GB")
    assert key_terms(text, limit=2) == ["plant", "light"]  # "plants" folds into "plant"
    assert key_phrase("The fall of Rome was slow.") == "Fall of Rome"
    assert key_phrase("the quick brown fox") == "Quick Brown Fox"
    assert key_phrase("the state of the NHS") == "State of the NHS"


def test_german_gets_its_stopwords_and_no_headline_capitals() -> None:
    # Read with English rules (as before) the title was "Die Stadt Wuchs Schnell" and
    # "die", "der" were key terms.
    assert key_phrase("Die Stadt wuchs schnell.") == "Die Stadt Wuchs Schnell"
    assert key_phrase("Die Stadt wuchs schnell.", language="de") == "Stadt"
    assert key_phrase("Die Stadt wuchs schnell.", language="de-AT") == "Stadt"
    terms = key_terms(TEXTS["de"], limit=20, language="de")
    assert not {"die", "der", "war", "Die", "Der", "zehn"} & set(terms)


@pytest.mark.parametrize(
    ("language", "singular", "plural"),
    [("es", "carretera", "carreteras"), ("fr", "maison", "maisons"), ("pt", "casa", "casas")],
)
def test_plurals_fold_only_in_english(language: str, singular: str, plural: str) -> None:
    text = f"{singular}, {plural}, {plural}."
    assert key_terms(text, language=language) == [plural, singular]
    assert key_terms("The house and the houses. Houses are nice.") == ["house", "nice"]


def test_arabic_stopwords_match_whatever_the_hamza() -> None:
    assert "إلى" in key_terms(TEXTS["ar"])  # English rules: not a stopword
    assert "إلى" not in key_terms(TEXTS["ar"], limit=50, language="ar")
    assert "إلى" not in key_terms("ذهب إلى المدرسة ثم إلى البيت", limit=50, language="ar")


def test_a_zero_width_non_joiner_stays_inside_a_persian_word() -> None:
    assert [t.text for t in tokens("کتاب\u200cها را خواندم", "fa")] == [
        "کتاب\u200cها",
        "را",
        "خواندم",
    ]
    assert [t.text for t in tokens("کتاب\u200cها")] == ["کتاب\u200cها"]  # any language


def test_chinese_and_thai_are_split_into_words_not_clauses() -> None:
    assert [t.text for t in tokens("人工智能正在改变医疗行业", "zh")] == [
        "人工智能",
        "正在",
        "改变",
        "医疗",
        "行业",
    ]
    assert [t.text for t in tokens("ภาวะโลกร้อนทำให้อุณหภูมิสูงขึ้น", "th")] == [
        "ภาวะ",
        "โลก",
        "ร้อน",
        "ทำให้",
        "อุณหภูมิ",
        "สูง",
        "ขึ้น",
    ]
    for language in ("zh", "th"):
        assert all(len(term) <= 8 for term in key_terms(TEXTS[language], language=language))


def test_offsets_of_split_words_point_into_the_text() -> None:
    text = "😀 全球气温上升了1.5度，ภาวะโลกร้อน"
    for token in tokens(text, "zh") + tokens(text, "th") + tokens(text):
        assert text[token.start : token.end] == token.text


def test_a_title_never_cuts_a_number() -> None:
    # Before, "1.5" was cut and the title was "China 气温上升了1".
    sentence = "China 气温上升了1.5度，科学家警告海平面将继续上升。"
    assert key_phrase(sentence) == "China 气温上升了1.5度"
    assert key_phrase(sentence, language="zh") == "China 气温上升了1.5度"
    assert key_phrase("Die Inflation stieg im Jahr 2024 um 3,5 Prozent.", language="de") == (
        "Inflation"
    )
    assert [t.text for t in tokens("Modell A1.5 und B2,5", "de")] == [
        "Modell",
        "A1.5",
        "und",
        "B2,5",
    ]


NUMBER = regex.compile(r"\p{N}+(?:[.,\u066b\u066c]\p{N}+)*")


@pytest.mark.parametrize(
    ("language", "sentence", "title"),
    [
        ("zh", "气温在2023年上升了1.5度，海平面上升了3.7毫米。", "海平面上升了3.7毫米"),
        ("zh", "公司收入达到12,345,678元，增长了4.5%。", "公司收入达到12,345,678元"),
        ("zh", "气温上升1.5度", "气温上升1.5度"),
        ("th", "อุณหภูมิเพิ่มขึ้น 1.5 องศา ในปี 2023", "อุณหภูมิเพิ่ม"),
        ("de", "Der Umsatz 2023 betrug 4,5 Millionen Euro.", "Millionen Euro"),
        ("ar", "ارتفعت الحرارة ١٫٥ درجة في عام ٢٠٢٣.", "ارتفعت الحرارة ١٫٥ درجة"),
        ("fa", "دما ۱٫۵ درجه افزایش یافت.", "دما ۱٫۵ درجه افزایش"),
    ],
)
def test_a_number_in_a_title_is_whole(language: str, sentence: str, title: str) -> None:
    assert key_phrase(sentence, language=language) == title
    whole = {number.group() for number in NUMBER.finditer(sentence)}
    assert {number.group() for number in NUMBER.finditer(title)} <= whole


def test_french_and_italian_elisions_are_words_of_their_own() -> None:
    assert [t.text for t in tokens("l'eau et qu'il", "fr")] == ["l'", "eau", "et", "qu'", "il"]
    assert [t.text for t in tokens("dell'anno", "it")] == ["dell'", "anno"]
    assert [t.text for t in tokens("AB'nin", "tr")] == ["AB'nin"]  # a suffix, not an elision
    assert [t.text for t in tokens("l'eau")] == ["l'eau"]  # English rules as before


def test_russian_keeps_its_words_as_written() -> None:
    assert key_phrase("Город быстро рос.", language="ru") == "Город быстро рос"
    terms = key_terms(TEXTS["ru"], limit=20, language="ru")
    assert not {"и", "за", "десять"} & set(terms)


def test_stopword_lists_per_language() -> None:
    assert {"die", "der", "war"} <= stopwords("de")
    assert {"le", "la", "les"} <= stopwords("fr")
    assert {"el", "la", "los"} <= stopwords("es")
    assert {"и", "в", "на"} <= stopwords("ru")
    assert {"的", "我们"} <= stopwords("zh")
    assert {"และ", "ของ", "ทำให้"} <= stopwords("th")  # sara am folded to one character
    assert "در" in stopwords("fa")
    assert stopwords("pt-BR") == stopwords("pt")
    assert stopwords("xx") == frozenset()
    # Content words are not stopwords.
    assert not {"stadt", "ville", "город", "вода"} & (
        stopwords("de") | stopwords("fr") | stopwords("ru")
    )


def test_scripts_without_a_segmenter_or_list_keep_their_phrases() -> None:
    # Burmese has no stopword list here: its space-delimited phrases stay whole.
    text = "ကြောင်ကလေးသည် မနက်ခင်း အိမ်မှ ထွက်သွားသည်"
    assert [t.text for t in tokens(text, "my")] == text.split()


def test_salience_follows_the_language() -> None:
    (word,) = tokens("zehn")
    assert is_salient(word)  # English rules: any unknown word
    assert not is_salient(word, "de")  # lower case in German: no noun; and a number word


def test_hebrew_stopwords_are_words_not_json_lines() -> None:
    # stop-words ships its Hebrew list as JSON lines ('"אני",'); read bare, none matched.
    assert {"אני", "זה", "על"} <= stopwords("he")
    assert "אני" not in key_terms("אני אוהב את הים. אני שוחה בים כל יום.", language="he")
