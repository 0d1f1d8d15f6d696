"""Plain-text analysis shared by the segmenter, the narrator and the drawings.

Everything here is rule-based and deterministic: the same text always yields the same
sentences, key terms and titles, which is what makes the offline backend reproducible.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import regex

from stories_core.text import plain, plain_inline

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
# signs of Devanagari or Thai), digits and inner apostrophes or hyphens.
_WORD = regex.compile(r"\p{L}[\p{M}]*(?:[\p{L}\p{M}\p{N}'\u2019-]*[\p{L}\p{M}\p{N}])?")


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


def tokens(text: str) -> list[Token]:
    """Words (letters first, digits allowed inside), with their offsets."""
    return [Token(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


def is_content_word(token: Token) -> bool:
    return len(token.key) >= 3 and token.key not in STOPWORDS


def is_salient(token: Token) -> bool:
    """A content word that is likely a noun or adjective: what titles and labels are made of."""
    key = token.key
    past_tense = len(key) >= 5 and key.endswith("ed") and not key.endswith("eed")
    return is_content_word(token) and key not in _WEAK_WORDS and not past_tense


def _starts_sentence(text: str, position: int) -> bool:
    before = text[max(0, position - 12) : position].rstrip(" \t\"'\u201c\u2018([")
    return not before or before[-1] in ".!?…\n:#"


def key_terms(text: str, limit: int = 6) -> list[str]:
    """The most frequent salient words; ties go to the word seen first.

    A plural folds into its singular when both occur. A word keeps its capital only when
    it is capitalised where a sentence does not begin (a proper noun or an acronym).
    """
    text = plain(text)  # link targets, code, tables' rules and emoji are no terms
    words = [token for token in tokens(text) if is_salient(token)]
    counts: Counter[str] = Counter(token.key for token in words)
    first: dict[str, Token] = {}
    for token in words:
        first.setdefault(token.key, token)
    for key in list(counts):
        if key.endswith("s") and not key.endswith("ss") and key[:-1] in counts:
            counts[key[:-1]] += counts.pop(key)
    display: dict[str, str] = {}
    for token in words:
        key = token.key if token.key in counts else token.key[:-1]
        if token.text[0].isupper() and not _starts_sentence(text, token.start):
            display.setdefault(key, token.text.removesuffix("'s").removesuffix("\u2019s"))
    ranked = sorted(counts, key=lambda key: (-counts[key], first[key].start))
    return [display.get(key, key) for key in ranked[:limit]]


def title_case(words: list[str]) -> str:
    """Headline capitalisation that leaves acronyms and mixed-case names alone."""
    out = []
    for index, word in enumerate(words):
        if word != word.lower() or (index and word in _SMALL_WORDS):
            out.append(word)
        else:
            out.append(word[0].upper() + word[1:])
    return " ".join(out)


def key_phrase(sentence: str, context: str = "", max_words: int = 5) -> str:
    """A short title for a passage, taken from its first sentence.

    Runs of salient words are candidate phrases (as in RAKE); each scores the sum of its
    words' frequencies in `context`. A lone best word is joined to a nearby run, so the
    title reads as a phrase ("Fall of Rome") rather than a single word when possible.
    """
    sentence = plain_inline(sentence.lstrip("#> "))
    frequency = Counter(token.key for token in tokens(plain(context) or sentence))
    words = tokens(sentence)
    runs: list[list[int]] = []
    for index, token in enumerate(words):
        if is_salient(token):
            if runs and runs[-1][-1] == index - 1:
                runs[-1].append(index)
            else:
                runs.append([index])
    if not runs:
        return title_case([token.text for token in words[:max_words]])

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

        near = [
            run
            for run in runs
            if run is not best
            and len(gap(run)) <= 2
            and all(token.key in STOPWORDS for token in gap(run))
        ]
        if near:
            other = max(near, key=lambda run: (score(run), -run[0]))
            low, high = min(best[0], other[0]), max(best[0], other[-1])
            chosen = list(range(low, high + 1))[:max_words]
            while not is_salient(words[chosen[-1]]):
                chosen.pop()
    return title_case([words[i].text for i in chosen])


def join_words(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c': a list as it is spoken."""
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)
