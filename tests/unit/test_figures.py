"""Figures are read with the text's conventions, or left out: a chart never misleads."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from babel.numbers import get_decimal_symbol, get_group_symbol
from hypothesis import given, settings
from hypothesis import strategies as st
from stories_local.figures import Figure, chart_figures, find_figures, format_value


def read(text: str, language: str = "en") -> list[tuple[float, str]]:
    return [(f.value, f.unit) for f in find_figures(text, language=language)]


def values(text: str, language: str = "en") -> list[float]:
    return [f.value for f in find_figures(text, language=language)]


# --- numbers in each language's convention ------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("en", "Revenue was $1,234,567.89 in 2023.", [(1234567.89, "$")]),
        ("en-GB", "Revenue was £1,234,567.89 in 2023.", [(1234567.89, "£")]),
        ("de", "Der Umsatz betrug 1.234.567,89 € im Jahr 2023.", [(1234567.89, "€")]),
        ("de", "Der Umsatz betrug 1234567,89 € im Jahr 2023.", [(1234567.89, "€")]),
        ("fr", "Le chiffre d'affaires était de 1 234 567,89 € en 2023.", [(1234567.89, "€")]),
        (
            "fr",
            "Le chiffre d'affaires était de 1\u202f234\u202f567,89\u00a0€.",
            [(1234567.89, "€")],
        ),
        ("fr", "Le chiffre d'affaires était de 1\u00a0234\u00a0567,89 €.", [(1234567.89, "€")]),
        ("de-CH", "Der Umsatz betrug CHF 1'234'567.89 im Jahr 2023.", [(1234567.89, "CHF")]),
        ("de-CH", "Der Umsatz betrug CHF 1\u2019234\u2019567.89.", [(1234567.89, "CHF")]),
        ("es", "Los ingresos fueron de 1.234.567,89 € en 2023.", [(1234567.89, "€")]),
        ("es", "Había 1.234 empleados y 12.500 clientes.", [(1234.0, ""), (12500.0, "")]),
        ("pt-BR", "A receita foi de R$ 1.234.567,89 em 2023.", [(1234567.89, "R$")]),
        ("en-IN", "Revenue was ₹12,34,567.50 in 2023.", [(1234567.5, "₹")]),
        ("sv", "Intäkterna var 1 234 567,89 kr 2023.", [(1234567.89, "SEK")]),
    ],
)
def test_numbers_are_read_with_the_texts_conventions(
    language: str, text: str, expected: list[tuple[float, str]]
) -> None:
    assert read(text, language) == expected


def test_the_language_is_english_unless_said_and_may_be_any_bcp47_tag() -> None:
    assert read("Revenue was $1,234.50.") == [(1234.5, "$")]
    assert read("Revenue was $1,234.50.", "EN-us") == [(1234.5, "$")]
    assert read("Umsatz: 1.234,50 €.", "de-DE-1996") == [(1234.5, "€")]
    assert chart_figures("Revenue was 1.234,50 € in 2022 and 2.000 € in 2023.") == []
    german = chart_figures("Umsatz 2022: 1.234,50 €; 2023: 2.000 €.", 8, language="de")
    assert [f.value for f in german] == [1234.5, 2000.0]


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "Revenue was 1.234,56 in 2023."),  # European grouping in an English text
        ("en", "Margins were 1,5 points."),  # not valid English grouping
        ("en", "Revenue was $1,2345."),
        ("en", "Revenue was 1.234 units."),  # thousands in German, a decimal in English
        ("en", "It cost $4.125 a share."),  # more decimals than the dollar has
        ("de", "Der Umsatz betrug 1,234.56 Euro."),  # English grouping in a German text
        ("de", "Der Umsatz betrug 12.5 Euro."),
        ("de", "Der Umsatz betrug 350,000 €."),  # 350 in German, 350 thousand in English
        ("de", "Es kamen 1,234 Gäste."),
        ("fr", "Le chiffre d'affaires était de 1.234,5 €."),
        ("fr", "Le chiffre d'affaires était de 1,234.5 €."),
        ("de-CH", "Der Umsatz betrug CHF 1.234,50."),
        ("und", "Revenue was 1.234 in 2023."),  # unknown convention: 1.234 or 1234?
        ("und", "Revenue was 1,234 in 2023."),
        ("", "Revenue was 1,234 in 2023."),
        ("en", "At 10 000 feet."),  # a plain space groups digits only where that is the rule
    ],
)
def test_a_number_that_could_be_misread_is_left_out(language: str, text: str) -> None:
    assert find_figures(text, language=language) == []


def test_an_unknown_convention_reads_only_what_every_convention_reads_alike() -> None:
    text = "Revenue was 1,234,567.5 in 2022, 1.234.567,5 in 2023 and 12.5 in 2024."
    assert values(text, "und") == [1234567.5, 1234567.5, 12.5]
    assert values(text, "x-private") == [1234567.5, 1234567.5, 12.5]
    assert values("Cost: 5 billion and 7 million.", "und") == [7e6]  # 1e9 or 1e12?


# --- magnitudes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("en", "Revenue was $1.5M.", [(1.5e6, "$")]),
        ("en", "Revenue was $1.5 million.", [(1.5e6, "$")]),
        ("en", "Revenue was €2bn.", [(2e9, "€")]),
        ("en", "Revenue was £350,000.", [(350000.0, "£")]),
        ("en", "Revenue was £350k.", [(350000.0, "£")]),
        ("en", "Revenue was $3.4 billion.", [(3.4e9, "$")]),
        ("en", "Debt was $1.2tn.", [(1.2e12, "$")]),
        ("en", "It has 3.4 million users.", [(3.4e6, "")]),
        ("en", "It has 900 thousand users.", [(900000.0, "")]),
        ("de", "Der Umsatz betrug 3,4 Mio. €.", [(3.4e6, "€")]),
        ("de", "Der Umsatz betrug 2 Mrd. Euro.", [(2e9, "€")]),
        ("de", "Der Umsatz betrug 2 Milliarden Euro.", [(2e9, "€")]),
        ("de", "Die Schulden betragen 2 Billionen Euro.", [(2e12, "€")]),  # German Billion
        ("de", "Der Umsatz betrug 350 Tsd. Euro.", [(350000.0, "€")]),
        ("de", "Der Umsatz betrug EUR 2,5 Mio.", [(2.5e6, "€")]),
        ("fr", "Le chiffre d'affaires atteint 2,5 millions d'euros.", [(2.5e6, "€")]),
        ("fr", "Le chiffre d'affaires atteint 2,5 milliards d'euros.", [(2.5e9, "€")]),
        ("fr", "La dette atteint 3 billions d'euros.", [(3e12, "€")]),  # French billion
        ("fr", "Le chiffre d'affaires atteint 2,5 M€.", [(2.5e6, "€")]),
        ("es", "Los ingresos fueron de 2,5 millones de euros.", [(2.5e6, "€")]),
        ("es", "Los ingresos fueron de 3 mil millones de dólares.", [(3e9, "$")]),
        ("pt-BR", "A receita foi de R$ 2,5 bilhões.", [(2.5e9, "R$")]),
        ("pt-BR", "A receita foi de US$ 900 milhões.", [(9e8, "$")]),
        ("en-IN", "Revenue was ₹2 crore, costs ₹50 lakh.", [(2e7, "₹"), (5e6, "₹")]),
        ("sv", "Intäkterna var 5 mn kr.", [(5e6, "SEK")]),
        ("ja", "売上高は5億円でした。", [(5e8, "¥")]),
    ],
)
def test_magnitudes_are_the_languages_own(
    language: str, text: str, expected: list[tuple[float, str]]
) -> None:
    assert read(text, language) == expected


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "Revenue was $5MM."),  # millions, or thousand thousands?
        ("en", "Revenue was €2 Mrd."),  # a German word in an English text
        ("en", "Revenue was ₹2 crore."),  # an Indian word, where "en" does not say India
        ("en", "Revenue was $5 mil."),
        ("en", "We have 5m people."),  # metres or millions?
        ("en", "We have 5 M users."),
        ("fr", "La dette atteint 3 bn €."),  # "bn": 1e9 in English, not French
        ("de", "Der Umsatz betrug 3.4 Millionen Euro."),
        ("en", "He paid 50 cents."),
    ],
)
def test_an_unknown_or_foreign_magnitude_leaves_the_figure_out(language: str, text: str) -> None:
    assert find_figures(text, language=language) == []


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("en", "Revenue was $900,000 in 2022 and $1.5M in 2023.", [9e5, 1.5e6]),
        ("en", "Revenue: €2bn vs €350m.", [2e9, 3.5e8]),
        ("en", "Users: 1.5 million in 2022 and 900 thousand in 2023.", [1.5e6, 9e5]),
        ("en", "Sales were $5,000,000 in 2022 and $5.5 million in 2023.", [5e6, 5.5e6]),
        ("de", "Der Umsatz lag 2022 bei 900 Mio. € und 2023 bei 1,2 Mrd. €.", [9e8, 1.2e9]),
        ("de", "Umsatz 2022: 1.234.567,89 €; 2023: 2,5 Mio. €.", [1234567.89, 2.5e6]),
        ("de", "Sales were €2 Mrd. in 2023 and €900 Mio. in 2022.", [2e9, 9e8]),
        ("fr", "Le CA passe de 950 000 € en 2022 à 1,2 million d'euros en 2023.", [9.5e5, 1.2e6]),
        (
            "es",
            "Los ingresos pasaron de 900 mil € en 2022 a 1,5 millones de € en 2023.",
            [9e5, 1.5e6],
        ),
    ],
)
def test_a_larger_amount_always_gets_the_larger_value(
    language: str, text: str, expected: list[float]
) -> None:
    """The bug users saw: a chart whose larger amount had the smaller bar."""
    figures = chart_figures(text, language=language)
    assert [f.value for f in figures] == expected


def test_an_amount_that_seems_to_borrow_the_next_ones_magnitude_is_left_out() -> None:
    assert read("Sales were between $2 and $3 billion.") == [(3e9, "$")]
    assert read("Sales were $2, $3 and $4 billion.") == [(4e9, "$")]
    assert read("It reached 2 to 3 million people.") == [(3e6, "")]
    assert read("It grew 5 to 10% a year.") == [(10.0, "% per year")]  # "a year": a rate
    assert read("Der Umsatz lag zwischen 2 und 3 Mrd. €.", "de") == [(3e9, "€")]
    # A complete amount does not borrow: a unit after it, or a different kind.
    assert read("It cost 300 yuan, then RMB 5bn.") == [(300.0, "CN¥"), (5e9, "CN¥")]
    assert read("Sales rose 12% to $4.5bn.") == [(12.0, "% change"), (4.5e9, "$")]


# --- units ----------------------------------------------------------------------------------


def test_every_way_of_writing_a_currency_gives_it_one_unit() -> None:
    dollars = "$5m, US$5m, USD 5m, 5m USD, 5 million dollars, 5 million US dollars, $5m USD."
    assert read(dollars) == [(5e6, "$")] * 7
    euros = "€5m, EUR 5m, 5m EUR, 5 million euros, 5 million Euro, 5 million €."
    assert read(euros) == [(5e6, "€")] * 6
    german = "5 Mio. €, 5 Mio. EUR, 5 Mio. Euro, EUR 5 Mio., € 5 Mio., 5 Millionen Euro."
    assert read(german, "de") == [(5e6, "€")] * 6
    french = "5 M€, 5 millions d'euros, 5 millions €, 5 000 000 €, 5 millions EUR."
    assert read(french, "fr") == [(5e6, "€")] * 5
    assert (
        read("5 millones de dólares, 5 millones de US$, 5 millones USD.", "es") == [(5e6, "$")] * 3
    )


def test_different_currencies_never_share_a_unit() -> None:
    text = "$1m, CA$1m, A$1m, NZ$1m, HK$1m, R$1m, MX$1m, €1m, £1m, ¥1m, CN¥1m, ₹1m, CHF 1m."
    units = [unit for _, unit in read(text)]
    assert len(units) == 13 and len(set(units)) == 13
    # "$" is the region's own dollar where the region has one, and words say which.
    assert read("$5m, US$5m, 5 million dollars, 5 million US dollars.", "en-CA") == [
        (5e6, "CA$"),
        (5e6, "$"),
        (5e6, "CA$"),
        (5e6, "$"),
    ]
    assert read("$5m and 5 million dollars.", "en-AU") == [(5e6, "A$"), (5e6, "A$")]
    assert read("$5 CAD") == [(5.0, "CA$")]  # a code after a shared symbol says which
    assert read("€5 USD") == []  # two currencies: which?
    assert read("¥5m", "en") == [(5e6, "¥")]
    assert read("¥500万", "zh") == [(5e6, "CN¥")]
    assert read("¥5m", "zh") == []  # "m" is no Chinese magnitude
    assert read("5 kr and 5 francs and 5 pesos.") == []  # several currencies use these
    assert read("Intäkterna var 5 kr.", "sv") == [(5.0, "SEK")]
    assert read("Inntektene var 5 kr.", "nb") == [(5.0, "NOK")]


def test_a_chart_never_mixes_currencies_or_units() -> None:
    text = "Revenue was $3m in 2022, €4m in 2023 and $5m in 2024. Margin was 12%."
    assert [(f.value, f.unit) for f in chart_figures(text)] == [(3e6, "$"), (5e6, "$")]
    text = "Inflation fell 2 percentage points to 3%, then 0.5 pp, while rates rose 50 bps."
    assert read(text) == [(-2.0, "pp change"), (3.0, "%"), (0.5, "pp"), (50.0, "bp change")]
    assert {f.unit for f in chart_figures(text)} == {"pp change"}
    assert read("Die Inflation sank um 2 Prozentpunkte auf 3 Prozent.", "de") == [
        (-2.0, "pp change"),
        (3.0, "%"),
    ]
    assert read("L'inflation a baissé de 2 points de pourcentage à 3 %.", "fr") == [
        (-2.0, "pp change"),
        (3.0, "%"),
    ]
    text = "The line is 5 km long, carries 120 t by day and 40 tonnes at night; 3 trains."
    assert read(text) == [(5.0, "km"), (120.0, "t"), (40.0, "t"), (3.0, "")]
    assert [f.unit for f in chart_figures(text)] == ["t", "t"]
    # Counts are not charted beside money: "950 millones" is likely euros left unsaid.
    text = (
        "Los ingresos alcanzaron 1.200 millones de euros en 2023, "
        "frente a 950 millones en 2022, con 12.000 empleados."
    )
    assert [(f.value, f.unit) for f in chart_figures(text, language="es")] == [(1.2e9, "€")]


# --- years, dates and other numbers that are not figures --------------------------------------


def test_bare_years_label_figures_rather_than_becoming_figures() -> None:
    figures = find_figures("In 2022 revenue was $3m; in 2023 it was $4m.")
    assert [(f.value, f.label) for f in figures] == [(3e6, "2022"), (4e6, "2023")]
    text = "Der Umsatz stieg von 1,2 Mio. € im Jahr 2022 auf 2,5 Mio. € im Jahr 2023."
    figures = find_figures(text, language="de")
    assert [(f.value, f.label) for f in figures] == [(1.2e6, "2022"), (2.5e6, "2023")]
    figures = find_figures("Le CA était de 3 M€ en 2022 et de 4 M€ en 2023.", language="fr")
    assert [(f.value, f.label) for f in figures] == [(3e6, "2022"), (4e6, "2023")]
    assert find_figures("Founded in 1998, it grew until 2023.") == []
    assert [f.value for f in find_figures("It sold 1,998 cars and $2,023.")] == [1998.0, 2023.0]


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "It opened on 2024-01-05."),
        ("en", "It opened on 01/05/2024 at 10:30."),
        ("de", "Es öffnete am 05.01.2024 um 10.30 Uhr."),
        ("en", "It opened on January 5, 2024 and closed on 6 Feb."),
        ("de", "Es öffnete am 5. Januar 2024."),
        ("fr", "Il a ouvert le 5 janvier 2024."),
        ("es", "Abrió el 5 de enero de 2024."),
        ("en", "A 3/4 majority, a 2:1 vote, open 24/7, in FY2023 and Q3, COVID-19, size A4."),
        ("en", "It ranked #1 in the 1990s, on the 3rd try, with 5x growth."),
        ("en", "It ran in 2022-23, 2022\u201323 and 5-10 times."),
        ("en", "A 10-year bond, a 5-star hotel and a $5-million deal."),
    ],
)
def test_dates_times_ratios_and_codes_are_not_figures(language: str, text: str) -> None:
    assert find_figures(text, language=language) == []


def test_signs_and_the_words_as_written() -> None:
    figures = find_figures("Costs fell -3%; losses were -$5m, $-2m and \u2212€1bn.")
    assert [(f.value, f.text) for f in figures] == [
        (-3.0, "-3%"),
        (-5e6, "-$5m"),
        (-2e6, "$-2m"),
        (-1e9, "\u2212€1bn"),
    ]
    assert [f.text for f in find_figures("Um 3,4\nMio. € mehr.", language="de")] == ["3,4 Mio. €"]
    assert isinstance(find_figures("$5m")[0], Figure)


def test_axis_labels_put_each_unit_where_it_is_written() -> None:
    assert format_value(3.4e6, "$") == "$3.4M"
    assert format_value(-2e9, "€") == "-€2B"
    assert format_value(5e6, "CHF") == "CHF 5M"
    assert format_value(5e6, "CA$") == "CA$5M"
    assert format_value(12, "%") == "12%"
    assert format_value(2, "pp") == "2 pp"
    assert format_value(1.5, "km") == "1.5 km"
    assert format_value(40, "") == "40"


# --- property: the larger amount never gets the smaller value -------------------------------

# Per language: (template, scale words with their magnitudes, currency forms). A currency
# form is "prefix{}" or "{}suffix"; every form of one language names the same currency.
_WRITTEN = {
    "en": (
        "Revenue was {} in 2022, and {} in 2023.",
        [("", 1), (" thousand", 1e3), ("k", 1e3), ("m", 1e6), ("M", 1e6), (" million", 1e6),
         ("bn", 1e9), (" billion", 1e9), (" trillion", 1e12)],
        ["${}", "US${}", "USD {}", "{} USD", "{} dollars"],
    ),
    "de": (
        "Der Umsatz betrug {} im Jahr 2022 und {} im Jahr 2023.",
        [("", 1), (" Tsd.", 1e3), (" Tausend", 1e3), (" Mio.", 1e6), (" Millionen", 1e6),
         (" Mrd.", 1e9), (" Milliarden", 1e9), (" Billionen", 1e12)],
        ["{} €", "{} EUR", "{} Euro", "EUR {}", "€{}"],
    ),
    "de-CH": (
        "Der Umsatz betrug {} im Jahr 2022 und {} im Jahr 2023.",
        [("", 1), (" Mio.", 1e6), (" Mrd.", 1e9)],
        ["CHF {}", "{} CHF", "{} Franken"],
    ),
    "fr": (
        "Le chiffre d'affaires était de {} en 2022 et de {} en 2023.",
        [("", 1), (" k", 1e3), (" millions", 1e6), (" M", 1e6), (" milliards", 1e9),
         (" Md", 1e9), (" billions", 1e12)],
        ["{} €", "{} EUR", "{} euros"],
    ),
    "es": (
        "Los ingresos fueron de {} en 2022 y de {} en 2023.",
        [("", 1), (" mil", 1e3), (" millones", 1e6), (" mil millones", 1e9)],
        ["{} €", "{} euros", "{} EUR"],
    ),
    "pt-BR": (
        "A receita foi de {} em 2022 e de {} em 2023.",
        [("", 1), (" mil", 1e3), (" milhões", 1e6), (" bilhões", 1e9), (" mi", 1e6)],
        ["R$ {}", "R${}", "{} reais", "BRL {}"],
    ),
}  # fmt: skip


def _written_number(cents: int, language: str, grouped: bool, space: str) -> str:
    """How the language writes cents/100, with its own symbols from babel."""
    locale = language.replace("-", "_")
    group, decimal = get_group_symbol(locale), get_decimal_symbol(locale)
    if group.isspace():
        group = space  # a plain, no-break or narrow no-break space
    elif group == "'":
        group = "'" if space == " " else "\u2019"
    whole, fraction = divmod(cents, 100)
    digits = f"{whole:,}".replace(",", group) if grouped else str(whole)
    return digits + (f"{decimal}{fraction:02d}".rstrip("0") if fraction else "")


@st.composite
def _amount(draw: st.DrawFn, language: str) -> tuple[str, Decimal]:
    _, scales, currencies = _WRITTEN[language]
    word, scale = draw(st.sampled_from(scales))
    cents = draw(st.integers(min_value=1, max_value=10**11 if scale == 1 else 10**6))
    number = _written_number(
        cents, language, draw(st.booleans()), draw(st.sampled_from(" \u00a0\u202f"))
    )
    written = draw(st.sampled_from(currencies)).format(number + word)
    return written, Decimal(cents) / 100 * Decimal(scale)


@st.composite
def _two_amounts(draw: st.DrawFn) -> tuple[str, str, list[tuple[str, Decimal]]]:
    language = draw(st.sampled_from(sorted(_WRITTEN)))
    return language, _WRITTEN[language][0], [draw(_amount(language)), draw(_amount(language))]


@settings(max_examples=400, deadline=None)
@given(_two_amounts())
def test_of_two_amounts_in_one_text_the_larger_always_gets_the_larger_value(
    case: tuple[str, str, list[tuple[str, Decimal]]],
) -> None:
    language, template, amounts = case
    text = template.format(*(written for written, _ in amounts))
    figures = find_figures(text, language=language)
    assert [f.value for f in figures] == [float(amount) for _, amount in amounts], text
    assert len({f.unit for f in figures}) == 1, text
    (_, a), (_, b) = amounts
    first, second = figures
    if a != b:
        assert (first.value < second.value) == (a < b), text
    assert chart_figures(text, language=language) == figures


@pytest.mark.parametrize(
    ("text", "units"),
    [
        (
            "Sales were €2.4 million in 2023 and €1.9 million in 2022. "
            "The dividend was €0.12 per share.",
            ["€", "€", "€ per share"],
        ),
        (
            "Bakers earn $15 an hour; the bakery made $4M a quarter.",
            ["$ per hour", "$ per quarter"],
        ),
        ("It cost $5 a year ago and $3 each now.", ["$", "$ each"]),
    ],
)
def test_rates_never_share_an_axis_with_totals(text: str, units: list[str]) -> None:
    assert [figure.unit for figure in find_figures(text)] == units
    charted = chart_figures(text)
    assert len({figure.unit for figure in charted}) == 1


def test_a_salary_a_year_is_a_rate_but_an_amount_a_year_ago_is_not() -> None:
    assert [f.unit for f in find_figures("She earns $50,000 a year.")] == ["$ per year"]
    assert [f.unit for f in find_figures("It paid €40,000 per annum.")] == ["€ per annum"]
    for text in (
        "It cost $5 a year ago.",
        "It cost $5 a decade earlier.",
        "It cost $5 a month later, and $6 a year before.",
        "It cost $5 a year-earlier.",
        "Shares were $5 a week previously.",
    ):
        assert {f.unit for f in find_figures(text)} == {"$"}, text
    text = "The CEO earns $900,000 a year; the firm made $5 million profit and $7 million in 2023."
    charted = chart_figures(text)
    assert [(f.value, f.unit) for f in charted] == [(5e6, "$"), (7e6, "$")]


@pytest.mark.parametrize(
    ("language", "text", "units"),
    [
        ("en", "The firm made $5 million profit.", ["$"]),
        ("en", "It charged $5 parking and $3 anniversary fees.", ["$", "$"]),
        ("en", "It cost $5 apartment fees, $6 perfume and $7 pearls.", ["$", "$", "$"]),
        ("en", "It cost $5 annually and $6 eachday.", ["$", "$"]),
        ("en", "It cost $5 a share, $6 an hour, $7 per head and $8 / month.",
         ["$ per share", "$ per hour", "$ per head", "$ per month"]),
        ("en", "It cost $5 per the contract and $6 a total.", ["$", "$"]),
        ("en", "It cost $5 each and $6 apiece.", ["$ each", "$ each"]),
        ("de", "Sie erhielten 5 € jeweils.", ["€ each"]),
        ("de", "Es kostet 5 € jeweilige Gebühr.", ["€"]),
        ("de", "Die Dividende betrug 2 € je Aktie und 3 € pro Jahr.",
         ["€ per aktie", "€ per jahr"]),
        ("de", "Es waren 5 € jedoch, 6 € prompt und 7 € Profit.", ["€", "€", "€"]),
        ("de", "Es kostet 5 € je nach Region.", ["€"]),
        ("fr", "Le prix de 5 € a augmenté, 6 € par an, 7 € parfois.", ["€", "€ per an", "€"]),
        ("fr", "Il gagne 5 € par rapport à 2022.", ["€"]),
        ("es", "Cuesta 5 € por la demanda y 6 € por acción, 7 € portátil.",
         ["€", "€ per acción", "€"]),
    ],
)  # fmt: skip
def test_rate_words_are_whole_words_of_the_texts_language(
    language: str, text: str, units: list[str]
) -> None:
    assert [f.unit for f in find_figures(text, language=language)] == units


# --- numbers too long to be figures ------------------------------------------------------------


def test_a_number_with_too_many_digits_is_left_out_and_the_rest_is_read() -> None:
    lottery = (
        "The winning numbers were 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,"
        "23,24,25,26,27,28,29,30 and the prize was $5 million."
    )
    assert [(f.value, f.unit, f.label) for f in chart_figures(lottery)] == [(5e6, "$", "prize")]
    for language in ("de", "fr", "es", "und", "ar", "zh"):
        assert find_figures("π ≈ 3.14159265358979323846264338327950288", language=language) == []
        assert find_figures("π ≈ 3,14159265358979323846264338327950288 €", language=language) == []
    assert find_figures("$" + "9" * 400) == []
    assert find_figures("$" + "9" * 19) == []  # more digits than a float keeps apart
    assert values("$" + "9" * 18) == [999999999999999999.0]
    assert values("Revenue was $1,234,567,890,123.45 in 2023.") == [1234567890123.45]


_FUZZ_PIECES = [
    *"0123456789", "1,234", "1.234,56", "3.14159265358979323846264338327950288", "9" * 40,
    ".", ",", "'", "\u2019", " ", "\u00a0", "\u202f", "\u2009", "\n", "-", "\u2212", "/", ":",
    "%", "٪", "$", "€", "£", "¥", "CHF", "US$", "R$", "kr", "EUR", " USD", " dollars",
    " million", " billion", "m", "bn", "k", " Mio.", " Mrd.", " Billionen", " millones",
    " mil", " 万", "亿", " per ", " a ", " an ", " each", " year", " ago", " je ", " pro ",
    " par ", " por ", " jeweils", "pp", " bps", " km", " t", " in 2023", " and ", ", while ",
    "2022: ", "Revenue", " profit ", "Umsatz ", "إيرادات ", "收入", "# ", "**", "[x](http://a.b/9)",
    "🚀", "May ", " 5th", "Q3", "COVID-19", ";", "(", ")", "…", "\u200f", "\u0661\u0662",
]  # fmt: skip
_FUZZ_TEXT = st.lists(
    st.one_of(st.sampled_from(_FUZZ_PIECES), st.text(max_size=4)), max_size=40
).map("".join)
_FUZZ_LANGUAGES = st.sampled_from(
    ["en", "en-IN", "en-CA", "de", "de-CH", "fr", "es", "pt-BR", "ar", "zh", "ja", "hi",
     "und", "", "xx", "tlh", "sr-Latn"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(_FUZZ_TEXT, _FUZZ_LANGUAGES)
def test_figures_never_fail_on_any_text(text: str, language: str) -> None:
    figures = find_figures(text, language=language)
    assert all(math.isfinite(f.value) for f in figures), text
    charted = chart_figures(text, language=language)
    assert len({(f.kind, f.unit) for f in charted}) <= 1, text
    labels = [f.label for f in charted if f.label]
    assert len(labels) == len(set(labels)), (text, labels)
    for figure in charted:
        assert format_value(figure.value, figure.unit, language)


# --- chart labels and axis labels in the text's language ---------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "labels"),
    [
        (
            "en",
            "Revenue was $5 million in 2023 and $4 million in 2022, while profit was "
            "$1 million in 2023 and $0.8 million in 2022.",
            ["revenue 2023", "revenue 2022", "profit 2023", "profit 2022"],
        ),
        (
            "en",
            "Revenue was $5M in 2023 and $4M in 2022; costs were $3M in 2023 and $2M in 2022.",
            ["revenue 2023", "revenue 2022", "costs 2023", "costs 2022"],
        ),
        (
            "de",
            "Der Umsatz stieg 2023 auf 5,2 Mio. € und lag 2022 bei 4,1 Mio. €; der Gewinn "
            "sank 2023 auf -0,4 Mio. € nach 0,6 Mio. € im Jahr 2022.",
            ["Umsatz 2023", "Umsatz 2022", "Gewinn 2023", "Gewinn 2022"],
        ),
        # Nothing else tells them apart: numbered in reading order.
        ("en", "Revenue rose to $5M, then to $6M.", ["revenue #1", "revenue #2"]),
        ("en", "In 2022 it made $5M, and $6M in 2022 too.", ["2022 #1", "2022 #2"]),
        ("en", "$5M, $6M.", ["", ""]),  # no words at all: the chart numbers its bars
        # Labels that differ already are kept as they are.
        ("en", "Revenue was $3m in 2022 and $4m in 2023.", ["2022", "2023"]),
    ],
)
def test_every_bar_of_a_chart_has_its_own_true_label(
    language: str, text: str, labels: list[str]
) -> None:
    assert [f.label for f in chart_figures(text, language=language)] == labels


def test_figures_labels_come_from_sentences_split_by_the_texts_language() -> None:
    # English rules would end a sentence at "bzw." and so lose the year.
    text = "Im Jahr 2023 stieg der Umsatz bzw. Gewinn auf 5 Mio. €."
    assert [f.label for f in find_figures(text, language="de")] == ["2023"]


@pytest.mark.parametrize(
    ("value", "unit", "language", "expected"),
    [
        (2.5e6, "€", "de", "2,5\u00a0Mio.\u00a0€"),
        (-2e9, "€", "de-AT", "-2\u00a0Mrd.\u00a0€"),
        (0.12, "€", "de", "0,12\u00a0€"),
        (12.5, "%", "de", "12,5\u00a0%"),
        (0.30000000000000004, "%", "fr", "0,3\u00a0%"),
        (1.5, "km", "de", "1,5\u00a0km"),
        (1500, "", "fr", "1,5\u00a0k"),
        (2.5e6, "€", "ar", "2.5\u00a0مليون\u00a0€"),
        (2.5e6, "$", "zh", "US$250万"),
        (0.12, "€ per share", "de", "0,12\u00a0€"),  # the bars' own words say per what
        # English, and languages babel does not know, keep the English forms.
        (3.4e6, "$", "en", "$3.4M"),
        (5e6, "CHF", "en-GB", "CHF 5M"),
        (5e6, "CHF", "tlh", "CHF 5M"),
        (5e6, "CHF", "und", "CHF 5M"),
        (0.12, "€ per share", "en", "€0.12 per share"),
    ],
)
def test_axis_labels_follow_the_texts_language(
    value: float, unit: str, language: str, expected: str
) -> None:
    assert format_value(value, unit, language) == expected


@pytest.mark.parametrize(
    ("value", "unit", "language", "written"),
    [
        (500_000, "€", "de", "500.000\u00a0€"),
        (0, "€", "de", "0\u00a0€"),
        (250.5, "€", "de", "250,5\u00a0€"),
        (1_500_000, "€", "de", "1,5\u00a0Mio.\u00a0€"),
        (500_000, "", "de", "500.000"),
    ],
)
def test_ticks_without_a_short_form_are_written_in_full_and_grouped(
    value: float, unit: str, language: str, written: str
) -> None:
    assert format_value(value, unit, language) == written


@pytest.mark.parametrize(
    ("text", "language", "read"),
    [
        (
            "Revenue rose 12% to $4.2M. Operating costs fell 3.5%. The margin was 20%.",
            "en",
            [(12.0, "% change"), (4.2e6, "$"), (-3.5, "% change"), (20.0, "%")],
        ),
        ("Churn dropped by 2% and fell to 3% of users.", "en", [(-2.0, "% change"), (3.0, "%")]),
        (
            "Der Umsatz stieg um 5 %, die Kosten sanken um 2 %. Die Marge liegt bei 12 %.",
            "de",
            [(5.0, "% change"), (-2.0, "% change"), (12.0, "%")],
        ),
        ("Les ventes sont en baisse de 4 %.", "fr", [(-4.0, "% change")]),
    ],
)
def test_a_rise_or_fall_is_a_signed_change_never_charted_with_levels(
    text: str, language: str, read: list[tuple[float, str]]
) -> None:
    assert [(f.value, f.unit) for f in find_figures(text, language=language)] == read
    charted = chart_figures(text, language=language)
    assert len({f.unit for f in charted}) == 1
    assert all(f.text.startswith("\u2212") for f in charted if f.value < 0 and "change" in f.unit)


def test_a_pasted_table_of_numbers_is_read_up_to_a_bound() -> None:
    table = "\n".join(f"{1700 + i} ${5000 + i}" for i in range(3000))
    found = find_figures(table)
    assert 0 < len(found) <= 48
    assert (found[1].text, found[1].value) == ("$5000", 5000.0)


def test_counts_are_never_changes() -> None:
    text = "We lost 3 games and picked up 20 passengers. Wir gingen 5 km. Sales fell 2%."
    assert [(f.value, f.unit) for f in find_figures(text)] == [
        (3.0, ""), (20.0, ""), (5.0, "km"), (-2.0, "% change"),
    ]  # fmt: skip
