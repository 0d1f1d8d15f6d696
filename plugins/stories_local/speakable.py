# ruff: noqa: RUF001 (the rules name dashes, marks and full stops of many scripts)
"""Text as a listener should hear it: what the text means, in the text's language.

`speakable(text, language)` turns one narration line into the words eSpeak NG is given:

- Markup is parsed, not read: markdown (markdown-it-py, with tables) keeps the words of
  headings, paragraphs, list items and table rows, each ended as a sentence; HTML tags,
  images, code blocks and flattened code fences are dropped, and a link keeps its text.
- URLs, e-mail addresses and emoji (the `emoji` package) are dropped.
- Numbers become words: amounts with their currency after them and magnitudes read out
  ("$1.5M" -> "one point five million dollars"), percentages, ranges, dates (ISO and
  numeric dates are first written out in the locale's long form), times, ordinals, units,
  years, decades and fractions; common abbreviations are expanded.

Words come from libraries wherever one has them: num2words (cardinals, ordinals, years,
amounts with cents), babel/CLDR (currency, unit and month names, date formats, decimal
and grouping marks, per locale). Only what no library offers is tabled here: which
abbreviations a language has, the word for "to" in a range, the symbol of a currency,
the symbol of a unit. Where num2words has no words for a language (Chinese, Hindi, ...),
digits are left for eSpeak, which reads them in its own language, after they are freed
of grouping marks, magnitudes and symbols it would misread.

Each language's rules are compiled once, on first use.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache

import emoji
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, get_date_format, get_month_names
from babel.numbers import get_currency_name, get_decimal_symbol, get_group_symbol
from babel.units import UnknownUnitError, format_unit
from markdown_it.token import Token
from num2words import CONVERTER_CLASSES, num2words

from stories_core.text import (
    BlockKind,
    blocks,
    language_subtags,
    markdown_tokens,
    primary_language,
    reads_as_prose,
)

__all__ = [
    "as_sentence",
    "is_english",
    "speakable",
    "without_code",
]

# --- languages ---------------------------------------------------------------------------------


@cache
def is_english(tag: str) -> bool:
    return primary_language(tag) == "en"


# --- markup ------------------------------------------------------------------------------------

_TAG = re.compile(r"<[^>]*>")
_HIDDEN_HTML = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TERMINAL = frozenset(".!?…:;。！？；：।॥؟۔።၊။")
_CLOSERS = frozenset("\"'”’»)]」』）")


def without_code(text: str) -> str:
    """`text` with its fenced code blocks, and indented blocks that are code, blanked out.

    Lines are kept (emptied), so nothing around a block moves to another paragraph.
    """
    if "```" not in text and "~~~" not in text and "    " not in text and "\t" not in text:
        return text
    code = [block for block in blocks(text) if block.kind is BlockKind.CODE]
    if not code:
        return text
    kept, end = [], 0
    for block in code:  # the block's characters go; its line breaks stay
        kept += [text[end : block.start], "\n" * text.count("\n", block.start, block.end)]
        end = block.end
    return "".join([*kept, text[end:]])


def _inline_text(children: list[Token]) -> str:
    """The words of an inline run: link text without its address, no code fences or images."""
    parts: list[str] = []
    in_autolink = False
    for child in children:
        kind = child.type
        if kind == "text" and not in_autolink:
            parts.append(child.content)
        elif kind == "code_inline" and len(child.markup) < 3:
            parts.append(child.content)  # a short `name`; three backticks were a code fence
        elif kind in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif kind == "html_inline":
            parts.append(" ")
        elif kind == "link_open":
            in_autolink = child.markup in ("autolink", "linkify")
        elif kind == "link_close":
            in_autolink = False
    return "".join(parts)


def _title_line(text: str) -> str:
    """Ends a paragraph's first line as a sentence when it reads as a title over the rest."""
    first, _, rest = text.partition("\n")
    words = first.split()
    if (
        rest
        and 0 < len(words) <= 10
        and (first.strip()[0].isupper() or first.strip()[0].isdigit())
        and first.strip()[-1] not in _TERMINAL | _CLOSERS | {","}
        and rest.lstrip()[:1].isupper()
        # a long first line over shorter ones is hard-wrapped prose, not a title
        and (len(first) < 40 or len(first) < 0.6 * max(len(line) for line in rest.splitlines()))
    ):
        return f"{first.strip()}. {rest}"
    return text


def _blocks(text: str) -> list[str]:
    """The text's readable blocks, in order: headings, paragraphs, list items, table rows."""
    blocks: list[str] = []
    row: list[str] | None = None
    item_number = ""
    for token in markdown_tokens(text):
        kind = token.type
        if kind == "inline":
            words = _inline_text(token.children or [])
            if row is not None:
                row.append(" ".join(words.split()))
                continue
            if item_number:
                words, item_number = f"{item_number}. {words}", ""
            blocks.append(_title_line(words))
        elif kind == "list_item_open":
            item_number = token.info  # the number of an ordered item, kept as written
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close" and row is not None:
            blocks.append(", ".join(cell for cell in row if cell))
            row = None
        elif kind == "html_block":
            blocks.append(_TAG.sub(" ", _HIDDEN_HTML.sub(" ", token.content)))
        elif kind == "code_block" and reads_as_prose(token.content):
            blocks.append(token.content)
    return blocks


def as_sentence(text: str, language: str) -> str:
    """`text` ended as a sentence in `language` ("Title" -> "Title.", "标题" -> "标题。")."""
    return _as_sentence(text, "。" if primary_language(language) in _CJK else ".")


def _as_sentence(block: str, full_stop: str) -> str:
    words = " ".join(block.split())
    if not words:
        return ""
    end = words.rstrip("".join(_CLOSERS))
    if end and end[-1] in _TERMINAL:
        return words
    return words + full_stop


# --- links and emoji ---------------------------------------------------------------------------

_TRAILING = ".,;:!?)]}'\"»”’"
_LINK = (
    r"(?:"
    r"(?<![\w@.-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # e-mail
    r"|\b(?:https?|ftp)://\S+"  # URL with a scheme
    r"|\bwww\.\S+"
    r"|(?<![\w@.-])[\w-]+(?:\.[\w-]+)*\."  # a bare domain name
    r"(?:com|org|net|io|dev|app|ai|edu|gov|info|co\.uk|de|fr|es|nl|ch|be|eu|ru|cn|jp|br|au|ca)"
    r"(?:/\S*)?(?![\w.-]*\w)"
    r")"
)
# Prepositions that lose their sense with the address after them ("write to us at ...").
_LINK_PREPOSITIONS = {
    "en": "at via on from to under", "de": "unter an auf bei via", "fr": "sur à via",
    "es": "en a vía", "it": "su a via", "pt": "em a via", "nl": "op via naar",
}  # fmt: skip
_EMOJI_CANDIDATE = re.compile(
    "[\u00a9\u00ae\u2000-\u2bff\u3030\u303d\u3297\u3299\ufe0f\U0001f000-\U0001ffff]"
)
_EMOJI_LEFTOVER = re.compile("[\ufe0e\ufe0f\u200d\u20e3\U0001f3fb-\U0001f3ff]")


