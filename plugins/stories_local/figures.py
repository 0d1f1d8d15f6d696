"""Figures in a text (amounts of money, percentages, counts), found with regular expressions.

A chart must never mislead, so only figures of one kind and unit are ever plotted
together, and each keeps the words the text used for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stories_local.analysis import is_salient, sentence_spans, tokens

_NUMBER = r"(?P<sign>(?<![\w.])[-\u2212])?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_SCALE_WORD = r"(?:\s?(?P<scale>trillion|billion|million|thousand|bn|tn|mn)\b)?"
_SCALE_ANY = r"(?:\s?(?P<scale>trillion|billion|million|thousand|bn|tn|mn|[mkb])\b)?"
_SYMBOLS = {"$": "$", "€": "€", "£": "£", "¥": "¥", "usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}
_CURRENCY_WORDS = {"dollar": "$", "euro": "€", "pound": "£", "yen": "¥"}
_SCALES = {
    "thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6,
    "billion": 1e9, "bn": 1e9, "b": 1e9, "trillion": 1e12, "tn": 1e12,
}  # fmt: skip

# Tried in this order; a later pattern never claims text an earlier one matched.
_PATTERNS = (
    ("currency", re.compile(rf"(?:(?P<unit>[$€£¥])\s?|\b(?P<code>USD|EUR|GBP|JPY)\s?){_NUMBER}"
                            rf"{_SCALE_ANY}", re.IGNORECASE)),
    ("percent", re.compile(rf"{_NUMBER}{_SCALE_WORD}\s?(?P<pct>%|percent\b|per cent\b)",
                           re.IGNORECASE)),
    ("currency", re.compile(rf"{_NUMBER}{_SCALE_WORD}\s(?P<word>dollar|euro|pound|yen)s?\b",
                            re.IGNORECASE)),
    ("number", re.compile(rf"(?<![\w.,\-\u2212]){_NUMBER}{_SCALE_WORD}(?![\w%])", re.IGNORECASE)),
)  # fmt: skip
_YEAR = re.compile(r"(?<![\w.,$€£¥])(?:1[89]\d\d|20\d\d)(?![\w%]|\.\d|,\d)")
_CLAUSE_BREAK = re.compile(r"[,;:()]|\s(?:and|but|while|whereas|compared with|versus|vs\.?)\s")
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


def _value(match: re.Match[str]) -> float:
    value = float(match.group("num").replace(",", ""))
    scale = (match.group("scale") or "").lower()
    value *= _SCALES.get(scale, 1.0)
    return -value if match.group("sign") else value


def _unit(kind: str, match: re.Match[str]) -> str:
    groups = match.groupdict()
    if kind == "percent":
        return "%"
    if groups.get("unit") or groups.get("code"):
        return _SYMBOLS[(groups.get("unit") or groups["code"]).lower()]
    if groups.get("word"):
        return _CURRENCY_WORDS[groups["word"].lower()]
    return ""


def _is_bare_year(kind: str, match: re.Match[str]) -> bool:
    number = match.group("num")
    return (
        kind == "number"
        and not match.group("scale")
        and number.isdigit()
        and 1800 <= int(number) <= 2099
    )


def _clause(text: str, sentences: list[tuple[int, int]], start: int, end: int) -> tuple[int, int]:
    """The clause around text[start:end]: within its sentence, between commas or 'and'."""
    left, right = next(((a, b) for a, b in sentences if a <= start < b), (0, len(text)))
    for match in _CLAUSE_BREAK.finditer(text, left, right):
        if match.end() <= start:
            left = match.end()
        elif match.start() >= end:
            right = match.start()
            break
    return left, right


def _nouns(passage: str) -> list[str]:
    """The salient words of a passage, lower-cased."""
    return [token.key for token in tokens(passage) if is_salient(token)]


def _label(text: str, sentences: list[tuple[int, int]], start: int, end: int) -> str:
    """Name a figure: a year in its clause, else the nouns before it, else those after it."""
    left, right = _clause(text, sentences, start, end)
    years = [m for m in _YEAR.finditer(text, left, right) if not start <= m.start() < end]
    if years:
        return min(years, key=lambda m: abs(m.start() - start)).group()
    before, after = _nouns(text[left:start]), _nouns(text[end:right])
    return " ".join(before[-2:]) if before else " ".join(after[:2])


def find_figures(text: str) -> list[Figure]:
    """Every figure in reading order, bare years excluded (they label figures instead)."""
    sentences = sentence_spans(text)
    taken: list[tuple[int, int]] = []
    found = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < b and a < end for a, b in taken) or _is_bare_year(kind, match):
                continue
            taken.append((start, end))
            found.append(
                Figure(
                    value=_value(match),
                    kind=kind,
                    unit=_unit(kind, match),
                    text=" ".join(match.group().split()),
                    label=_label(text, sentences, start, end),
                    start=start,
                )
            )
    return sorted(found, key=lambda figure: figure.start)


def chart_figures(text: str, limit: int = 8) -> list[Figure]:
    """The figures worth one honest chart: the largest group sharing a kind and unit.

    A group of two or more beats a lone figure, then money beats percentages beats plain
    counts. Plain counts need at least two figures to be worth charting; money and
    percentages are charted even alone. Returns [] when nothing qualifies.
    """
    groups: dict[tuple[str, str], list[Figure]] = {}
    for figure in find_figures(text):
        groups.setdefault((figure.kind, figure.unit), []).append(figure)
    eligible = [group for (kind, _), group in groups.items() if kind != "number" or len(group) >= 2]
    if not eligible:
        return []
    best = min(eligible, key=lambda g: (len(g) < 2, _PRIORITY[g[0].kind], -len(g), g[0].start))
    return best[:limit]


def format_value(value: float, unit: str) -> str:
    """A compact axis label: 3_400_000 with $ -> "$3.4M", 12 with % -> "12%"."""
    magnitude = abs(value)
    for threshold, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if magnitude >= threshold:
            number = f"{value / threshold:.1f}".removesuffix(".0") + suffix
            break
    else:
        number = f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"
    if unit == "%":
        return number + "%"
    if unit:
        return ("-" + unit + number[1:]) if number.startswith("-") else unit + number
    return number
