"""Plain-text analysis shared by the segmenter, the narrator and the drawings.

Everything here is rule-based and deterministic: the same text always yields the same
sentences, key terms and titles, which is what makes the offline backend reproducible.

The text's language (a BCP-47 tag, "en" unless told) chooses the rules:
- Stopwords are the language's own list (the `stop-words` package, or `stopwordsiso` for a
  language it lacks; both ship their lists). English keeps the list below, and English alone
  has the weak-word list, the past-tense rule, plural folding and headline capitals; other
  languages keep their words as written.
- Chinese, Japanese and Thai, written without spaces between words, are split into words
  by a dictionary, whatever the language tag: Chinese by jieba (`rjieba`), the others by
  ICU's word breaker (`icu4py`). Their words count from two characters, and their
  stopwords are their language's. (Lao, Khmer and Burmese, which ICU could split too, have
  no stopword list here, so their particles would rank first: they are still taken by the
  phrases their spaces set apart.)
- A title in another language is a stretch of its sentence as written: it never spans
  punctuation, and a number inside it stays whole.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache

import regex
import stop_words
from icu4py.breakers import WordBreaker

from stories_core.text import plain, plain_inline, primary_language

# The core's one sentence splitter, re-exported for the backend's modules.
from stories_core.text import sentence_spans as sentence_spans
from stories_core.text import sentences as sentences


def wordset(words: str) -> frozenset[str]:
    """A set of words written as one whitespace-separated string, for readable word lists."""
    return frozenset(words.split())


STOPWORDS = wordset(
    """
    a about above after again against all also although am an and any are around as at be
    became because become been before being below between both but by can could did do does
    doing done down during each either else enough even ever every few for from further get
    gets got had has have having he her here hers herself him himself his how however i if in
    into is it its itself just least less let like made make makes many may me might more most
    much must my myself near neither never no nor not now of off often on once one only onto or
    other others our ours ourselves out over own per perhaps quite rather really said same say
    says see seen several shall she should since so some still such than that the their theirs
    them themselves then there these they this those though through thus to too toward towards
    under until up upon us used using very via was we well were what whatever when where whether
    which while who whom whose why will with within without would yet you your yours yourself
    yourselves
    """
)

# Frequent verbs and number words make poor titles and labels; without a tagger, a list
# stands in (words in -ed are caught by a rule instead).
_WEAK_WORDS = wordset(
    """
    allow allows begin began begins bring brings brought call calls come comes came create
    creates fell feel feels felt find finds found give gives gave go goes went
    grew grow grows grown happen happens help helps hit hold holds include includes keep keeps
    kept know knows knew lead leads leave leaves left let lets look looks mean means meant move
    moves need needs provide provides put puts risen rose run runs ran seem seems
    show shows start starts take takes took tell tells told think thinks thought try tries turn
    turns use uses want wants work works
    hundred thousand million billion trillion percent
    """
)

_SMALL_WORDS = wordset("a an and as at but by for from in into of on or the to vs via with")

# A word starts with a letter and goes on through letters, combining marks (the vowel
# signs of Devanagari or Thai), digits, inner apostrophes or hyphens, zero-width
# (non-)joiners (Persian writes a plural suffix after a ZWNJ) and the decimal point or comma
# of a number inside it, so that no word ends in the middle of "1.5".
_WORD = regex.compile(
    r"\p{L}[\p{M}]*"
    r"(?:(?:[\p{L}\p{M}\p{N}'\u2019\u200c\u200d-]|(?<=\p{N})[.,\u066b\u066c](?=\p{N}))*"
    r"[\p{L}\p{M}\p{N}])?"
)

# Scripts written without spaces between words that are split here: a run of them is one
# match of _WORD and needs a dictionary to split. Their words are short: two characters
# make a word there, where three do elsewhere.
_UNSPACED = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}]")
_HAN = regex.compile(r"\p{Han}")
_KANA = regex.compile(r"[\p{Hiragana}\p{Katakana}]")
# Japanese content words are written in kanji or katakana; hiragana alone spells
# particles, endings and auxiliaries ("により", "した").
_HIRAGANA_ONLY = regex.compile(r"[\p{Hiragana}\u30fc]+")

# An elided article or preposition before an apostrophe ("l'eau", "dell'anno", "qu'il"),
# in the languages that elide them (Turkish, say, puts a suffix after one: "AB'nin").
_ELISION = regex.compile(r"\p{L}{1,6}['\u2019](?=\p{L})")
_ELIDING = frozenset({"fr", "it", "ca", "oc", "co", "wa"})

# What may stand between two words of a title in a language other than English: spaces
# and whole numbers. Any other mark (a comma, a dash, an ideographic comma) ends a phrase.
_GAP = regex.compile(r"(?:\s|\p{N}+(?:[.,\u066b\u066c]\p{N}+)*)*")
# Between two words of a script written without spaces, a space ends a phrase (Thai spaces
# its phrases and sentences) and only a number may stand.
_NUMBERS = regex.compile(r"(?:\p{N}+(?:[.,\u066b\u066c]\p{N}+)*)*")

# Languages that capitalise every noun: their salient words are the capitalised ones, and
# a word seen capitalised only where sentences begin is still shown capitalised.
_CAPITALISED_NOUNS = frozenset({"de", "lb"})

# Persian writes the prefix of its present and continuous verbs before a ZWNJ: such a word
# is a verb ("می‌شوند"), never a title's or a label's word.
_VERB_PREFIXES = {"fa": ("\u0645\u06cc\u200c", "\u0646\u0645\u06cc\u200c")}

# The stop-words package's Chinese and Japanese lists are mostly single characters and
# particles; stopwords-iso adds the words of two and more characters ("我们", "によって").
_BOTH_LISTS = frozenset({"zh", "ja"})

# Stopword lookup ignores the spellings a list may not share with a text: Arabic alef
# with or without hamza, Arabic or Persian yeh and kaf, tatweel and short-vowel marks,
# Russian yo, and Thai sara am written as two characters.
_FOLD = str.maketrans(
    {
        "\u0623": "\u0627",
        "\u0625": "\u0627",
        "\u0622": "\u0627",
        "\u0671": "\u0627",
        "\u0649": "\u064a",
        "\u06cc": "\u064a",
        "\u06a9": "\u0643",
        "\u0640": None,
        **{chr(code): None for code in range(0x064B, 0x0660)},
        "\u0670": None,
        "\u0451": "\u0435",
    }
)


@cache
def _language(tag: str) -> str:
    """The language subtag that picks the rules: "pt-BR" -> "pt"; "" -> "en"."""
    return primary_language(tag)


def _fold(word: str) -> str:
    word = word.translate(_FOLD)
    return word.replace("\u0e4d\u0e32", "\u0e33") if "\u0e4d" in word else word


@cache
def stopwords(language: str = "en") -> frozenset[str]:
    """The language's stopwords (lower case, folded as lookups fold them); English's own
    list above for "en", and an empty set for a language no list covers."""
    lang = _language(language)
    if lang == "en":
        return STOPWORDS
    words = set(stop_words.safe_get_stop_words(lang))
    if not words or lang in _BOTH_LISTS:
        import stopwordsiso  # parses every language's list: only when needed

        words |= stopwordsiso.stopwords(lang)
    # Some of stop-words' files are JSON read as lines ('"שלכם",'): take the word out.
    return frozenset(_fold(word.strip().strip("\",'").strip().lower()) for word in words)


def _is_stopword(key: str, lang: str) -> bool:
    if key.isascii():
        return key in stopwords(lang) or key.endswith("'")
    if _UNSPACED.search(key):
        # A Chinese, Japanese or Thai word is looked up in its own language's list, in a
        # text tagged otherwise too (a Chinese name in an English text).
        lang = "ja" if lang == "ja" or _KANA.search(key) else "zh" if _HAN.search(key) else "th"
    return _fold(key) in stopwords(lang) or key.endswith("'")


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int

    @property
    def key(self) -> str:
        """The form used for counting: lower case, without a possessive ending."""
        word = self.text.lower().replace("\u2019", "'")
        return word[:-2] if word.endswith("'s") else word


@cache
def _jieba_cut():
    import rjieba  # loads jieba's dictionary (about 0.1 s): only for Chinese text

    return rjieba.cut


def _pieces(run: str, lang: str) -> list[str]:
    """A run of unspaced script cut into words (and numbers, and anything between)."""
    if _HAN.search(run) and not _KANA.search(run) and lang != "ja":
        pieces = _jieba_cut()(run)
    else:
        pieces = list(WordBreaker(run, lang))
    # Both keep every character; were one not to, the run yields no words rather than
    # wrong offsets.
    return pieces if "".join(pieces) == run else []


def tokens(text: str, language: str = "en") -> list[Token]:
    """Words (letters first, digits allowed inside), with their offsets.

    A run of Chinese, Japanese or Thai is split into its words by a dictionary. In French,
    Italian or Catalan an elided word ("l'", "dell'") is a word of its own.
    """
    lang = _language(language)
    if lang == "en" and not _UNSPACED.search(text):
        return [Token(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]
    found: list[Token] = []
    for match in _WORD.finditer(text):
        word, start = match.group(), match.start()
        if _UNSPACED.search(word):
            for piece in _pieces(word, lang):
                found.extend(
                    Token(part.group(), start + part.start(), start + part.end())
                    for part in _WORD.finditer(piece)
                )
                start += len(piece)
            continue
        if lang in _ELIDING and (elided := _ELISION.match(word)):
            head = elided.group()
            listed = stopwords(lang)
            key = head.lower().replace("\u2019", "'")
            if len(head) <= 3 or key in listed or key[:-1] in listed:
                found.append(Token(head, start, start + len(head)))
                word, start = word[len(head) :], start + len(head)
        found.append(Token(word, start, start + len(word)))
    return found


@cache
def _number_words(lang: str) -> frozenset[str]:
    """The language's words for the numbers, as far as num2words spells them: weak words
    in any language ("zehn", "dix", "десять"), as English's list has its own."""
    from num2words import CONVERTER_CLASSES, num2words

    if lang not in CONVERTER_CLASSES:
        return frozenset()
    words: set[str] = set()
    for number in (*range(21), *range(30, 101, 10), 1000, 10**6, 10**9):
        try:
            spelled = num2words(number, lang=lang)
        except (NotImplementedError, OverflowError, ValueError, TypeError):
            continue
        words.update(_fold(word.lower()) for word in _WORD.findall(spelled))
    return frozenset(words)