_NAMED_DOMAIN = re.compile(r"[A-Z][\w-]*\.(?:com|org|net|io|ai|de|fr|es|nl|ch|eu|co\.uk)")


def _drop_link(match: re.Match[str]) -> str:
    """Removes the address but not punctuation that ends the sentence after it; a
    company named by its domain ("Amazon.com", "Check24.de") is said as a name."""
    found = match.group()
    named = _NAMED_DOMAIN.fullmatch(found.rstrip(_TRAILING))
    if named:
        name, _, suffix = named.group().partition(".")
        return f"{name} dot {suffix.replace('.', ' dot ')}{found[named.end() :]}"
    kept = len(found) - len(found.rstrip(_TRAILING))
    return " " + found[len(found) - kept :] if kept else " "


def _drop_links_and_emoji(text: str, links: re.Pattern[str]) -> str:
    if "@" in text or "." in text or ":" in text:
        text = links.sub(_drop_link, text)
    if _EMOJI_CANDIDATE.search(text):
        text = _EMOJI_LEFTOVER.sub("", emoji.replace_emoji(text, replace=" "))
    return text


# --- per-language tables: only what no library has ---------------------------------------------

# (abbreviation, expansion) in the text's own spelling. An abbreviation that is a title
# ("Dr.") is only expanded before a capitalised name; one that counts ("No.") only before a
# number. Others may end a sentence, and then keep a full stop. A space after an inner dot
# is optional ("z.B." and "z. B.").
_ABBREVIATIONS: dict[str, dict[str, str]] = {
    "en": {
        "e.g.": "for example", "eg.": "for example", "i.e.": "that is", "etc.": "et cetera",
        "vs.": "versus", "vs": "versus", "approx.": "approximately", "cf.": "compare",
        "et al.": "and others", "a.k.a.": "also known as", "incl.": "including",
        "esp.": "especially", "ca.": "circa", "St.": "Street", "Inc.": "Incorporated",
        "Ltd.": "Limited", "Corp.": "Corporation", "Dept.": "Department", "Jr.": "Junior",
        "Sr.": "Senior",
        "Mr.": "Mister", "Mrs.": "Missus", "Ms.": "Miz",
    },
    "de": {
        "z.B.": "zum Beispiel", "d.h.": "das heißt", "u.a.": "unter anderem",
        "usw.": "und so weiter", "bzw.": "beziehungsweise", "ca.": "circa",
        "evtl.": "eventuell", "ggf.": "gegebenenfalls", "inkl.": "inklusive",
        "vgl.": "vergleiche", "etc.": "et cetera", "u.U.": "unter Umständen",
        "z.T.": "zum Teil", "s.o.": "siehe oben", "s.u.": "siehe unten",
        "Jh.": "Jahrhundert", "Str.": "Straße",
    },
    "fr": {
        "etc.": "et cetera", "p.ex.": "par exemple", "c.-à-d.": "c'est-à-dire",
        "env.": "environ",
    },
    "es": {
        "etc.": "etcétera", "p.ej.": "por ejemplo", "aprox.": "aproximadamente",
        "EE.UU.": "Estados Unidos", "Ud.": "usted", "Uds.": "ustedes",
    },
    "it": {"ecc.": "eccetera", "ad es.": "ad esempio", "ca.": "circa"},
    "pt": {"etc.": "etcétera", "p.ex.": "por exemplo", "aprox.": "aproximadamente"},
    "nl": {
        "bijv.": "bijvoorbeeld", "d.w.z.": "dat wil zeggen", "enz.": "enzovoort",
        "o.a.": "onder andere", "ca.": "circa", "etc.": "et cetera",
    },
}  # fmt: skip
_TITLES: dict[str, dict[str, str]] = {
    "en": {
        "Dr.": "Doctor", "Dr": "Doctor", "Mr": "Mister", "Mrs": "Missus", "Prof.": "Professor",
        "St.": "Saint", "Mt.": "Mount",
        "Capt.": "Captain", "Gen.": "General", "Sgt.": "Sergeant", "Lt.": "Lieutenant",
        "Rev.": "Reverend", "Gov.": "Governor", "Sen.": "Senator", "Pres.": "President",
    },
    "de": {"Dr.": "Doktor", "Prof.": "Professor", "Hr.": "Herr", "St.": "Sankt"},
    "fr": {
        "M.": "Monsieur", "MM.": "Messieurs", "Mme": "Madame", "Mmes": "Mesdames",
        "Mlle": "Mademoiselle", "Dr": "Docteur", "Pr": "Professeur", "St": "Saint",
        "Ste": "Sainte",
    },
    "es": {
        "Sr.": "señor", "Sra.": "señora", "Srta.": "señorita", "Dr.": "doctor",
        "Dra.": "doctora", "Dña.": "doña",
    },
    "it": {
        "Sig.": "signor", "Sig.ra": "signora", "Dott.": "dottor", "Dott.ssa": "dottoressa",
        "Prof.": "professor",
    },
    "pt": {"Sr.": "senhor", "Sra.": "senhora", "Dr.": "doutor", "Dra.": "doutora"},
    "nl": {"dhr.": "de heer", "mevr.": "mevrouw", "Dr.": "dokter", "Prof.": "professor"},
}  # fmt: skip
_COUNTERS: dict[str, dict[str, str]] = {
    "en": {
        "No.": "number", "Nos.": "numbers", "#": "number", "p.": "page",
        "pp.": "pages", "Vol.": "volume", "vol.": "volume", "Ch.": "chapter",
        "ch.": "chapter", "Fig.": "figure", "fig.": "figure",
    },
    "de": {"Nr.": "Nummer", "S.": "Seite", "Abb.": "Abbildung", "Kap.": "Kapitel", "#": "Nummer"},
    "fr": {"n°": "numéro", "N°": "numéro", "no": "numéro", "p.": "page", "#": "numéro"},
    "es": {"núm.": "número", "n.º": "número", "nº": "número", "pág.": "página", "#": "número"},
    "it": {"n.": "numero", "pag.": "pagina", "#": "numero"},
    "pt": {"n.º": "número", "nº": "número", "pág.": "página", "#": "número"},
    "nl": {"nr.": "nummer", "blz.": "bladzijde", "#": "nummer"},
}  # fmt: skip
# Abbreviations that often end a sentence, and then keep a full stop once expanded.
_SENTENCE_ENDS = frozenset(
    word
    for lower in [
        "etc.",
        "Inc.",
        "Ltd.",
        "Corp.",
        "Jr.",
        "Sr.",
        "usw.",
        "enz.",
        "ecc.",
        "Dept.",
        "St.",
    ]
    for word in (lower, lower[0].upper() + lower[1:])
)
_NEXT_SENTENCE = re.compile(r"\s+[A-ZÀ-ÖØ-Þ]")
_SPACES = re.compile(r"\s")
_CENTS = re.compile(r"(\d+)[.,](\d\d)")
_DIGIT_RUNS = re.compile(r"\d+")
_YEAR_LIKE = re.compile(r"1[1-9]\d\d|20\d\d")
_SLASH_BETWEEN_NUMBERS = re.compile(r"(?<=\d)/(?=\d)")  # "24/7"
_CHINESE_YEAR = re.compile(r"(\d{4})(?=年)")
_CODE_LIKE = re.compile(r"[A-Z]{3}")
_GERMAN_DATIVE = re.compile(r"\b(?:am|vom|zum|beim|dem|den)\s+$", re.IGNORECASE)
_RANGE_WORDS = {
    "en": "to", "de": "bis", "fr": "à", "es": "a", "it": "a", "pt": "a", "nl": "tot",
    "sv": "till", "da": "til", "no": "til", "nb": "til", "pl": "do", "cs": "až", "sk": "až",
    "ru": "до", "uk": "до", "zh": "至", "yue": "至",
}  # fmt: skip
# Where CLDR writes a percentage with its sign only.
_PERCENT_WORDS = {"ar": "في المئة"}
_ABOUT_WORDS = {
    "en": "about", "de": "etwa", "fr": "environ", "es": "aproximadamente", "it": "circa",
    "pt": "aproximadamente", "nl": "ongeveer",
}  # fmt: skip
# Context that makes a four-digit number a year where years are read unlike counts.
_YEAR_CONTEXT = {
    "en": "in since by from until till to of before after during around circa early late "
    "mid year years summer winter spring autumn fall and or between through the "
    "q1 q2 q3 q4 h1 h2 fy",
    "de": "im seit bis von ab um vor nach Jahr Jahre Jahres Anfang Ende Mitte Sommer Winter "
    "Frühjahr Herbst und oder zwischen",
    "nl": "in sinds tot van vanaf rond jaar en of tussen",
}
# Words after a magnitude and before a currency ("deux millions d'euros").
_MAGNITUDE_OF = {"fr": "de", "es": "de", "pt": "de", "it": "di"}
# Times: (with minutes, on the hour); {h} and {m} are words or digits.
_CLOCK = {
    "de": ("{h} Uhr {m}", "{h} Uhr"),
    "fr": ("{h} heures {m}", "{h} heures"),
    "nl": ("{h} uur {m}", "{h} uur"),
    "es": ("{h} y {m}", "{h}"),
    "it": ("{h} e {m}", "{h}"),
    "pt": ("{h} e {m}", "{h} horas"),
    "zh": ("{h}点{m}分", "{h}点"),
    "yue": ("{h}点{m}分", "{h}点"),
}
# num2words languages whose currency forms are their own (others inherit English forms).
_OWN_CURRENCY_FORMS = frozenset(
    ["de", "fr", "es", "it", "pt", "nl", "ru", "pl", "fi", "cs", "he", "uk"]
)
_CJK = frozenset({"zh", "yue", "ja"})
_WIDE = "\u3000-\u9fff\uff00-\uffef"  # CJK characters and punctuation: no spaces around
_CHINESE_DIGITS = str.maketrans("0123456789", "〇一二三四五六七八九")

