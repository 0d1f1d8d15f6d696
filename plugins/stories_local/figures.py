"""Figures in a text (amounts of money, percentages, counts), found with regular expressions.

A chart must never mislead, so a figure is read with the conventions of the text's language
or not at all, and only figures of one kind and unit are ever plotted together, each keeping
the words the text used for it.

The rules, in short:
- A number is read with the decimal and group symbols of the text's language, as babel (CLDR)
  knows them: "1.234.567,89" is 1234567.89 in German, "1,234,567.89" in English, and
  "1 234 567,89" in French (a plain, no-break or narrow no-break space groups digits there).
  A number that is not well-formed in that convention ("1,5" or "1.234,56" in English,
  "1,234.56" in German) is left out. So is one that reads as thousands in the other common
  convention ("1,234" in German, "1.234" in English, a plain count or an amount with no
  magnitude word), and an amount with more decimals than its currency has ("$4.125").
  When the language is unknown, a number is read only if every convention reads it alike.
- Magnitude words are the language's own, from CLDR's compact number formats plus the usual
  abbreviations ("bn", "Mio", "Mrd."): "2 Billionen" is 2e12 in German, "2 billion" 2e9 in
  English. A magnitude word of another language, an unknown one ("$5MM"), or a one-letter one
  on anything but money ("5m people": metres or millions?) leaves the figure out. So does an
  amount that seems to share the next one's magnitude ("between $2 and $3 billion").
- A currency is a symbol, an ISO code or a word, and each currency has one unit, its English
  symbol ("€", "EUR", "Euro" and "euros" are all "€"); a symbol the text's region reads as
  its own ("$" in Canada) is that currency, one that names several ("kr") is left out.
- "%", percentage points ("pp") and basis points ("bp") are different units; so are measures
  ("km", "t"). Plain counts have no unit.
- Bare years (1800-2099) label figures instead of being figures; dates, times, ratios, ranges
  written with a hyphen, days of the month and numbers glued to letters ("A4", "5th") are not
  figures. Nor is a number of more than 18 digits ("1,2,3,…,30" run together, digits of pi).
- A rate ("€0.12 per share", "$15 an hour", "$50,000 a year", "3 kg each", "5 € je Aktie") has
  a unit of its own, never shared with totals; its words are whole words of the text's
  language, and "a year ago", "a decade earlier" are times, not rates.
- A figure is labelled by the year of its clause, else by the nouns near it. In a chart no
  two bars share a label: repeated ones become noun and year ("revenue 2023", "profit 2023").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import get_month_names
from babel.numbers import (
    NumberFormatError,
    format_compact_currency,
    format_compact_decimal,
    format_currency,
    format_decimal,
    format_percent,
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
    get_territory_currencies,
    parse_decimal,
)

from stories_core.text import primary_language
from stories_local.analysis import STOPWORDS, is_salient, sentence_spans, tokens, wordset

# The currencies recognised; each is charted under its English symbol ("$", "CA$", "CHF").
_CURRENCIES = (
    "USD", "EUR", "GBP", "JPY", "CNY", "CHF", "CAD", "AUD", "NZD", "HKD", "SGD", "TWD", "SEK",
    "NOK", "DKK", "ISK", "PLN", "CZK", "HUF", "RON", "RUB", "UAH", "TRY", "ILS", "INR", "BRL",
    "MXN", "ARS", "CLP", "COP", "ZAR", "KRW", "THB", "IDR", "MYR", "PHP", "VND", "SAR", "AED",
)  # fmt: skip
_DOLLARS = frozenset({"USD", "CAD", "AUD", "NZD", "HKD", "SGD", "TWD"})
# Whose conventions are known when the text's language is not, and whose magnitude words
# and currency symbols are recognised (so that a foreign one is left out, not misread).
_KNOWN_LOCALES = (
    "en", "en_CA", "en_AU", "en_IN", "de", "de_CH", "fr", "fr_CA", "es", "es_MX", "pt",
    "pt_PT", "it", "nl", "sv", "da", "nb", "pl", "ru", "tr", "ja", "zh", "ko", "hi",
)  # fmt: skip
_UNKNOWN_READERS = ("en", "de", "fr", "de_CH")
# A number written with more digits than this is no figure anyone charts (a list of numbers
# run together, digits of pi), and more than a float keeps apart: it is left out.
_MAX_DIGITS = 18

# Magnitude words CLDR lacks. A key with a capital letter must match exactly; others match
# in any case. Keyed by language, or by locale for a region's own words.
_EXTRA_SCALES: dict[str, dict[str, str]] = {
    "en": {"k": "1e3", "m": "1e6", "mn": "1e6", "mln": "1e6", "b": "1e9", "bn": "1e9",
           "bln": "1e9", "tn": "1e12", "trn": "1e12", "hundred": "1e2"},
    "en_IN": {"lakhs": "1e5", "lac": "1e5", "lacs": "1e5", "crores": "1e7", "cr": "1e7"},
    "de": {"tsd": "1e3", "tsd.": "1e3", "mio": "1e6", "mrd": "1e9", "bio": "1e12",
           "hundert": "1e2"},
    "fr": {"md": "1e9", "mds": "1e9", "mrd": "1e9", "mrds": "1e9", "milliers": "1e3"},
    "es": {"MM": "1e6", "mill.": "1e6"},
    "it": {"mln": "1e6", "mld": "1e9", "mrd": "1e9"},
    "zh": {"千": "1e3", "百万": "1e6", "千万": "1e7", "十亿": "1e9", "百亿": "1e10",
           "千亿": "1e11", "萬": "1e4", "億": "1e8"},
    "ja": {"千": "1e3", "百万": "1e6", "千万": "1e7"},
    "ar": {"مليارات": "1e9", "ترليونات": "1e12", "تريليون": "1e12", "تريليونات": "1e12"},
    "nl": {"mln": "1e6", "mld": "1e9", "mrd": "1e9"},
}  # fmt: skip
# Words after a number that make it something else (a subunit, a dozen): never charted.
_OTHER_WORDS = ("cent", "cents", "pence", "centimes", "céntimos", "centavos", "centesimi",
                "dozen", "dozens", "Dutzend")  # fmt: skip

# Currency words. "$" stands for the text's own dollar (its region's, else the US dollar);
# None for a word that names several currencies.
_CURRENCY_WORDS: dict[str, str | None] = {
    "dollar": "$", "dollars": "$", "dólar": "$", "dólares": "$", "dollaro": "$",
    "dollari": "$", "us dollar": "USD", "us dollars": "USD", "u.s. dollars": "USD",
    "us-dollar": "USD", "us-dollars": "USD", "dollars américains": "USD",
    "dólares estadounidenses": "USD", "canadian dollars": "CAD", "australian dollars": "AUD",
    "new zealand dollars": "NZD", "hong kong dollars": "HKD", "singapore dollars": "SGD",
    "euro": "EUR", "euros": "EUR", "pound": "GBP", "pounds": "GBP", "pounds sterling": "GBP",
    "sterling": "GBP", "pfund": "GBP", "livres sterling": "GBP", "libras esterlinas": "GBP",
    "yen": "JPY", "yuan": "CNY", "renminbi": "CNY", "swiss francs": "CHF", "franken": "CHF",
    "schweizer franken": "CHF", "francs suisses": "CHF", "reais": "BRL", "rubles": "RUB",
    "roubles": "RUB", "рублей": "RUB", "рубля": "RUB", "złoty": "PLN", "zloty": "PLN",
    "złotych": "PLN", "kronor": "SEK", "lira": "TRY", "shekels": "ILS", "rand": "ZAR",
    "indian rupees": "INR", "円": "JPY", "日元": "JPY", "人民币": "CNY", "美元": "USD",
    "欧元": "EUR", "英镑": "GBP", "ユーロ": "EUR", "ドル": "$", "francs": None, "franc": None,
    "pesos": None, "peso": None, "rupees": None, "rupee": None, "kroner": None, "krone": None,
    "kronen": None,
}  # fmt: skip
_SYMBOL_ALIASES = {"US$": "USD", "RMB": "CNY"}

_PERCENT = r"%|٪|\uff05|percent|per\s+cent|pct\.?|prozent|pour\s+cent|por\s+ciento|por\s+cento|per\s+cento|procent|процент(?:а|ов)?"  # noqa: E501, RUF001
_POINTS = r"percentage[\s-]points?|pp\.?|p\.p\.|ppts?|prozentpunkte?n?|points?\s+de\s+pourcentage|puntos?\s+porcentuales?|pontos?\s+percentuais?|punti\s+percentuali|procentenheter"  # noqa: E501
_BASIS = r"basis[\s-]points?|bps|bp|basispunkte?n?|points?\s+de\s+base|puntos?\s+básicos?|pontos?[\s-]base"  # noqa: E501
# Measures: symbols match exactly, words in any case; each maps to the symbol charted.
_MEASURE_SYMBOLS = (
    "km/h", "km²", "m²", "m³", "kWh", "MWh", "GWh", "TWh", "kW", "MW", "GW", "km", "cm", "mm",
    "kg", "mg", "lbs", "lb", "oz", "mi", "ft", "mph", "ha", "ml", "mL", "°C", "°F", "m", "g",
    "t", "l", "L", "W",
)  # fmt: skip
_MEASURE_WORDS = {
    "tonnes": "t", "tonne": "t", "tons": "t", "ton": "t", "tonnen": "t", "kilometres": "km",
    "kilometers": "km", "kilometre": "km", "kilometer": "km", "metres": "m", "meters": "m",
    "mètres": "m", "meter": "m", "miles": "mi", "mile": "mi", "kilograms": "kg",
    "kilogrammes": "kg", "kilogramm": "kg", "kilos": "kg", "litres": "l", "liters": "l",
    "liter": "l", "hectares": "ha", "hektar": "ha", "acres": "acres", "barrels": "barrels",
}  # fmt: skip

_SPACE = "[ \u00a0\u202f]"
_GAP = rf"(?:{_SPACE}|\r?\n)?"  # between an amount and its words; a line may break there
# Letters of the scripts that put spaces between words; in those a figure's words must end
# where a word ends (in Chinese or Japanese they need not). _CASED: the cased ones, which
# also never touch a figure's digits; _SPACED adds Hebrew, Arabic and the Indic scripts,
# where a prefix may be glued to a number ("و4" in Arabic).
_CASED = "A-Za-z\u00aa\u00b5\u00ba\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0370-\u03ff\u0400-\u052f"
_SPACED = _CASED + "\u0590-\u05ff\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\u0900-\u0dff"
_WORD_END = rf"(?:(?<![{_SPACED}])|(?![{_SPACED}]))"
_NUMBER = (
    r"(?>[0-9]{1,3}(?:[ \u00a0\u202f\u2009][0-9]{3}(?![0-9]))+(?:[.,'\u2019][0-9]+)*"
    r"|[0-9]+(?:[.,'\u2019\u00a0\u202f\u2009][0-9]+)*)"
)
_SPACES = " \u00a0\u202f\u2009"
_CJK_NUMERALS = "十百千万萬亿億兆京"
_NEXT_WORD = re.compile(r"[ \u00a0\u202f\u2009]?([^\W\d_]+)")
_THIN_SPACES = re.compile("[\u00a0\u202f\u2009]")
_ANY_SPACE = re.compile("[ \u00a0\u202f\u2009]")
_JOINERS = "-\u2010\u2011\u2013\u2014/:%#\u2116"
# Between two amounts that share the later one's magnitude or unit: "$2 to $3 billion".
_RANGE_WORDS = re.compile(
    r"\s*(?:-|\u2013|\u2014|,|to|and|or|bis|und|oder|à|et|ou|a|y|o|e|al|till|tot)\s*", re.I
)
_YEAR = re.compile(
    rf"(?<![0-9{_CASED}_.,$€£¥])(?:1[89][0-9]{{2}}|20[0-9]{{2}})(?![0-9{_CASED}%]|[.,][0-9])"
)
_CLAUSE_BREAK = (
    r"[;()\u061b\uff1b\uff08\uff09]|[,:\u060c\uff0c\u3001\uff1a](?![0-9])|(?<![0-9])[,:]"
    r"|\s(?:and|but|while|whereas|compared with|versus|vs\.?{})\s"
)
_CLAUSE_WORDS = {
    "de": "und|aber|während|gegenüber|sowie",
    "fr": "et|mais|contre|tandis que|alors que",
    "es": "y|pero|mientras|frente a",
    "pt": "e|mas|enquanto|contra",
    "it": "e|ma|mentre|contro",
    "nl": "en|maar|terwijl",
}
# Articles of the languages whose clause words are known: never a label, never a rate's "per".
_ARTICLES = wordset(
    """
    le la les l un une des du de el los las lo una o os as um uma il gli i der die das den
    dem ein eine einen einem einer
    """
)
# Words that name nothing: a label is made of the other words (the year says "year").
_NOT_NAMES = (
    _ARTICLES
    | frozenset(word for words in _CLAUSE_WORDS.values() for word in re.split(r"[|\s]+", words))
    | wordset("year years jahr jahres jahre année an año ano anno jaar عام العام سنة")
)
# Languages that capitalise every noun: there a label is made of capitalised words only.
_CAPITAL_NOUNS = frozenset({"de", "lb"})
_PRIORITY = {"currency": 0, "percent": 1, "number": 2}


@dataclass(frozen=True)
class Figure:
    """One figure as the text states it; `value` is in plain units ($3.4m -> 3_400_000)."""

    value: float
    kind: str
    """currency, percent or number"""
    unit: str
    text: str
    label: str
    start: int


# --- conventions --------------------------------------------------------------------------


def _unquote(affix: str) -> str:
    """A CLDR pattern affix as written: "\u00a0Mio'.'" -> "Mio."."""
    return " ".join(
        re.sub(r"'([^']*)'", r"\1", affix.replace("''", "\0")).replace("\0", "'").split()
    )


def _words(word: str) -> str:
    return " ".join(word.split())


def _put(table: dict[str, Decimal | None], word: str, scale: Decimal) -> None:
    table[word] = scale if table.get(word, scale) == scale else None


@lru_cache(maxsize=64)
def _scales(locale: Locale) -> tuple[dict[str, Decimal | None], dict[str, Decimal | None]]:
    """The locale's magnitude words: (matched exactly, matched in any case); None marks a
    word with two meanings in the locale."""
    exact: dict[str, Decimal | None] = {}
    folded: dict[str, Decimal | None] = {}
    for length, plurals in locale.compact_decimal_formats.items():
        for table in plurals.values():
            for magnitude, pattern in table.items():
                word = _unquote(pattern.suffix[0])
                if not word or pattern.prefix[0] or pattern.int_prec[0] < 1:
                    continue
                scale = Decimal(magnitude).scaleb(1 - pattern.int_prec[0])
                if length == "long":
                    _put(folded, word.casefold(), scale)
                else:
                    _put(exact, word, scale)
    for key in (locale.language, f"{locale.language}_{locale.territory}"):
        for word, scale in _EXTRA_SCALES.get(key, {}).items():
            if word.islower():
                _put(folded, word, Decimal(scale))
            else:
                _put(exact, word, Decimal(scale))
    return exact, folded


def _scales_of(locales: tuple[Locale, ...], word: str) -> list[Decimal | None]:
    """What each of `locales` that has `word` as a magnitude word takes it for."""
    word = _words(word)
    found = []
    for locale in locales:
        exact, folded = _scales(locale)
        if word in exact:
            found.append(exact[word])
        elif word.casefold() in folded:
            found.append(folded[word.casefold()])
    return found


@lru_cache(maxsize=1)
def _known_locales() -> tuple[Locale, ...]:
    return tuple(Locale.parse(name) for name in _KNOWN_LOCALES)


@lru_cache(maxsize=1)
def _all_scale_words() -> tuple[str, ...]:
    words = set(_OTHER_WORDS)
    for locale in _known_locales():
        exact, folded = _scales(locale)
        words.update(exact, folded)
    for extra in _EXTRA_SCALES.values():
        words.update(extra)
    return tuple(words)


@lru_cache(maxsize=64)
def _own_symbols(locale: Locale) -> dict[str, str | None]:
    """How the locale writes currencies: symbol -> code (None: several codes)."""
    table: dict[str, str | None] = {}
    for code in _CURRENCIES:
        symbol = locale.currency_symbols.get(code)
        if symbol and symbol != code:
            symbol = _words(symbol).rstrip(".")  # Danish "kr." is the "kr" of its neighbours
            table[symbol] = code if table.get(symbol, code) == code else None
    return table


@lru_cache(maxsize=1)
def _symbols_anywhere() -> dict[str, str | None]:
    """How any known locale writes currencies; None for a symbol that names several."""
    table: dict[str, str | None] = dict(_SYMBOL_ALIASES)
    for locale in _known_locales():
        for symbol, code in _own_symbols(locale).items():
            table[symbol] = code if table.get(symbol, code) == code else None
    return table


@lru_cache(maxsize=1)
def _currency_units() -> frozenset[str]:
    return frozenset(get_currency_symbol(code, "en") for code in _CURRENCIES)


def _territory(locale: Locale) -> str | None:
    if locale.territory:
        return locale.territory
    try:
        return Locale.parse(get_global("likely_subtags")[locale.language]).territory
    except (KeyError, ValueError, UnknownLocaleError):
        return None


@dataclass(frozen=True)
class _Conventions:
    readers: tuple[Locale, ...]
    """One locale when the language is known; several that must agree when it is not."""
    pattern: re.Pattern[str]
    months: re.Pattern[str]
    months_before: re.Pattern[str]
    symbols: dict[str, str | None]
    dollar: str
    percent_first: bool
    clause_break: re.Pattern[str]
    stems: tuple[str, ...]
    """Magnitude words of three letters or more, folded: a word after a bare number that
    starts with one ("مليونين", "Millionenhöhe") may be a magnitude not known here."""

    @property
    def known(self) -> bool:
        return len(self.readers) == 1

    def scale(self, word: str) -> Decimal | None:
        """The magnitude a word stands for; None if not this language's, or unsure. When
        the language is unknown, every language that has the word must agree."""
        scales = set(_scales_of(self.readers if self.known else _known_locales(), word))
        return scales.pop() if len(scales) == 1 else None

    def read(self, raw: str) -> Decimal | None:
        values = {_read(raw, locale) for locale in self.readers}
        values.discard(None)
        return values.pop() if len(values) == 1 else None

    def currency(self, marker: str) -> str | None:
        """The ISO code a currency symbol, code or word stands for; None if unsure."""
        marker = _words(marker)
        if marker in _CURRENCIES:
            return marker
        folded = marker.casefold()
        if folded in _CURRENCY_WORDS:
            code = _CURRENCY_WORDS[folded]
            return self.dollar if code == "$" else code
        if folded == "real" and self.readers[0].language == "pt":
            return "BRL"
        return self.symbols.get(marker.rstrip("."))


def _locale(language: str) -> Locale | None:
    """The babel locale of a BCP-47 tag, dropping subtags babel does not know; None when
    the tag names no language (empty, "und", private use)."""
    parts = [part for part in re.split(r"[-_]", language.strip()) if part]
    if not parts or parts[0].lower() in ("und", "zxx", "mul", "mis", "x", "i"):
        return None
    while parts:
        try:
            return Locale.parse("_".join(parts), sep="_")
        except (UnknownLocaleError, ValueError, TypeError):
            parts.pop()
    return None


def _alternation(words: list[str] | tuple[str, ...], dotted: bool = False) -> str:
    """A regex for any of `words`, longest first; `dotted`: an abbreviation may end in "."."""
    ordered = sorted({_words(word) for word in words}, key=len, reverse=True)
    patterns = [r"\s+".join(map(re.escape, word.split(" "))) for word in ordered]
    if dotted:
        patterns = [
            p + (r"\.?" if w[-1].isalpha() else "") for w, p in zip(ordered, patterns, strict=True)
        ]
    return "|".join(patterns)


@lru_cache(maxsize=64)
def _conventions(language: str) -> _Conventions:
    locale = _locale(language)
    readers = (locale,) if locale else tuple(Locale.parse(name) for name in _UNKNOWN_READERS)
    symbols = dict(_symbols_anywhere())
    for symbol, code in _own_symbols(Locale.parse("en")).items():
        if symbols.get(symbol, code) is None:  # "$" is the US dollar unless said otherwise
            symbols[symbol] = code
    dollar = "USD"
    if locale:
        symbols.update(_own_symbols(locale))
        territory = _territory(locale)
        local = get_territory_currencies(territory) if territory else []
        if local and local[0] in _DOLLARS:
            dollar = local[0]
    first = readers[0]
    symbol_after = locale is not None and (
        first.currency_formats["standard"].pattern.find("¤")
        > first.currency_formats["standard"].pattern.find("0")
    )
    percent_first = locale is not None and (
        first.percent_formats[None].pattern.lstrip("\u200e\u200f").startswith("%")
    )

    # The magnitude words of every known language, so that a foreign one is seen and left
    # out, and the text's own ("2.5 مليون" in Arabic) even where no known language has them.
    scale_words = {*_all_scale_words()}
    for reader in readers:
        scale_words.update(*_scales(reader))
    codes = "|".join(_CURRENCIES)
    marks = _alternation([*symbols, *_SYMBOL_ALIASES], dotted=True)
    currency_words = _alternation([*_CURRENCY_WORDS, "real"])
    not_before_amount = "" if symbol_after else rf"(?!{_SPACE}?[-\u2212]?[0-9])"
    measure_words = _alternation(list(_MEASURE_WORDS))
    pattern = re.compile(
        rf"""
        (?:
            (?<![0-9{_CASED}_])(?P<sign_out>[-\u2212])?
            (?P<pre>(?-i:{codes})|{marks}){_SPACE}?(?P<sign_in>[-\u2212])?
          | (?<![0-9{_CASED}_.,'\u2019])(?P<sign>[-\u2212])?(?P<pct_pre>[%٪]{_SPACE}?)?
        )
        (?P<num>{_NUMBER})
        (?:(?P<scale_gap>{_GAP})(?P<scale>{_alternation(scale_words)}){_WORD_END})?
        (?:
            {_GAP}(?:(?P<link>de|di|of|do|da)\s+|(?P<elided>d['\u2019]))?
            (?:
                (?P<points>{_POINTS})
              | (?P<basis>{_BASIS})
              | (?P<percent>{_PERCENT})
              | (?P<code>(?-i:{codes})){not_before_amount}
              | (?P<word>{currency_words})
              | (?P<mark>{marks}){not_before_amount}
              | (?P<measure>(?-i:{_alternation(_MEASURE_SYMBOLS)})|{measure_words})
            ){_WORD_END}
        )?
        (?P<tail>[{_CASED}0-9]*)
        """,
        re.IGNORECASE | re.VERBOSE,
    )
    month_names = sorted(
        {
            name.casefold().rstrip(".")
            for reader in readers
            for width in ("wide", "abbreviated")
            for context in ("format", "stand-alone")
            for name in get_month_names(width, context, reader).values()
        },
        key=len,
        reverse=True,
    )
    months = "|".join(map(re.escape, month_names))
    own_words = _CLAUSE_WORDS.get(locale.language, "") if locale else ""
    return _Conventions(
        readers=readers,
        pattern=pattern,
        months=re.compile(rf"\.?{_SPACE}*(?:(?:de|of)\s+)?(?:{months}){_WORD_END}", re.I),
        months_before=re.compile(rf"(?<![{_CASED}])(?:{months})\.?{_SPACE}*\Z", re.I),
        symbols=symbols,
        dollar=dollar,
        percent_first=percent_first,
        clause_break=re.compile(_CLAUSE_BREAK.format("|" + own_words if own_words else "")),
        stems=tuple(sorted({w.casefold() for w in scale_words if len(w) >= 3}, key=len)),
    )


def _read(raw: str, locale: Locale) -> Decimal | None:
    """The number `raw` as `locale` writes numbers, or None if it is not well-formed there.

    babel's strict parse decides; a number grouped in threes is also accepted where CLDR
    would not group it (Spanish "1.234") or would group it otherwise (Indian "12,34,567")."""
    group, decimal = get_group_symbol(locale), get_decimal_symbol(locale)
    # A no-break or thin space groups digits in any language (SI style), a plain one only
    # where spaces are the group symbol.
    text = (_ANY_SPACE if group in _SPACES else _THIN_SPACES).sub(group, raw)
    if group in "'\u2019":
        text = text.replace("'", group).replace("\u2019", group)
    if any(char not in "0123456789" and char not in (group, decimal) for char in text):
        return None
    if sum(char.isdigit() for char in text) > _MAX_DIGITS:
        return None
    try:
        return parse_decimal(text, locale, strict=True)
    except (NumberFormatError, ArithmeticError):  # decimal.InvalidOperation is arithmetic
        threes = rf"[0-9]{{1,3}}(?:{re.escape(group)}[0-9]{{3}})+(?:{re.escape(decimal)}[0-9]+)?"
        if re.fullmatch(threes, text):
            return Decimal(text.replace(group, "").replace(decimal, "."))
        return None


def _reads_as_thousands(raw: str, locale: Locale) -> bool:
    """Whether the other common convention would read `raw` as thousands: "1,234" in German
    or "1.234" in English (one decimal symbol, then exactly three digits)."""
    decimal = get_decimal_symbol(locale)
    whole, _, fraction = raw.partition(decimal)
    return (
        decimal in ".,"
        and bool(fraction)
        and len(fraction) == 3
        and fraction.isdigit()
        and whole.isdigit()
        and len(whole) <= 3
        and not whole.startswith("0")
    )


# --- reading ------------------------------------------------------------------------------


@dataclass
class _Reading:
    start: int
    end: int
    kind: str = "number"
    unit: str = ""
    value: float = 0.0
    scaled: bool = False
    marked: bool = False
    """Written with a unit after it (%, a currency, a measure)."""
    small: bool = False
    """Under 1000 before any magnitude: it may share the next amount's magnitude."""
    ok: bool = True
    year: bool = False


def _joined(text: str, start: int, end: int, signed: bool) -> bool:
    """Whether the number is part of a date, time, ratio, range, code or compound word
    ("2024-01-05", "10:30", "3/4", "2022-23", "COVID-19", "a 10-year bond", "$5-million")."""
    before = text[start - 1] if start > 0 else ""
    after = text[end : end + 2]
    return (
        (not signed and before != "" and before in _JOINERS)
        or (len(after) == 2 and after[0] in _JOINERS and after[1].isalnum())
        or (len(after) == 2 and after[0] in ".," and after[1].isdigit())
    )


def _reading(match: re.Match[str], text: str, conventions: _Conventions) -> _Reading:
    found = _Reading(*match.span())
    groups = match.groupdict()
    raw = groups["num"]
    signed = bool(groups["sign"] or groups["sign_in"] or groups["sign_out"])
    number = conventions.read(raw)
    if number is None or groups["tail"] or _joined(text, *match.span(), signed):
        found.ok = False
        number = Decimal(0)
    found.small = abs(number) < 1000
    if not any(groups[name] for name in ("scale", "tail", "percent", "points", "basis")):
        following = _NEXT_WORD.match(text, match.end())
        if following and (
            following[1].casefold().startswith(conventions.stems)
            or following[1][0] in _CJK_NUMERALS
        ):
            found.ok = False  # "7 مليونين", "5.2 百万": a magnitude in a form not known

    scale = Decimal(1)
    measure = None
    word = groups["scale"]
    if word:
        value = conventions.scale(word)
        measure = word if word in _MEASURE_SYMBOLS else _MEASURE_WORDS.get(word.casefold())
        if value is not None:
            scale, measure, found.scaled = value, None, True
        elif measure is None:
            found.ok = False  # another language's magnitude word, or an unknown one
    post_marker = groups["code"] or groups["word"] or groups["mark"]
    if groups["measure"]:
        if measure:
            found.ok = False
        measure = groups["measure"]
        measure = measure if measure in _MEASURE_SYMBOLS else _MEASURE_WORDS[measure.casefold()]
    found.marked = bool(
        post_marker or measure or groups["percent"] or groups["points"] or groups["basis"]
    )

    if groups["percent"] or groups["points"] or groups["basis"] or groups["pct_pre"]:
        found.kind = "percent"
        found.unit = "pp" if groups["points"] else "bp" if groups["basis"] else "%"
        if groups["pre"] or (groups["pct_pre"] and not conventions.percent_first):
            found.ok = False
    elif groups["pre"] or post_marker:
        found.kind = "currency"
        code = _currency(conventions, groups["pre"], post_marker)
        if code is None or measure:
            found.ok = False
        else:
            found.unit = get_currency_symbol(code, "en")
            if not found.scaled and -number.as_tuple().exponent > get_currency_precision(code):
                found.ok = False  # "$4.125", "€350,000" in German: not money as written
    elif measure:
        found.unit = measure
    if found.scaled and re.fullmatch(f"[{_CASED}]", word) and found.kind != "currency":
        found.ok = False  # "5m people", "3 M": millions or metres?
    if (groups["link"] or groups["elided"]) and not (found.scaled and post_marker):
        found.ok = False
    if (
        found.kind != "percent"
        and not found.scaled
        and conventions.known
        and _reads_as_thousands(raw, conventions.readers[0])
    ):
        found.ok = False
    if found.kind == "number" and not found.unit and not found.scaled and not signed:
        found.year = len(raw) == 4 and raw.isdigit() and 1800 <= int(raw) <= 2099
        if (
            len(raw) <= 2
            and raw.isdigit()
            and 1 <= int(raw) <= 31
            and _by_month(text, *match.span(), conventions)
        ):
            found.ok = False  # a day of the month
    sign = -1 if signed else 1
    try:
        found.value = float(sign * number * scale)
    except (ArithmeticError, ValueError):
        found.ok, found.value = False, 0.0
    if not math.isfinite(found.value):
        found.ok, found.value = False, 0.0  # no bar can be drawn for it
    return found


def _currency(conventions: _Conventions, before: str | None, after: str | None) -> str | None:
    """The currency of an amount written with a symbol or code before it, after it, or both;
    a code after a shared symbol says which one is meant ("$5 CAD")."""
    first = conventions.currency(before) if before else None
    second = conventions.currency(after) if after else None
    if before and after:
        if first == second:
            return first
        shared = _symbols_anywhere().get(_words(before), "") is None
        return second if (shared or first is None) and after in _CURRENCIES else None
    return first if before else second


def _by_month(text: str, start: int, end: int, conventions: _Conventions) -> bool:
    return bool(
        conventions.months.match(text, end)
        or conventions.months_before.search(text[max(0, start - 16) : start])
    )


def _share_magnitudes(text: str, readings: list[_Reading]) -> None:
    """Leave out an amount that seems to borrow the next one's magnitude or unit:
    "between $2 and $3 billion", "2 to 3 million people", "5 to 10%"."""
    for this, following in zip(reversed(readings[:-1]), reversed(readings[1:]), strict=True):
        if not _RANGE_WORDS.fullmatch(text, this.end, following.start):
            continue
        bare = this.kind == "number" and not this.unit
        alike = bare or (this.kind, this.unit) == (following.kind, following.unit)
        borrows_scale = following.scaled and not (this.scaled or this.marked) and this.small
        borrows_scale = borrows_scale and alike
        borrows_unit = following.marked and not this.marked and bare
        if borrows_scale or borrows_unit:
            this.ok = False
            this.scaled = this.scaled or following.scaled
            this.marked = this.marked or following.marked


# --- labels -------------------------------------------------------------------------------


def _clause(
    text: str,
    sentences: list[tuple[int, int]],
    start: int,
    end: int,
    breaks: re.Pattern[str],
) -> tuple[int, int]:
    """The clause around text[start:end]: within its sentence, between commas or 'and'."""
    left, right = next(((a, b) for a, b in sentences if a <= start < b), (0, len(text)))
    for match in breaks.finditer(text, left, right):
        if match.end() <= start:
            left = match.end()
        elif match.start() >= end:
            right = match.start()
            break
    return left, right


def _sentences(text: str, spans: list[tuple[int, int]], language: str) -> list[tuple[int, int]]:
    """The text's sentences by the rules of its language, joined where one seemed to end
    inside a figure ("2 Mio. €")."""
    merged: list[tuple[int, int]] = []
    for left, right in sentence_spans(text, language=language or "en"):
        if merged and any(a < merged[-1][1] < b for a, b in spans):
            merged[-1] = (merged[-1][0], right)
        else:
            merged.append((left, right))
    return merged


def _years_in_turn(
    text: str, sentences: list[tuple[int, int]], spans: list[tuple[int, int]]
) -> dict[int, str]:
    """Figures named by years in turn: where a sentence alternates figures and years one for
    one ("X in 2022 and Y in 2023", "2022: X, 2023: Y"), each figure takes its own year."""
    labels: dict[int, str] = {}
    for left, right in sentences:
        items = [(a, "", index) for index, (a, _) in enumerate(spans) if left <= a < right]
        items += [
            (m.start(), m.group(), -1)
            for m in _YEAR.finditer(text, left, right)
            if not any(a <= m.start() < b for a, b in spans)
        ]
        items.sort()
        years = [year for _, year, _ in items if year]
        if len(items) < 4 or 2 * len(years) != len(items):
            continue
        if all(bool(x[1]) != bool(y[1]) for x, y in pairwise(items)):
            for x, y in zip(items[0::2], items[1::2], strict=True):
                figure, year = (y, x) if x[1] else (x, y)
                labels[figure[2]] = year[1]
    return labels


def _nouns(passage: str, language: str) -> list[str]:
    """The salient words of a passage, lower-cased; no articles or conjunctions ("der",
    "und") of the languages whose clause words are known. In German, nouns only, as
    written ("Umsatz")."""
    capitals = primary_language(language) in _CAPITAL_NOUNS
    return [
        token.text if capitals else token.key
        for token in tokens(passage, language)
        if is_salient(token, language)
        and token.key not in _NOT_NAMES
        and (token.text[0].isupper() or not capitals)
    ]


@dataclass(frozen=True)
class _Names:
    """What a figure can be called: the year of its clause, the nouns of its clause, and
    the nouns that name it more widely (its clause's, else the nearest before it in its
    sentence: "Revenue was $5M in 2023 and $4M in 2022": the $4M is revenue too)."""

    year: str
    nouns: str
    subject: str


def _names(
    text: str,
    sentences: list[tuple[int, int]],
    span: tuple[int, int],
    figures: list[tuple[int, int]],
    breaks: re.Pattern[str],
    language: str,
) -> _Names:
    """The names of the figure at `span` (see `_Names`)."""
    start, end = span
    left, right = _clause(text, sentences, start, end, breaks)
    years = [
        m
        for m in _YEAR.finditer(text, left, right)
        if not any(a <= m.start() < b for a, b in figures)
    ]
    year = min(years, key=lambda m: abs(m.start() - start)).group() if years else ""
    left = max([left] + [b for a, b in figures if b <= start])  # not another figure's words
    right = min([right] + [a for a, b in figures if a >= end])
    before, after = _nouns(text[left:start], language), _nouns(text[end:right], language)
    nouns = " ".join(before[-2:]) if before else " ".join(after[:2])
    subject = nouns
    if not subject:  # the words between earlier figures of the sentence, nearest first
        opening = next((a for a, b in sentences if a <= start < b), 0)
        earlier = [(a, b) for a, b in figures if opening <= a and b <= left]
        starts, ends = [opening] + [b for _, b in earlier], [a for a, _ in earlier] + [left]
        for gap_start, gap_end in reversed(list(zip(starts, ends, strict=True))):
            found = _nouns(text[gap_start:gap_end], language)
            if found:
                subject = " ".join(found[-2:])
                break
    return _Names(year, nouns, subject)


def _as_written(passage: str) -> str:
    """The figure's words on one line; the spaces that group digits are kept as they are."""
    return re.sub(r"\s*[\n\r\t]\s*|[ ]{2,}", " ", passage).strip()


# --- the API ------------------------------------------------------------------------------


# "€0.12 per share", "$15 an hour", "3 kg each", "5 € je Aktie": a rate, never on one axis
# with totals. Every language has "per" and "/"; these are a language's own. Each marker is
# a whole word and so is the word after it ("$5 million profit" is no rate "per fit").
_PER_WORDS = {"de": ("pro", "je"), "fr": ("par",), "es": ("por",), "pt": ("por",)}
_EACH_WORDS = {
    "en": ("each", "apiece"),
    "de": ("jeweils",),
    "fr": ("chacun", "chacune"),
    "es": ("cada uno", "cada una"),
    "pt": ("cada um", "cada uma"),
    "it": ("ciascuno", "ciascuna", "cadauno"),
}
# After a marker, these words make no rate: articles ("por la demanda") and the words of
# set phrases ("par rapport à", "je nach", "por ejemplo").
_NOT_PER = _ARTICLES | wordset("nach rapport exemple ejemplo exemplo esempio cent cento ciento")
# "$5 a total", "€2 a rise": English "a" then these words is no rate.
_NOT_RATES = wordset(
    """
    total rise fall gain loss increase decrease record new further lot bit couple drop jump
    boost cut surplus deficit
    """
)
# "$5 a year ago", "$3 a decade earlier", "$4 a month later": a time, not a rate.
_AGO = re.compile(
    r"[\s-]+(?:ago|earlier|before|later|previously|prior|back|since|after|hence|on)\b",
    re.IGNORECASE,
)


def _rate_language(language: str) -> str:
    code = primary_language(language)
    return code if code in _EACH_WORDS or code in _PER_WORDS else "en"  # else English words


@lru_cache(maxsize=64)
def _rate_pattern(code: str) -> re.Pattern[str]:
    per = _alternation(["per", *_PER_WORDS.get(code, ())])
    each = _alternation(_EACH_WORDS.get(code, ()))
    an = r"|an?\s+(?P<an>[^\W\d_]+)" if code == "en" else ""
    return re.compile(
        rf"""\s*(?<![^\W_])(?:
            (?P<each>{each})
          | (?:{per})\s+(?P<per>[^\W\d_]+)
          | /\s*(?P<slash>[^\W\d_]+)
          {an}
        )(?![\w])""",
        re.IGNORECASE | re.VERBOSE,
    )


def _rate_unit(text: str, end: int, unit: str, language: str) -> str:
    """The unit of the amount ending at `end`: `unit`, or `unit` per something, or each."""
    code = _rate_language(language)
    found = _rate_pattern(code).match(text, end)
    if found is None:
        return unit
    if found["each"]:
        return f"{unit} each".strip()
    an = found.groupdict().get("an")
    what = (found["per"] or found["slash"] or an).lower()
    if what in _NOT_PER or (code == "en" and what in STOPWORDS):
        return unit
    if an and (what in _NOT_RATES or _AGO.match(text, found.end())):
        return unit
    return f"{unit} per {what}".strip()


def _named_figures(text: str, language: str) -> list[tuple[Figure, _Names]]:
    conventions = _conventions(language or "")
    readings = [_reading(m, text, conventions) for m in conventions.pattern.finditer(text)]
    _share_magnitudes(text, readings)
    # A chart shows a handful; naming each figure looks at its neighbours, so a pasted
    # table of thousands of numbers is read up to a bound, not in quadratic time.
    kept = [reading for reading in readings if reading.ok and not reading.year][:_MOST_FIGURES]
    spans = [(reading.start, reading.end) for reading in kept]
    sentences = _sentences(text, spans, language)
    in_turn = _years_in_turn(text, sentences, spans)
    found = []
    for index, (reading, span) in enumerate(zip(kept, spans, strict=True)):
        names = _names(text, sentences, span, spans, conventions.clause_break, language)
        if index in in_turn:
            names = _Names(in_turn[index], names.nouns, names.subject)
        unit = _rate_unit(text, reading.end, reading.unit, language)
        if reading.kind in ("percent", "currency") or unit in ("pp", "bp"):
            value, unit = _as_change(text, reading.start, reading.value, unit, language)
        else:  # "lost 3 games", "picked up 20 passengers": counts, not changes
            value = reading.value
        written = _as_written(text[reading.start : reading.end])
        if unit.endswith(" change") and written[:1] not in "+-\u2212":
            written = ("\u2212" if value < 0 else "+") + written
        figure = Figure(
            value=value,
            kind=reading.kind,
            unit=unit,
            text=written,
            label=names.year or names.nouns,
            start=reading.start,
        )
        found.append((figure, names))
    return found


# "fell 3.5%", "rose by $2M", "sank um 5 %", "en baisse de 3 %": a change, not a level.
# A change never shares an axis with levels, and a fall is drawn below zero.
_CHANGES = {
    "en": (
        r"(?:rose|grew|increased|climbed|gained|jumped|up)(?:\s+by)?",
        r"(?:fell|dropped|declined|decreased|slipped|shrank|lost|sank|down)(?:\s+by)?",
    ),
    "de": (
        r"(?:stieg|stiegen|wuchs|wuchsen|legte|legten|zulegte|plus)(?:\s+um)?",
        r"(?:sank|sanken|fiel|fielen|verlor|verloren|minus)(?:\s+um)?",
    ),
    "fr": (
        r"(?:augment[ée]e?s?|progress[ée]e?s?|en\s+hausse)\s+de",
        r"(?:baiss[ée]e?s?|recul[ée]e?s?|chut[ée]e?s?|en\s+baisse)\s+de",
    ),
    "es": (
        r"(?:subi[óo]|creci[óo]|aument[óo])(?:\s+un)?",
        r"(?:baj[óo]|cay[óo]|disminuy[óo]|descendi[óo])(?:\s+un)?",
    ),
}


@lru_cache(maxsize=64)
def _change_patterns(code: str) -> tuple[re.Pattern[str], re.Pattern[str]] | None:
    words = _CHANGES.get(code)
    if words is None:
        return None
    up, down = (re.compile(rf"\b{w}\s+$", re.IGNORECASE) for w in words)
    return up, down


def _as_change(text: str, start: int, value: float, unit: str, language: str) -> tuple[float, str]:
    """A figure a verb says rose or fell by: its signed value, in its unit of change."""
    patterns = _change_patterns(primary_language(language or "en"))
    if patterns is None:
        return value, unit
    before = text[max(0, start - 40) : start]
    up, down = patterns
    if down.search(before):  # "fell 3%" and "fell -3%" alike
        return -abs(value), f"{unit} change"
    if up.search(before):
        return value, f"{unit} change"
    return value, unit


_MOST_FIGURES = 48


def find_figures(text: str, *, language: str = "en") -> list[Figure]:
    """Every figure in reading order, bare years excluded (they label figures instead).

    `language` is the text's BCP-47 tag; its conventions decide how numbers, magnitude
    words and currency symbols are read. A figure that could be misread is left out.
    A figure's label is the year of its clause, else the nouns before it, else those
    after it."""
    return [figure for figure, _ in _named_figures(text, language)]


def _distinct_labels(named: list[tuple[Figure, _Names]]) -> list[Figure]:
    """The figures of one chart, each with a label no other bar has.

    A figure with no words of its own in its clause is named by those before it in its
    sentence ("Revenue rose to $5M, then to $6M": revenue). When labels repeat ("2023"
    for revenue and for profit), every bar is named by its nouns and its year ("revenue
    2023", "profit 2023"); a label that still repeats is numbered in reading order
    ("revenue #1", "revenue #2"). A figure with no name at all keeps an empty label."""
    figures = [figure for figure, _ in named]
    labels = [figure.label or names.subject for figure, names in named]
    if len(set(labels)) < len(labels):
        labels = [
            " ".join(part for part in (names.subject, names.year) if part) for _, names in named
        ]
    counts = {label: labels.count(label) for label in labels}
    seen: dict[str, int] = {}
    for index, label in enumerate(labels):
        if label and counts[label] > 1:
            seen[label] = seen.get(label, 0) + 1
            labels[index] = f"{label} #{seen[label]}"
    return [
        Figure(f.value, f.kind, f.unit, f.text, label, f.start)
        for f, label in zip(figures, labels, strict=True)
    ]


def chart_figures(text: str, limit: int = 8, *, language: str = "en") -> list[Figure]:
    """The figures worth one honest chart: the largest group sharing a kind and unit.

    A group of two or more beats a lone figure, then money beats percentages beats plain
    counts. Plain counts need at least two figures to be worth charting, and a text that
    states money at all: there a count such as "950 millones" is likely money whose currency
    went unsaid. Money and percentages are charted even alone. Returns [] when nothing
    qualifies. No two bars share a label (see `_distinct_labels`).
    """
    groups: dict[tuple[str, str], list[tuple[Figure, _Names]]] = {}
    for figure, names in _named_figures(text, language):
        groups.setdefault((figure.kind, figure.unit), []).append((figure, names))
    money = any(kind == "currency" for kind, _ in groups)
    eligible = [
        group
        for (kind, _), group in groups.items()
        if kind != "number" or (len(group) >= 2 and not money)
    ]
    if not eligible:
        return []
    best = min(
        eligible,
        key=lambda g: (len(g) < 2, _PRIORITY[g[0][0].kind], -len(g), g[0][0].start),
    )
    return _distinct_labels(best[:limit])


@lru_cache(maxsize=1)
def _codes_by_unit() -> dict[str, str]:
    return {get_currency_symbol(code, "en"): code for code in _CURRENCIES}


# Marks that set the direction of a run; the drawing sets each line's direction itself.
_BIDI_MARKS = re.compile("[\u200e\u200f\u061c]")


def _english_value(number: float, base: str) -> str:
    magnitude = abs(number)
    for threshold, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if magnitude >= threshold:
            written = f"{number / threshold:.1f}".removesuffix(".0") + suffix
            break
    else:
        written = f"{number:.2f}".rstrip("0").rstrip(".") if number % 1 else f"{number:.0f}"
    if base == "%":
        return written + "%"
    if base in _currency_units():
        base += " " if base[-1].isalpha() else ""
        return ("-" + base + written[1:]) if written.startswith("-") else base + written
    return f"{written} {base}" if base else written


def _local_value(number: float, base: str, locale: Locale) -> str:
    digits = 1 if abs(number) >= 1000 else 2
    if base == "%":
        share = Decimal(repr(round(number, 2))) / 100
        return format_percent(share, locale=locale, decimal_quantization=False)
    code = _codes_by_unit().get(base)
    # Where the language has no short form for the magnitude (German has none below a
    # million), CLDR's compact pattern is bare digits: write the number in full, grouped.
    compact = format_compact_decimal(number, locale=locale, fraction_digits=digits)
    whole = compact == format_decimal(number, locale=locale, group_separator=False)
    if code:
        if whole:  # the language's own currency pattern, cents only where there are any
            pattern = locale.currency_formats["standard"].pattern.replace("0.00", "0.##")
            return format_currency(
                number, code, locale=locale, format=pattern, currency_digits=False
            )
        return format_compact_currency(number, code, locale=locale, fraction_digits=digits)
    written = format_decimal(number, locale=locale) if whole else compact
    return f"{written}\u00a0{base}" if base else written


def format_value(value: float, unit: str, language: str = "en") -> str:
    """A compact axis label in the conventions of the text's language (a BCP-47 tag; an
    unknown one reads as English). In English: 3_400_000 with $ -> "$3.4M", 12 with % ->
    "12%", 5 with CHF -> "CHF 5", 2 with pp -> "2 pp", 0.12 with "€ per share" ->
    "€0.12 per share". Elsewhere babel (CLDR) writes it: 2_500_000 with € in German ->
    "2,5 Mio. €"; a rate is written as its amount there (the bars' own words say per what)."""
    unit = unit.removesuffix(" change")  # the axis of a change is in the unit changed
    rated = re.fullmatch(r"(.*?) ?(per .+|each)", unit)
    base, rate = (rated[1], rated[2]) if rated else (unit, "")
    locale = _locale(language or "") if primary_language(language or "en") != "en" else None
    if locale is None:
        written = _english_value(value, base)
        return f"{written} {rate}" if rate else written
    try:
        return _BIDI_MARKS.sub("", _local_value(value, base, locale))
    except (ArithmeticError, ValueError, KeyError):
        return _english_value(value, base)