def _min_length(key: str) -> int:
    return 2 if not key.isascii() and _UNSPACED.search(key) else 3


def is_content_word(token: Token, language: str = "en") -> bool:
    key = token.key
    lang = _language(language)
    if len(key) < _min_length(key) or _HIRAGANA_ONLY.fullmatch(key):
        return False
    return not _is_stopword(key, lang)


def is_salient(token: Token, language: str = "en") -> bool:
    """A content word that is likely a noun or adjective: what titles and labels are made of.

    In English, frequent verbs, number words and words in -ed are left out too; in other
    languages number words, in German every word that is not capitalised (a noun), and
    in Persian the verbs its prefix "mi-" marks.
    """
    if not is_content_word(token, language):
        return False
    lang = _language(language)
    if lang != "en":
        if lang in _CAPITALISED_NOUNS and not token.text[0].isupper():
            return False
        if token.text.startswith(_VERB_PREFIXES.get(lang, ())):
            return False
        return _fold(token.key) not in _number_words(lang)
    key = token.key
    past_tense = len(key) >= 5 and key.endswith("ed") and not key.endswith("eed")
    return key not in _WEAK_WORDS and not past_tense


def _starts_sentence(text: str, position: int) -> bool:
    before = text[max(0, position - 12) : position].rstrip(" \t\"'\u201c\u2018([")
    return not before or before[-1] in ".!?…\n:#\u3002\uff01\uff1f\u061f"