_CURRENCY_SYMBOLS = {
    "US$": "USD", "C$": "CAD", "CA$": "CAD", "A$": "AUD", "AU$": "AUD", "NZ$": "NZD",
    "HK$": "HKD", "S$": "SGD", "R$": "BRL", "$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY",
    "￥": "JPY", "₹": "INR", "₩": "KRW", "₽": "RUB", "₺": "TRY", "₪": "ILS", "₫": "VND",
    "฿": "THB", "₴": "UAH", "₦": "NGN", "₱": "PHP", "zł": "PLN",
}  # fmt: skip
# ISO codes read as currencies next to an amount: the common ones only, since many codes
# are also words ("TOP 10", "ALL 3").
_CURRENCY_CODES = frozenset(
    [
        "USD",
        "EUR",
        "GBP",
        "JPY",
        "CNY",
        "RMB",
        "CHF",
        "CAD",
        "AUD",
        "NZD",
        "INR",
        "RUB",
        "BRL",
        "KRW",
        "MXN",
        "SEK",
        "NOK",
        "DKK",
        "PLN",
        "TRY",
        "ZAR",
        "HKD",
        "SGD",
        "ILS",
        "CZK",
        "HUF",
    ]
)
_UNITS = {
    "km/h": "speed-kilometer-per-hour", "kph": "speed-kilometer-per-hour",
    "mph": "speed-mile-per-hour", "m/s": "speed-meter-per-second",
    "km²": "area-square-kilometer", "m²": "area-square-meter", "km2": "area-square-kilometer",
    "m2": "area-square-meter", "ha": "area-hectare",
    "km": "length-kilometer", "cm": "length-centimeter", "mm": "length-millimeter",
    "m": "length-meter", "mi": "length-mile", "ft": "length-foot", "yd": "length-yard",
    "kg": "mass-kilogram", "mg": "mass-milligram", "g": "mass-gram", "lb": "mass-pound",
    "lbs": "mass-pound", "oz": "mass-ounce",
    "ml": "volume-milliliter", "mL": "volume-milliliter", "cl": "volume-centiliter",
    "l": "volume-liter", "L": "volume-liter",
    "°C": "temperature-celsius", "℃": "temperature-celsius", "°F": "temperature-fahrenheit",
    "℉": "temperature-fahrenheit", "°": "angle-degree",
    "kWh": "energy-kilowatt-hour", "kcal": "energy-kilocalorie", "kW": "power-kilowatt",
    "MW": "power-megawatt", "GW": "power-gigawatt", "W": "power-watt",
    "TB": "digital-terabyte", "GB": "digital-gigabyte", "MB": "digital-megabyte",
    "KB": "digital-kilobyte", "kB": "digital-kilobyte",
    "GHz": "frequency-gigahertz", "MHz": "frequency-megahertz", "kHz": "frequency-kilohertz",
    "Hz": "frequency-hertz",
    "ms": "duration-millisecond", "sec": "duration-second", "min": "duration-minute",
    "mins": "duration-minute", "hr": "duration-hour", "hrs": "duration-hour", "h": "duration-hour",
}  # fmt: skip
# Magnitudes written after an amount: abbreviations anyone uses, and words per language.
_MAGNITUDES = {
    "k": 3, "K": 3, "M": 6, "mn": 6, "MM": 6, "bn": 9, "B": 9, "tn": 12, "T": 12,
}  # fmt: skip
_MAGNITUDE_WORDS = {
    "en": {"thousand": 3, "million": 6, "billion": 9, "trillion": 12},
    "de": {
        "Tsd.": 3, "Tausend": 3, "Mio.": 6, "Mio": 6, "Million": 6, "Millionen": 6,
        "Mrd.": 9, "Mrd": 9, "Milliarde": 9, "Milliarden": 9,
    },
    "fr": {"Md": 9, "Mds": 9, "million": 6, "millions": 6, "milliard": 9, "milliards": 9},
    "es": {"millón": 6, "millones": 6, "mil millones": 9},
    "it": {"mila": 3, "milione": 6, "milioni": 6, "miliardo": 9, "miliardi": 9},
    "pt": {"mil": 3, "milhão": 6, "milhões": 6, "bilhão": 9, "bilhões": 9},
    "nl": {"duizend": 3, "miljoen": 6, "miljard": 9},
    "ru": {"тыс.": 3, "млн": 6, "млрд": 9},
}  # fmt: skip
# Attached to an amount with a currency only: "$5m" is money, "5m" is a length.
_MONEY_ONLY_MAGNITUDES = {"m": 6, "b": 9}


