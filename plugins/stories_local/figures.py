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
  figures.
"""

from __future__ import annotations

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
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
    get_territory_currencies,
    parse_decimal,
)

from stories_local.analysis import STOPWORDS, is_salient, sentence_spans, tokens

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
# where a word ends (in Chinese or Japanese they need not).
_CASED = "A-Za-z\u00aa\u00b5\u00ba\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0370-\u03ff\u0400-\u052f"
_WORD_END = rf"(?:(?<![{_CASED}])|(?![{_CASED}]))"
_NUMBER = (
    r"(?>[0-9]{1,3}(?:[ \u00a0\u202f\u2009][0-9]{3}(?![0-9]))+(?:[.,'\u2019][0-9]+)*"
    r"|[0-9]+(?:[.,'\u2019\u00a0\u202f\u2009][0-9]+)*)"
)
_SPACES = " \u00a0\u202f\u2009"
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
    r"[;()]|[,:](?![0-9])|(?<![0-9])[,:]|\s(?:and|but|while|whereas|compared with|versus|vs\.?{})\s"
)
_CLAUSE_WORDS = {
    "de": "und|aber|während|gegenüber|sowie",
    "fr": "et|mais|contre|tandis que|alors que",
    "es": "y|pero|mientras|frente a",
    "pt": "e|mas|enquanto|contra",
    "it": "e|ma|mentre|contro",
    "nl": "en|maar|terwijl",
}
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
        (?:(?P<scale_gap>{_GAP})(?P<scale>{_alternation(_all_scale_words())}){_WORD_END})?
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
    try:
        return parse_decimal(text, locale, strict=True)
    except NumberFormatError:
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
    found.value = float(sign * number * scale)
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


def _sentences(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The text's sentences, joined where one seemed to end inside a figure ("2 Mio. €")."""
    merged: list[tuple[int, int]] = []
    for left, right in sentence_spans(text):
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


def _nouns(passage: str) -> list[str]:
    """The salient words of a passage, lower-cased."""
    return [token.key for token in tokens(passage) if is_salient(token)]


def _label(
    text: str,
    sentences: list[tuple[int, int]],
    span: tuple[int, int],
    figures: list[tuple[int, int]],
    breaks: re.Pattern[str],
) -> str:
    """Name a figure: a year in its clause, else the nouns before it, else those after it."""
    start, end = span
    left, right = _clause(text, sentences, start, end, breaks)
    years = [
        m
        for m in _YEAR.finditer(text, left, right)
        if not any(a <= m.start() < b for a, b in figures)
    ]
    if years:
        return min(years, key=lambda m: abs(m.start() - start)).group()
    left = max([left] + [b for a, b in figures if b <= start])  # not another figure's words
    right = min([right] + [a for a, b in figures if a >= end])
    before, after = _nouns(text[left:start]), _nouns(text[end:right])
    return " ".join(before[-2:]) if before else " ".join(after[:2])


def _as_written(passage: str) -> str:
    """The figure's words on one line; the spaces that group digits are kept as they are."""
    return re.sub(r"\s*[\n\r\t]\s*|[ ]{2,}", " ", passage).strip()


# --- the API ------------------------------------------------------------------------------


# "€0.12 per share", "$15 an hour", "3 kg each": a rate, never on one axis with totals.
_RATE = re.compile(
    r"\s*(?:(?:per|pro|je|par|por|/)\s*(?P<per>[^\W\d_]+)|an?\s+(?P<an>[^\W\d_]+)|(?P<each>each)\b)",
    re.IGNORECASE,
)
# "$5 a year ago", "€2 a total": "a" then these words is no rate.
_NOT_RATES = frozenset({"year", "total", "rise", "fall", "gain", "loss", "increase", "decrease"})


def _rate_unit(text: str, end: int, unit: str) -> str:
    found = _RATE.match(text, end)
    if found is None:
        return unit
    if found["each"]:
        return f"{unit} each"
    what = (found["per"] or found["an"]).lower()
    if found["an"] and (what in _NOT_RATES or what in STOPWORDS):
        return unit
    return f"{unit} per {what}"


def find_figures(text: str, *, language: str = "en") -> list[Figure]:
    """Every figure in reading order, bare years excluded (they label figures instead).

    `language` is the text's BCP-47 tag; its conventions decide how numbers, magnitude
    words and currency symbols are read. A figure that could be misread is left out."""
    conventions = _conventions(language or "")
    readings = [_reading(m, text, conventions) for m in conventions.pattern.finditer(text)]
    _share_magnitudes(text, readings)
    kept = [reading for reading in readings if reading.ok and not reading.year]
    spans = [(reading.start, reading.end) for reading in kept]
    sentences = _sentences(text, spans)
    in_turn = _years_in_turn(text, sentences, spans)
    return [
        Figure(
            value=reading.value,
            kind=reading.kind,
            unit=_rate_unit(text, reading.end, reading.unit),
            text=_as_written(text[reading.start : reading.end]),
            label=in_turn.get(index)
            or _label(text, sentences, span, spans, conventions.clause_break),
            start=reading.start,
        )
        for index, (reading, span) in enumerate(zip(kept, spans, strict=True))
    ]


def chart_figures(text: str, limit: int = 8, *, language: str = "en") -> list[Figure]:
    """The figures worth one honest chart: the largest group sharing a kind and unit.

    A group of two or more beats a lone figure, then money beats percentages beats plain
    counts. Plain counts need at least two figures to be worth charting, and a text that
    states money at all: there a count such as "950 millones" is likely money whose currency
    went unsaid. Money and percentages are charted even alone. Returns [] when nothing
    qualifies.
    """
    groups: dict[tuple[str, str], list[Figure]] = {}
    for figure in find_figures(text, language=language):
        groups.setdefault((figure.kind, figure.unit), []).append(figure)
    money = any(kind == "currency" for kind, _ in groups)
    eligible = [
        group
        for (kind, _), group in groups.items()
        if kind != "number" or (len(group) >= 2 and not money)
    ]
    if not eligible:
        return []
    best = min(eligible, key=lambda g: (len(g) < 2, _PRIORITY[g[0].kind], -len(g), g[0].start))
    return best[:limit]


def format_value(value: float, unit: str) -> str:
    """A compact axis label: 3_400_000 with $ -> "$3.4M", 12 with % -> "12%",
    5 with CHF -> "CHF 5", 2 with pp -> "2 pp"."""
    magnitude = abs(value)
    for threshold, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if magnitude >= threshold:
            number = f"{value / threshold:.1f}".removesuffix(".0") + suffix
            break
    else:
        number = f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"
    if unit == "%":
        return number + "%"
    if unit in _currency_units():
        unit += " " if unit[-1].isalpha() else ""
        return ("-" + unit + number[1:]) if number.startswith("-") else unit + number
    if unit:
        return f"{number} {unit}"
    return number