_LONGEST_TERM = 32


def key_terms(text: str, limit: int = 6, language: str = "en") -> list[str]:
    """The most frequent salient words; ties go to the word seen first.

    A word keeps its capital only when it is capitalised where a sentence does not begin
    (a proper noun or an acronym; in German, any noun), or, in a language that capitalises
    its nouns, when it is only ever seen capitalised. In English a plural folds into its
    singular when both occur.
    """
    lang = _language(language)
    text = plain(text)  # link targets, code, tables' rules and emoji are no terms
    # A "word" longer than any real one (a hash, a DNA sequence) is no term.
    words = [
        token
        for token in tokens(text, lang)
        if len(token.text) <= _LONGEST_TERM and is_salient(token, lang)
    ]
    counts: Counter[str] = Counter(token.key for token in words)
    first: dict[str, Token] = {}
    for token in words:
        first.setdefault(token.key, token)
    if lang == "en":
        for key in list(counts):
            if key.endswith("s") and not key.endswith("ss") and key[:-1] in counts:
                counts[key[:-1]] += counts.pop(key)
    display: dict[str, str] = {}
    for token in words:
        key = token.key if token.key in counts else token.key[:-1]
        if token.text[0].isupper() and not _starts_sentence(text, token.start):
            display.setdefault(key, token.text.removesuffix("'s").removesuffix("\u2019s"))
    if lang in _CAPITALISED_NOUNS:
        lowered = {token.key for token in words if not token.text[0].isupper()}
        for token in words:
            if token.key not in lowered:
                display.setdefault(token.key, token.text)
    ranked = sorted(counts, key=lambda key: (-counts[key], first[key].start))
    return [display.get(key, key) for key in ranked[:limit]]