def _alternation(words: object) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))  # type: ignore[call-overload]


def _abbreviation_pattern(abbreviation: str) -> str:
    """A regex for an abbreviation that allows a space after its inner dots."""
    parts = re.escape(abbreviation).split(r"\.")
    return r"\.\s?".join(parts[:-1]) + r"\." + parts[-1] if len(parts) > 1 else parts[0]


# --- number words ------------------------------------------------------------------------------


# What num2words and babel raise for what they cannot say: some of num2words' languages
# fail on negative, large or decimal numbers, or on currencies they lack.
_CANNOT_SAY = (
    NotImplementedError,
    AttributeError,
    TypeError,
    ValueError,
    LookupError,
    ArithmeticError,
)


@lru_cache(maxsize=4096)
def _said(value: int | Decimal, lang: str, to: str = "cardinal") -> str | None:
    """num2words' words for a number, without commas; None where it cannot say it."""
    try:
        return num2words(value, lang=lang, to=to).replace(",", "")
    except _CANNOT_SAY:
        return None


@cache
def _words_language(base: str, territory: str | None) -> str | None:
    """The num2words code for a language, if num2words has number words for it."""
    aliases = {"nb": "no", "nn": "no", "kk": "kz"}
    for code in (f"{base}_{territory}" if territory else "", aliases.get(base, base)):
        if code in CONVERTER_CLASSES:
            return code if _said(21, code) else None
    return None


def _works(call: Callable[[], str]) -> str | None:
    """What a num2words or babel call says, or None where it cannot say it."""
    try:
        return call()
    except _CANNOT_SAY:
        return None


# --- the reader --------------------------------------------------------------------------------


# Languages whose nouns agree with the number in ways one plural form cannot say.
_NUMBER_AGREES = frozenset({"ru", "uk", "be", "pl", "cs", "sk", "sl", "hr", "sr", "bs", "lt", "lv"})


