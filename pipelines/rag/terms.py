"""Words as the support check and the evidence gate compare them: tokens, stems, number words, units, stop
words, negation, and the words of a question that name nothing (:data:`QUESTION_WORDS`).

Example:
    >>> [t for _, t in tokenize("Forty kilometres, not 40%")]
    ['40', 'kilomet', 'not', '40', '%']
    >>> is_negation("didn't"), has_content("That is all.")
    (True, False)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

STOP_WORDS = frozenset(
    "a an the this that these those there here it its it's he him his she her hers they them their theirs we us our "
    "you your i me my who whom whose which what where when why how whoever be is am are was were been being do does "
    "did doing done have has had having will would shall should can could may might must also too very so such "
    "and or but if then than as of at by for from in into onto on off out over under up down to with within about "
    "after before between during through throughout against among across along around toward towards upon via per "
    "all any both each either every few more most other some several many much own same only just still even yet "
    "again further once ever often usually generally mainly mostly largely typically approximately roughly nearly "
    "almost around about some one's lot lots well really quite rather because since while although though whereas "
    "however therefore thus hence according passage passages document documents provided based mentioned context "
    "known called named like including".split()
)
NEGATIONS = frozenset("not no never none nor neither without cannot nothing nobody nowhere".split())
NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero _ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty".split()) if w != "_"}
NUMBER_WORDS.update(thirty="30", forty="40", fifty="50", sixty="60", seventy="70", eighty="80", ninety="90")
ALIASES = {"km": "kilometer", "kilometre": "kilometer", "kilometres": "kilometer", "metre": "meter",
            "metres": "meter", "cm": "centimeter", "centimetre": "centimeter", "centimetres": "centimeter",
            "mm": "millimeter", "kg": "kilogram", "kgs": "kilogram", "lb": "pound", "lbs": "pound", "ft": "foot",
            "feet": "foot", "mi": "mile", "litre": "liter", "litres": "liter", "percent": "%", "centre": "center",
            "colour": "color", "grey": "gray"}
OPENERS = frozenset("additionally furthermore moreover overall finally firstly secondly lastly instead meanwhile "
                     "later today yes".split())

# The words of a question or request that name nothing: question words, auxiliaries, pronouns, articles,
# prepositions, conjunctions, the imperatives of a request ("describe", "list") and the answer-type word "year"
# ("In which year ..." asks when). One list for every reader of questions: the evidence gate takes the rest as
# the question's content words, and the follow-up rewriter does not take a capitalised one for a name.
QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how whether "
    "is are was were be been being am do does did done have has had can could will would shall should may might "
    "must i me my mine we us our ours you your yours he him his she her hers it its they them their theirs "
    "this that these those there here a an the some any in on of for to from by with about as at into onto "
    "and or but if than then so yes no not "
    "tell describe explain name list give define summarise summarize please "
    "year".split()
)

TOKEN = re.compile(r"\d+(?:[.,]\d+)*(?:st|nd|rd|th|s)?%?|[^\W\d_]+(?:['’][^\W\d_]+)*|%")


def _english_stem() -> Callable[[str], str]:
    try:
        import Stemmer

        return Stemmer.Stemmer("english").stemWord
    except ImportError:  # PyStemmer is a declared dependency (the BM25 index); without it match exact words
        return lambda word: word


stem = lru_cache(maxsize=65536)(_english_stem())


def tokenize(text: str) -> list[tuple[str, str]]:
    """``(raw, term)`` per token; "40%" gives "40" and "%" (so that it matches "40 percent")."""
    out = []
    for match in TOKEN.finditer(text):
        raw = match.group()
        if len(raw) > 1 and raw.endswith("%"):
            out.append((raw[:-1], term(raw[:-1])))
            raw = "%"
        out.append((raw, term(raw)))
    return out


@lru_cache(maxsize=65536)
def term(raw: str) -> str:
    """A token as compared: number words as digits, "1,000" as "1000", unit spellings unified, stemmed."""
    word = unicodedata.normalize("NFKC", raw).lower().replace("’", "'")
    if word in NUMBER_WORDS:
        return NUMBER_WORDS[word]
    return word.replace(",", "") if word[0].isdigit() else stem(ALIASES.get(word, word))


def question_terms(question: str) -> list[str]:
    """The content terms of a question, in order and without repeats: every word not in
    :data:`QUESTION_WORDS`, as :func:`term` compares it. Case and punctuation do not matter.

    Example:
        >>> question_terms("Describe the Eiffel Tower"), question_terms("when did claude monet die")
        (['eiffel', 'tower'], ['claud', 'monet', 'die'])
    """
    found = (t for raw, t in tokenize(question) if raw.lower().replace("’", "'") not in QUESTION_WORDS and raw != "%")
    return list(dict.fromkeys(found))


def has_content(text: str) -> bool:
    return any(is_content(raw, term) for raw, term in tokenize(text))


def is_content(raw: str, term: str) -> bool:
    return term[0].isdigit() or (raw.lower().replace("’", "'") not in STOP_WORDS and not is_negation(raw))


def is_negation(raw: str) -> bool:
    word = raw.lower().replace("’", "'")
    return word in NEGATIONS or word.endswith("n't")