def _headline(words: list[str]) -> list[str]:
    out = []
    for index, word in enumerate(words):
        if word != word.lower() or (index and word in _SMALL_WORDS):
            out.append(word)
        else:
            out.append(word[0].upper() + word[1:])
    return out


def _title(sentence: str, chosen: list[Token], lang: str) -> str:
    """The chosen words as a title: in English, in headline capitals, one space apart (none
    between the words of a script written without spaces); in other languages, the
    sentence's own stretch from the first to the last."""
    if not chosen:
        return ""
    if lang != "en":
        return " ".join(sentence[chosen[0].start : chosen[-1].end].split())
    out = ""
    for index, word in enumerate(_headline([token.text for token in chosen])):
        if index:
            gap = sentence[chosen[index - 1].end : chosen[index].start]
            out += gap if _NUMBERS.fullmatch(gap) else " "
        out += word
    return out


def key_phrase(sentence: str, context: str = "", max_words: int = 5, language: str = "en") -> str:
    """A short title for a passage, taken from its first sentence.

    Runs of salient words are candidate phrases (as in RAKE); each scores the sum of its
    words' frequencies in `context`. A lone best word is joined to a nearby run, so the
    title reads as a phrase ("Fall of Rome") rather than a single word when possible. In a
    language other than English a run, and so a title, never spans punctuation.
    """
    lang = _language(language)
    sentence = plain_inline(sentence.lstrip("#> "))
    frequency = Counter(token.key for token in tokens(plain(context) or sentence, lang))
    words = tokens(sentence, lang)

    def joins(index: int) -> bool:
        """Whether words[index - 1] and words[index] may stand in one title."""
        before, after = words[index - 1], words[index]
        gap = sentence[before.end : after.start]
        if _UNSPACED.search(before.text) and _UNSPACED.search(after.text):
            return _NUMBERS.fullmatch(gap) is not None
        return lang == "en" or _GAP.fullmatch(gap) is not None

    def clause_end(last: int) -> int:
        """In a script written without spaces, a title ends where its clause does when
        that is at most two words on ("小猫早上离开" + "了家"), not on a particle."""
        if not _UNSPACED.search(words[last].text):
            return last
        for end in range(last, min(last + 3, len(words))):
            if end + 1 == len(words) or not joins(end + 1):
                while end > last and _is_stopword(words[end].key, lang):
                    end -= 1  # "离开了" ends on "离开", "温暖化により" on "温暖化"
                return end
        return last

    runs: list[list[int]] = []
    for index, token in enumerate(words):
        if is_salient(token, lang):
            if runs and runs[-1][-1] == index - 1 and joins(index):
                runs[-1].append(index)
            else:
                runs.append([index])
    if not runs:
        head = words[:max_words]
        cut = next((i for i in range(1, len(head)) if not joins(i)), len(head))
        return _title(sentence, words[: clause_end(cut - 1) + 1] if cut else [], lang)

    def score(run: list[int]) -> int:
        return sum(frequency[words[i].key] for i in run[:max_words])

    best = max(runs, key=lambda run: (score(run), -run[0]))
    chosen = best[:max_words]
    if len(chosen) == 1:
        # Join a lone word to a run across at most two small words ("Fall of Rome").
        def gap(run: list[int]) -> list[Token]:
            if run[0] < best[0]:
                return words[run[-1] + 1 : best[0]]
            return words[best[0] + 1 : run[0]]

        def bridged(run: list[int]) -> bool:
            low, high = min(best[0], run[0]), max(best[0], run[0])
            return all(joins(i) for i in range(low + 1, high + 1))

        near = [
            run
            for run in runs
            if run is not best
            and len(gap(run)) <= 2
            and all(_is_stopword(token.key, lang) for token in gap(run))
            and bridged(run)
        ]
        if near:
            other = max(near, key=lambda run: (score(run), -run[0]))
            low, high = min(best[0], other[0]), max(best[0], other[-1])
            chosen = list(range(low, high + 1))[:max_words]
            while not is_salient(words[chosen[-1]], lang):
                chosen.pop()
    chosen = list(range(chosen[0], clause_end(chosen[-1]) + 1))
    return _title(sentence, [words[i] for i in chosen], lang)


def join_words(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c': a list as it is spoken."""
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)