class _Reader:
    """One language's rules, compiled once. Steps run in order over each sentence block."""

    def __init__(self, tag: str) -> None:
        base, script, territory = language_subtags(tag)
        self.base = base
        self.cjk = base in _CJK
        self.full_stop = "。" if self.cjk else "."
        self.locale = _locale(base, script, territory)
        self.words = _words_language(base, territory)
        words = self.words
        one, five, one_and_a_half, year = (
            (
                _said(1, words),
                _said(5, words),
                _said(Decimal("1.5"), words),
                _said(1999, words, "year"),
            )
            if words
            else (None, None, None, None)
        )
        self.decimals = bool(
            one
            and five
            and one_and_a_half
            and one_and_a_half.startswith(one + " ")
            and one_and_a_half.endswith(" " + five)
        )
        self.reads_years = bool(year and words and year != _said(1999, words))
        minus_one = _said(-1, words) if words else None
        self.minus = (
            minus_one.removesuffix(one).strip()
            if minus_one and one and minus_one.endswith(one) and minus_one != one
            else None
        )
        self.has_ordinals = bool(words and _said(3, words, "ordinal"))

        locale = self.locale
        decimal = get_decimal_symbol(locale) if locale else "."
        groups = {get_group_symbol(locale) if locale else ","}
        if groups & {"\u00a0", "\u202f", " "}:
            groups |= {"\u00a0", "\u202f", " "}
        if "’" in groups:
            groups.add("'")
        groups.discard(decimal)
        self.decimal, self.groups = decimal, "".join(sorted(groups))
        g, d = re.escape(self.groups), re.escape(decimal)
        num = rf"(?:\d{{1,3}}(?:[{g}]\d{{3}})+|\d+)(?:{d}\d+)?"
        cents = r"\d+[.,]\d\d(?!\d)"  # an amount with cents, whichever mark the text uses
        start, end = r"(?<![\w.,])", r"(?![\w]|[.,]\d)"

        self.range_word = _RANGE_WORDS.get(base)
        months = self._months()
        self._month_numbers = months
        month = _alternation(months) if months else r"(?!x)x"

        self._compile_abbreviations()
        compile_ = _compiler(self.cjk)
        self.iso_date = compile_(r"(?<![\w/.-])(\d{4})-(\d{2})-(\d{2})(?![\w/-]|\.\d)")
        self.numeric_date, self._day_first = self._numeric_date()
        self.month_day = compile_(
            rf"\b({month})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}})\b)?"
        )
        self.day_month = compile_(
            rf"(?<![\w.,])(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({month})(?!\w)"
            rf"(?:,?\s+(\d{{4}})\b)?"
        )
        self.dotted_day = compile_(rf"(?<![\w.,])(\d{{1,2}})\.\s?(?=(?:{month})(?!\w))")
        ampm = r"(?P<ampm>[aApP]\.?\s?[mM]\.?)(?!\w)"
        self.clock = compile_(
            r"(?<![\w:.])(?P<h>[01]?\d|2[0-3])(?::|(?<=\d)h(?=\d))(?P<m>[0-5]\d)(?::[0-5]\d)?"
            rf"(?:\s?{ampm}|\s(?:Uhr|uur|heures?|horas?|h)(?!\w))?(?![\w:]|\.\d)"
        )
        self.hour_ampm = compile_(rf"(?<![\w:.,])(?P<h>1[0-2]|0?[1-9])\s?{ampm}")
        self.phone = compile_(
            r"(?<![\w.+-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)\s?)?\d{2,4}(?:[.-]\d{2,4}){2,4}"
            r"(?![\w-]|\.\d)"
        )
        self.version = compile_(r"(?<![\w.])\d+(?:\.\d+){2,}(?!\w|\.\d)")

        symbols = _alternation(_CURRENCY_SYMBOLS)
        codes = _alternation(_CURRENCY_CODES)
        # A minus that opens an amount ("-$12.7M", "-5 %"): eSpeak says nothing for it.
        self.negative = compile_(
            rf"(?<![\w.,)\]])(?<!\d\s)(?<!\d\u00a0)[-−](?=(?:{symbols}|(?:{codes})\b)?\s?\d)"
        )
        magnitude_words = _MAGNITUDE_WORDS.get(base, {})
        self._magnitudes = {**_MAGNITUDES, **magnitude_words}
        attached = _alternation({**_MAGNITUDES, **_MONEY_ONLY_MAGNITUDES})
        spaced = _alternation({**magnitude_words, "bn": 9, "mn": 6, "tn": 12})
        magnitude = rf"(?:(?P<mag>{attached})(?![\w€$£¥])|\s(?P<word>{spaced})(?![\w]))"
        self.money_before = compile_(
            rf"(?<![\w$])(?P<cur>(?:{symbols}|\b(?:{codes}))\s?)(?P<a>{cents}|{num})"
            rf"(?:\s?(?P<to>[-–—]|{re.escape(self.range_word or '–')})\s?(?:{symbols})?"
            rf"(?P<b>{cents}|{num}))?{magnitude}?(?![\w]|[.,]\d)"
        )
        self.money_after = compile_(
            rf"{start}(?P<a>{cents}|{num}){magnitude}?\s?(?P<cur>{symbols}|(?:{codes})\b)(?![\w$])"
        )
        self.counted = compile_(
            rf"{start}(?P<a>{num})(?:(?P<mag>k|M|B|bn|mn|tn)|\s(?P<word>{spaced}))"
            r"(?![\w€$£¥])"
        )
        self.percent = compile_(rf"{start}(?P<a>[-−]?{num})\s?[%٪](?!\w)")
        dash = r"\s?[–—]\s?|\s-\s|-"
        self.range = compile_(rf"(?<![\w.,-])(?P<a>{num})(?:{dash})(?P<b>{num})(?![\w-]|[.,]\d)")
        units = _alternation(_UNITS)
        self.unit = compile_(rf"(?<![\w.,])(?P<a>[-−]?{num})\s?(?P<u>{units})(?![\w/²])")
        self.ordinal = compile_(r"(?<![\w.,])(\d+)(st|nd|rd|th)(?!\w)")
        self.french_ordinal = compile_(r"(?<![\w.,])(\d+)(er|re|e|ème|è)(?!\w)")
        self.spanish_ordinal = compile_(r"(?<![\w.,])(\d+)\.?([ºª°])(?!\w)")
        self.decade = compile_(r"(?<![\w.,])'?([1-9]0|1[1-9]\d0|20\d0)'?s(?!\w)")
        self.fraction = compile_(r"(?<![\w/.,])([1-9])/([2-9]|10)(?![\w/]|[.,]\d)")
        self.number = compile_(rf"(?<![\w.,])(?P<sign>(?<![\d])[-−])?(?P<a>{num}){end}")
        self.year = compile_(rf"{start}(1[1-9]\d\d|20\d\d){end}")
        context = _YEAR_CONTEXT.get(base, "").split() + list(months)
        words_before = rf"|\b(?:{_alternation(context)})\s+" if context else ""
        self.year_before = compile_(rf"(?:^|[.!?:;(]\s*{words_before})$", re.IGNORECASE)
        self.year_after = compile_(r"\s*(?:$|[.,;:!?)\]]|(?:BC|AD|BCE|CE)\b|v\.\s?Chr)")
        self.about = compile_(r"(?:(?<=\s)|^)[~≈]\s?(?=\d)")
        self.cleanups = _cleanups(base)
        prepositions = _LINK_PREPOSITIONS.get(base, "").split()
        before = rf"(?:(?<=\s)(?:{'|'.join(prepositions)})\s+)?" if prepositions else ""
        self.links = re.compile(before + _LINK, re.IGNORECASE)

    # -- construction helpers

    def _months(self) -> dict[str, int]:
        if self.locale is None or self.cjk:
            return {}
        found: dict[str, int] = {}
        for width in ("wide", "abbreviated"):
            for context in ("format", "stand-alone"):
                names = get_month_names(width, context, self.locale)
                for number, name in names.items():
                    name = name.strip()
                    if len(name) > 2 and not name[0].isdigit():
                        found.setdefault(name, number)
                        found.setdefault(name.capitalize(), number)
                        if width == "abbreviated" and not name.endswith("."):
                            found.setdefault(name.capitalize() + ".", number)
        if self.base == "en":
            found["Sept."] = found["Sept"] = 9
        return found

    def _numeric_date(self) -> tuple[re.Pattern[str] | None, bool]:
        if self.locale is None:
            return None, True
        pattern = get_date_format("short", self.locale).pattern
        order = [c for c in pattern if c in "dMy"]
        order = [c for i, c in enumerate(order) if c not in order[:i]]
        if order[:1] == ["y"]:
            return None, True
        separator = next((c for c in pattern if c in "/.-"), "/")
        s = re.escape(separator)
        regex = re.compile(rf"(?<![\w/.-])(\d{{1,2}}){s}(\d{{1,2}}){s}(\d{{4}})(?![\w/-]|{s}\d)")
        return regex, order[:1] == ["d"]

    def _month_abbreviations(self) -> dict[str, str]:
        """ "Jan." -> "January": the language's abbreviated month names (CLDR, by babel),
        written with a full stop, where they differ from the whole name."""
        if self.locale is None or self.cjk:
            return {}
        wide = get_month_names("wide", "format", self.locale)
        found = {}
        for number, short in get_month_names("abbreviated", "format", self.locale).items():
            short = short.rstrip(".")
            if short and short != wide[number] and short.isalpha():
                found[f"{short}."] = wide[number]
        if "Sep." in found:
            found["Sept."] = found["Sep."]
        return found

    def _compile_abbreviations(self) -> None:
        plain = _ABBREVIATIONS.get(self.base, {})
        titles = _TITLES.get(self.base, {})
        # "Jan. 2020", "Sept. 5": a month only before a number ("mar." is also the sea).
        counters = {**self._month_abbreviations(), **_COUNTERS.get(self.base, {})}
        self._expansions: dict[str, str] = {}
        patterns: list[str] = []
        for kind, table in (("plain", plain), ("title", titles), ("counter", counters)):
            for abbreviation, expansion in table.items():
                variants = {abbreviation: expansion}
                if abbreviation[0].islower():
                    variants[abbreviation[0].upper() + abbreviation[1:]] = (
                        expansion[0].upper() + expansion[1:]
                    )
                for written, said in variants.items():
                    key = _SPACES.sub("", written)
                    self._expansions.setdefault(f"{kind}:{key}", said)
        for kind, follow in (
            ("title", r"(?=\s+[A-ZÀ-ÖØ-Þ])"),
            ("counter", r"(?=\s?\d)"),
            ("plain", r"(?![\w])"),
        ):
            written = [k.split(":", 1)[1] for k in self._expansions if k.startswith(kind + ":")]
            if written:
                alternatives = "|".join(
                    _abbreviation_pattern(w) for w in sorted(written, key=len, reverse=True)
                )
                lead = r"(?<![\w.])" if kind != "counter" else r"(?<![\w.#])"
                patterns.append(rf"{lead}(?P<{kind}>{alternatives}){follow}")
        self.abbreviation = re.compile("|".join(patterns)) if patterns else None

    # -- numbers

    def value(self, written: str) -> Decimal:
        cents = _CENTS.fullmatch(written)
        if cents:
            return Decimal(f"{cents.group(1)}.{cents.group(2)}")
        digits = written.replace("−", "-")
        for group in self.groups:
            digits = digits.replace(group, "")
        return Decimal(digits.replace(self.decimal, "."))

    def digits(self, value: Decimal) -> str:
        """A number in plain digits with the locale's decimal mark, for eSpeak to read."""
        text = format(value, "f")
        return text.replace(".", self.decimal) if self.decimal != "." else text

    def say(self, value: Decimal | int, written: str = "") -> str:
        """A number in words where num2words has them for the language, else in digits."""
        value = Decimal(value)
        if self.words is None:
            return self.digits(value)
        plain = written.lstrip("-−")
        if (plain[:1] == "0" and len(plain) > 1 and plain.isdigit()) or len(plain) > 15:
            return " ".join(self.say(int(digit)) for digit in plain if digit.isdigit())
        if value == value.to_integral_value():
            whole = int(value)
            return _said(whole, self.words) or self.digits(value)
        if not self.decimals:
            return self.digits(value)
        said = _said(value, self.words) or self.digits(value)
        if self.base == "es" and self.decimal == ",":
            said = said.replace(" punto ", " coma ")  # num2words says the point of Mexico
        return said

    def say_ordinal(self, number: int) -> str | None:
        if not self.has_ordinals:
            return None
        return _said(number, self.words, "ordinal") if self.words else None

    def say_year(self, year: int) -> str:
        if self.cjk:
            return str(year).translate(_CHINESE_DIGITS)
        if self.reads_years:
            said = _said(year, self.words, "year") if self.words else None
            if said:
                return said
        return self.say(year)

    # -- steps

    def expand_abbreviations(self, text: str) -> str:
        if self.abbreviation is None:
            return text

        def expand(match: re.Match[str]) -> str:
            kind = match.lastgroup or "plain"
            written = _SPACES.sub("", match.group())
            said = self._expansions[f"{kind}:{written}"]
            if kind == "counter":
                return said + " "
            if kind == "plain" and written in _SENTENCE_ENDS:
                after = match.string[match.end() :]
                if not after.strip() or _NEXT_SENTENCE.match(after):
                    said += "."  # the abbreviation's dot also ended the sentence
            return said

        return self.abbreviation.sub(expand, text)

    def dates(self, text: str) -> str:
        if "-" in text:
            text = self.iso_date.sub(self._long_date, text)
        if self.numeric_date is not None:
            text = self.numeric_date.sub(self._numeric_long_date, text)
        if self._month_numbers:
            if self.base == "en":
                text = self.month_day.sub(self._english_month_day, text)
                text = self.day_month.sub(self._english_day_month, text)
            elif self.base == "de" and self.has_ordinals:
                text = self.dotted_day.sub(self._german_day, text)
        return text

    def _date_text(self, year: int, month: int, day: int) -> str | None:
        try:
            when = datetime.date(year, month, day)
        except ValueError:
            return None
        if self.locale is None:
            return None
        return format_date(when, "long", locale=self.locale)

    def _long_date(self, match: re.Match[str]) -> str:
        year, month, day = (int(part) for part in match.groups())
        return self._date_text(year, month, day) or match.group()

    def _numeric_long_date(self, match: re.Match[str]) -> str:
        first, second, year = (int(part) for part in match.groups())
        day, month = (first, second) if self._day_first else (second, first)
        return self._date_text(year, month, day) or match.group()

    def _english_month_day(self, match: re.Match[str]) -> str:
        name, day, year = match.groups()
        if not 1 <= int(day) <= 31:
            return match.group()
        month = get_month_names("wide", locale=self.locale)[self._month_numbers[name]]
        said = f"{month} {self.say_ordinal(int(day))}"
        return f"{said}, {self.say_year(int(year))}" if year else said

    def _english_day_month(self, match: re.Match[str]) -> str:
        day, name, year = match.groups()
        if not 1 <= int(day) <= 31:
            return match.group()
        month = get_month_names("wide", locale=self.locale)[self._month_numbers[name]]
        article = "" if match.string[: match.start()].lower().endswith("the ") else "the "
        said = f"{article}{self.say_ordinal(int(day))} of {month}"
        return f"{said}, {self.say_year(int(year))}" if year else said

    def _german_day(self, match: re.Match[str]) -> str:
        day = int(match.group(1))
        if not 1 <= day <= 31:
            return match.group()
        said = self.say_ordinal(day) or match.group()
        before = match.string[max(0, match.start() - 12) : match.start()]
        if _GERMAN_DATIVE.search(before):
            said += "n"  # "am dritten Mai"; "der dritte Mai"
        return said + " "

    def times(self, text: str) -> str:
        if ":" in text or "h" in text:
            text = self.clock.sub(self._clock_time, text)
        if self.base == "en":
            text = self.hour_ampm.sub(self._clock_time, text)
        return text

    def _clock_time(self, match: re.Match[str]) -> str:
        hour = int(match.group("h"))
        minute = int(match.groupdict().get("m") or 0)
        ampm = match.group("ampm")
        if self.base != "en":
            formats = _CLOCK.get(self.base)
            if formats is None:
                return match.group()
            pattern = formats[0] if minute else formats[1]
            return pattern.format(h=self.say(hour), m=self.say(minute))
        if ampm:
            suffix = " AM" if ampm[0] in "aA" else " PM"
            if ampm.endswith("."):
                after = match.string[match.end() :]
                if not after.strip() or _NEXT_SENTENCE.match(after):
                    suffix += "."
        else:
            suffix = ""
        if minute == 0:
            if suffix:
                said = self.say(hour)
            elif hour == 0:
                said = "midnight"
            elif hour <= 12:
                said = f"{self.say(hour)} o'clock"
            else:
                said = f"{self.say(hour)} hundred"
        elif minute < 10:
            said = f"{self.say(hour)} oh {self.say(minute)}"
        else:
            said = f"{self.say(hour)} {self.say(minute)}"
        return said + suffix

    def phones(self, text: str) -> str:
        def digits(match: re.Match[str]) -> str:
            found = match.group()
            if sum(c.isdigit() for c in found) < 7:
                return found
            groups = _DIGIT_RUNS.findall(found)
            return ", ".join(" ".join(self.say(int(d)) for d in group) for group in groups)

        return self.phone.sub(digits, text)

    def versions(self, text: str) -> str:
        point = "point" if self.base == "en" else None
        if point is None:
            return text
        return self.version.sub(
            lambda m: f" {point} ".join(self.say(int(p), p) for p in m.group().split(".")), text
        )

    def negatives(self, text: str) -> str:
        return self.negative.sub(f"{self.minus} ", text) if self.minus else text

    def money(self, text: str) -> str:
        if not any(c in text for c in "$€£¥₹₩₽₺₪₫฿₴₦₱￥zł") and not _CODE_LIKE.search(text):
            return text
        text = self.money_before.sub(self._amount, text)
        return self.money_after.sub(self._amount, text)

    def _magnitude(self, match: re.Match[str]) -> int:
        written = match.group("mag") or match.group("word")
        if not written:
            return 0
        return self._magnitudes.get(written) or _MONEY_ONLY_MAGNITUDES.get(written, 0)

    def _amount(self, match: re.Match[str]) -> str:
        sign = match.group("cur").strip()
        code = _CURRENCY_SYMBOLS.get(sign, sign.upper())
        if code == "RMB":
            code = "CNY"
        if sign in ("¥", "￥") and self.base in ("zh", "yue"):
            code = "CNY"
        symbol = sign in _CURRENCY_SYMBOLS
        power = self._magnitude(match)
        try:
            amount = self.value(match.group("a"))
            second = self.value(match.group("b")) if match.groupdict().get("b") else None
        except InvalidOperation:
            return match.group()
        if second is not None:
            low = self._scaled(amount, power, plural=True, alone=False)
            high = self._scaled(second, power, plural=True)
            name = self.currency_name(code, second * 10**power, symbol=symbol)
            joined = f"{low} {self.range_word or '–'} {high}"
            return self._with_currency(joined, name, power)
        if power:
            said = self._scaled(amount, power, plural=amount != 1)
            name = self.currency_name(code, amount * 10**power, symbol=symbol)
            return self._with_currency(said, name, power)
        return self._money(amount, code, symbol)

    def _scaled(self, amount: Decimal, power: int, plural: bool, alone: bool = True) -> str:
        """An amount times 10**power: "one point five million", "150万", or the full number.

        Not `alone`, it is the first of a range and leaves the magnitude to the second.
        """
        if self.base in ("zh", "yue"):
            total = amount * 10**power
            for size, sign in ((8, "亿"), (4, "万")):
                if total >= 10**size:
                    return f"{self.digits((total / 10**size).normalize())}{sign}"
            return self.digits(total.normalize())
        words = self.words and _magnitude_words(self.words, power)
        if not words:
            return self.say((amount * 10**power).normalize())
        one, many = words
        if not alone:
            return self.say(amount, format(amount, "f"))
        if amount == 1 and not plural:
            return one
        if self.base in _NUMBER_AGREES and amount == amount.to_integral_value():
            # The magnitude's form follows the number ("пять миллионов", not "миллиона"):
            # num2words knows the agreement, so it says the whole amount.
            return self.say((amount * 10**power).normalize())
        return f"{self.say(amount, format(amount, 'f'))} {many}"

    def _with_currency(self, amount: str, name: str, power: int) -> str:
        if self.cjk:
            return amount + name
        connector = _MAGNITUDE_OF.get(self.base) if power >= 6 else None
        if connector == "de" and self.base == "fr" and name[:1].lower() in "aeiouéèêh":
            return f"{amount} d'{name}"
        return f"{amount} {connector} {name}" if connector else f"{amount} {name}"

    def currency_name(self, code: str, count: Decimal, symbol: bool) -> str:
        return _currency_name(self.base, self.words, self.locale, code, _plural_key(count), symbol)

    def _money(self, amount: Decimal, code: str, symbol: bool) -> str:
        """An amount of a currency: "three dollars and fifty cents", "drei Euro und fünfzig
        Cent" (num2words, where it has the currency), else "três reais cinquenta"."""
        name = self.currency_name(code, amount, symbol=symbol)
        if self.cjk:
            return f"{self.digits(amount)}{name}"
        if amount.as_tuple().exponent != -2 or amount == amount.to_integral_value():
            return f"{self.say(amount, format(amount, 'f'))} {name}"
        whole, cents = int(amount), int((amount * 100) % 100)
        whole_name = self.currency_name(code, Decimal(whole), symbol=symbol)
        if self.base == "en":
            forms = _english_subunits(code)
            if forms:
                said = f"{self.say(cents)} {forms[0] if cents == 1 else forms[1]}"
                return f"{self.say(whole)} {whole_name} and {said}" if whole else said
        elif self.words and self.base in _OWN_CURRENCY_FORMS:
            said = _works(lambda: num2words(amount, lang=self.words, to="currency", currency=code))
            if said:
                return said.replace(",", "")
        return f"{self.say(whole)} {whole_name} {self.say(cents)}"

    def counted_magnitudes(self, text: str) -> str:
        def scaled(match: re.Match[str]) -> str:
            power = self._magnitudes.get(match.group("mag") or match.group("word") or "", 0)
            try:
                amount = self.value(match.group("a"))
            except InvalidOperation:
                return match.group()
            return self._scaled(amount, power, plural=amount != 1) if power else match.group()

        return self.counted.sub(scaled, text)

    def percents(self, text: str) -> str:
        if "%" not in text and "٪" not in text:
            return text

        def percent(match: re.Match[str]) -> str:
            written = match.group("a")
            if self.base in ("zh", "yue"):
                return f"百分之{self.digits(self.value(written))}"
            if self.locale is None:
                return match.group()
            said = _works(
                lambda: format_unit(
                    self.value(written), "concentr-percent", length="long", locale=self.locale
                )
            )
            if said and "%" not in said and "٪" not in said:
                return said
            word = _PERCENT_WORDS.get(self.base)
            return f"{written} {word}" if word else match.group()

        return self.percent.sub(percent, text)

    def ranges(self, text: str) -> str:
        if not any(c in text for c in "-–—"):
            return text

        def joined(match: re.Match[str]) -> str:
            first, second = match.group("a"), match.group("b")
            try:
                low, high = self.value(first), self.value(second)
            except InvalidOperation:
                return match.group()
            if high <= low or self.range_word is None:
                return match.group() if high <= low else f"{first} – {second}"
            if all(_YEAR_LIKE.fullmatch(x) for x in (first, second)):
                return f"{self.say_year(int(low))} {self.range_word} {self.say_year(int(high))}"
            return f"{first} {self.range_word} {second}"

        return self.range.sub(joined, text)

    def units(self, text: str) -> str:
        if self.locale is None:
            return text

        def unit(match: re.Match[str]) -> str:
            try:
                amount = self.value(match.group("a"))
            except InvalidOperation:
                return match.group()
            try:
                said = format_unit(
                    amount, _UNITS[match.group("u")], length="long", locale=self.locale
                )
            except (UnknownUnitError, *_CANNOT_SAY):
                return match.group()
            return said.replace("\u00a0", " ").replace("\u202f", " ")

        return self.unit.sub(unit, text)

    def ordinals(self, text: str) -> str:
        if not self.has_ordinals:
            return text
        pattern = {"en": self.ordinal, "fr": self.french_ordinal, "es": self.spanish_ordinal}
        regex = pattern.get(self.base)
        if regex is None:
            return text
        return regex.sub(lambda m: self.say_ordinal(int(m.group(1))) or m.group(), text)

    def decades(self, text: str) -> str:
        if self.base != "en" or ("0s" not in text and "0's" not in text):
            return text

        def plural(match: re.Match[str]) -> str:
            number = int(match.group(1))
            said = self.say_year(number) if number >= 1000 else self.say(number)
            return said[:-1] + "ies" if said.endswith("y") else said + "s"

        return self.decade.sub(plural, text)

    def fractions(self, text: str) -> str:
        if self.base != "en" or "/" not in text:
            return text

        def fraction(match: re.Match[str]) -> str:
            top, bottom = int(match.group(1)), int(match.group(2))
            if top >= bottom:
                return match.group()
            name = {2: "half", 4: "quarter"}.get(bottom) or self.say_ordinal(bottom) or ""
            if top > 1:
                name = "halves" if name == "half" else name + "s"
            return f"{self.say(top)} {name}"

        text = self.fraction.sub(fraction, text)
        return _SLASH_BETWEEN_NUMBERS.sub(" ", text)

    def years(self, text: str) -> str:
        if not (self.reads_years or self.cjk):
            return text
        if self.cjk:
            return _CHINESE_YEAR.sub(lambda m: self.say_year(int(m.group(1))), text)

        def year(match: re.Match[str]) -> str:
            before = match.string[max(0, match.start() - 24) : match.start()]
            after = match.string[match.end() : match.end() + 6]
            if self.year_before.search(before) or self.year_after.match(after):
                return self.say_year(int(match.group(1)))
            return match.group()

        return self.year.sub(year, text)

    def numbers(self, text: str) -> str:
        def number(match: re.Match[str]) -> str:
            written = match.group("a")
            try:
                value = self.value(written)
            except InvalidOperation:
                return match.group()
            if match.group("sign"):
                value = -value
            if self.words is None:
                return ("-" if value < 0 else "") + self.digits(abs(value))
            return self.say(value, written)

        return self.number.sub(number, text)

    def approximately(self, text: str) -> str:
        if "~" not in text and "≈" not in text:
            return text
        word = _ABOUT_WORDS.get(self.base)
        return self.about.sub(f"{word} " if word else "", text)

    def normalise(self, text: str) -> str:
        text = _drop_links_and_emoji(text, self.links)
        text = self.expand_abbreviations(text)
        if any(c.isdigit() for c in text):
            text = self.approximately(text)
            text = self.dates(text)
            text = self.times(text)
            text = self.phones(text)
            text = self.versions(text)
            text = self.negatives(text)
            text = self.money(text)
            text = self.counted_magnitudes(text)
            text = self.percents(text)
            text = self.ranges(text)
            text = self.units(text)
            text = self.ordinals(text)
            text = self.decades(text)
            text = self.years(text)
            text = self.fractions(text)
            text = self.numbers(text)
        for pattern, replacement in self.cleanups:
            text = pattern.sub(replacement, text)
        return text.strip()


def _compiler(cjk: bool) -> Callable[..., re.Pattern[str]]:
    """re.compile, but in Chinese a number may touch a character: only Latin letters count."""
    if not cjk:
        return re.compile

    def compile_(pattern: str, flags: int = 0) -> re.Pattern[str]:
        latin = pattern.replace("[\\w", "[0-9A-Za-z").replace("\\w", "[0-9A-Za-z]")
        return re.compile(latin, flags)

    return compile_


def _cleanups(base: str) -> list[tuple[re.Pattern[str], str]]:
    """Marks left over once the words are out, and the spaces and stops around them."""
    cjk = base in _CJK
    return [
        (re.compile(r"[*_`|\\^{}\[\]]+|(?<!\w)#+"), " "),
        (re.compile(r"(?<=\w)/(?=[^\W\d_])"), " "),  # "and/or" is not "and slash or"
        (re.compile(r"(?<=\s)[-–—](?=\s)"), ","),  # a dash between words is a pause
        (re.compile(r"\(\s*\)|\[\s*\]"), " "),
        (re.compile(r"\s+"), " "),
        (re.compile(r"\s+(?=[,.;:!?)\]](?:$|[\s,.;:!?)\]\"'»”’]))"), ""),
        (re.compile(r"([,;:])(?:\s*[,;:])+"), r"\1"),
        (re.compile(r"[,;:]\s*(?=[.!?])"), ""),
        (re.compile(r"(?<=[.!?])\s*[,;:]"), ""),
        (re.compile(r"(?<![.])\.\s*\.(?=\s|$)"), "."),
        (re.compile(r"^[\s,.;:!?]+"), ""),
        *([(re.compile(f"(?<=[{_WIDE}])\\s+|\\s+(?=[{_WIDE}])"), "")] if cjk else []),
    ]


@cache
def _locale(base: str, script: str | None, territory: str | None) -> Locale | None:
    """The CLDR locale for the language, most specific first; None where CLDR has none."""
    names = [
        "_".join(part for part in (base, script, territory) if part),
        "_".join(part for part in (base, territory) if part),
        "_".join(part for part in (base, script) if part),
        base,
    ]
    for name in dict.fromkeys(names):
        try:
            return Locale.parse(name)
        except (UnknownLocaleError, ValueError):
            continue
    return None


@cache
def _magnitude_words(lang: str, power: int) -> tuple[str, str] | None:
    """How num2words says 10**power alone and after a number ("eine Million", "Millionen")."""
    one, two, prefix = _said(10**power, lang), _said(2 * 10**power, lang), _said(2, lang)
    if one and two and prefix and two.startswith(prefix + " "):
        return one, two[len(prefix) + 1 :]
    return None


def _plural_key(count: Decimal) -> Decimal | int:
    return int(count) if count == count.to_integral_value() else count


@lru_cache(maxsize=1024)
def _currency_name(
    base: str,
    words: str | None,
    locale: Locale | None,
    code: str,
    count: Decimal | int,
    symbol: bool,
) -> str:
    """A currency's name for `count` of it: short ("dollars") for a symbol, full for a code."""
    if base == "en":
        name = get_currency_name(code, count, "en")
        return name.split()[-1] if symbol else name
    forms = getattr(CONVERTER_CLASSES.get(words or ""), "CURRENCY_FORMS", {}).get(code)
    if symbol and base in _OWN_CURRENCY_FORMS and forms and len(forms[0]) == 2:
        return forms[0][0] if count == 1 else forms[0][1]
    if locale is not None:
        return get_currency_name(code, count, locale)
    return code


@cache
def _english_subunits(code: str) -> tuple[str, str] | None:
    forms = getattr(CONVERTER_CLASSES["en"], "CURRENCY_FORMS", {}).get(code)
    return tuple(forms[1]) if forms and len(forms[1]) == 2 else None  # type: ignore[return-value]


@lru_cache(maxsize=64)
def _reader(language: str) -> _Reader:
    return _Reader(language)


def speakable(text: str, language: str = "en") -> str:
    """What eSpeak should be given for `text` in `language` (a BCP-47 tag).

    Markup, code, URLs, e-mail addresses and emoji are gone, every block ends as a
    sentence, and numbers, amounts, dates, times, units and abbreviations are words in
    the language where a library has them. Returns "" when nothing is left to say.
    """
    reader = _reader(language)
    sentences = []
    for block in _blocks(text):
        said = reader.normalise(" ".join(block.split()))
        said = _as_sentence(said, reader.full_stop) if said.strip(" .,;:!?。") else ""
        if said:
            sentences.append(said)
    return ("" if reader.cjk else " ").join(sentences)
