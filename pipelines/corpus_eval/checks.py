"""The checks a generated question must pass to enter an evaluation set: each a small pure function.

A small local model writes questions that copy their passage, point at "the passage" instead of naming
their subject, or give an answer the passage does not hold. These checks measure each fault so that
only questions a reader of the collection could really ask, with an answer really in the chunk, are kept:

- :func:`parse_question_answer`: the model's reply holds one question and one answer;
- :func:`answer_span`: the answer occurs in the chunk (case and spacing aside); the chunk's own words are kept;
- :func:`copies_chunk`: the question repeats a run of more than :data:`MAX_COPY_RUN` words of the chunk;
- :func:`refers_to_context`: the question points at a text it does not name ("the passage", "this document");
- :func:`leaks_answer`: every word of the answer is already in the question;
- :func:`near_duplicate`: a kept question asks nearly the same (content-word Jaccard ≥ :data:`DUPLICATE_JACCARD`).

Example:
    >>> longest_common_run("When did Apollo 11 land on the Moon?", "Apollo 11 landed on the Moon in 1969.")
    3
    >>> refers_to_context("What does the passage say about cats?")
    True
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipelines.rag.terms import question_terms

MAX_COPY_RUN = 6
"""Longest run of the chunk's words a question may repeat ("landed on the Moon" is fine, a whole clause is not)."""
MAX_ANSWER_WORDS = 12
"""A kept answer is short: a name, a date, a phrase, not a sentence restated."""
MAX_QUESTION_WORDS = 30
DUPLICATE_JACCARD = 0.8
"""Two questions whose content-word sets overlap this much (intersection over union) ask the same thing."""

_WORD = re.compile(r"\w+(?:['’]\w+)*")
_CONTEXT = re.compile(
    r"\b(?:this|that|these|the|above|given|following|provided|said|previous)\s+"
    r"(?:document|documents|passage|passages|text|texts|article|excerpt|paragraph|chunk|section|context|snippet|"
    r"extract|source|page|file)\b"
    r"|\bthe above\b|\baccording to (?:the|this) (?:author|writer)\b|\b(?:mentioned|described|stated) (?:above|here)\b"
    r"|\bin (?:it|here)\?",
    re.IGNORECASE,
)
_ANSWER_LABEL = re.compile(r"^\s*(?:\*\*)?(?:the\s+)?answer(?:\s+is)?\s*(?:\*\*)?\s*[:：-]?\s*", re.IGNORECASE)
_QUESTION_LABEL = re.compile(r"^\s*(?:\*\*)?(?:q|question)\s*(?:\*\*)?\s*[:：]\s*", re.IGNORECASE)
_QUOTES = "\"'“”‘’`*"


def words(text: str) -> list[str]:
    """Lower-cased words of ``text`` (letters and digits; an apostrophe inside a word keeps it whole).

    Example:
        >>> words("Isn't it 20 July, 1969?")
        ["isn't", 'it', '20', 'july', '1969']
    """
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def parse_question_answer(reply: str) -> tuple[str, str] | None:
    """``(question, answer)`` from a reply whose first line is the question (the prompt ends with "Question:")
    and a later line gives the answer ("Answer: …" or "The answer is: …"); None when either is missing.

    Example:
        >>> parse_question_answer(" When did Apollo 11 land?\\n\\nThe answer is: \\"20 July 1969\\".")
        ('When did Apollo 11 land?', '20 July 1969')
        >>> parse_question_answer("Apollo 11 landed in 1969.") is None
        True
    """
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    if len(lines) < 2:
        return None
    question = _QUESTION_LABEL.sub("", lines[0]).strip().strip(_QUOTES).strip()
    labelled = [line for line in lines[1:] if _ANSWER_LABEL.match(line)]
    if not labelled or not question.endswith("?"):
        return None
    answer = _ANSWER_LABEL.sub("", labelled[0]).strip()
    answer = answer.strip(_QUOTES + " ").rstrip(".!;,").strip(_QUOTES + " ")
    return (question, answer) if answer else None


def answer_span(answer: str, chunk: str) -> str | None:
    """The chunk's own text of ``answer`` when the answer occurs in it (case, spacing and the quotes or final
    full stop around the answer aside), else None.

    Example:
        >>> answer_span("20 july  1969", "Apollo 11 landed on 20 July\\n1969.")
        '20 July\\n1969'
        >>> answer_span("21 July 1969", "Apollo 11 landed on 20 July 1969.") is None
        True
    """
    parts = answer.strip(_QUOTES + " .").split()
    if not parts:
        return None
    pattern = r"\s+".join(re.escape(p) for p in parts)
    # Word edges where the answer begins or ends with a word character: "1969" is not found inside "19690".
    pattern = (r"(?<!\w)" if parts[0][0].isalnum() else "") + pattern + (r"(?!\w)" if parts[-1][-1].isalnum() else "")
    found = re.search(pattern, chunk, re.IGNORECASE)
    return found.group(0) if found else None


def longest_common_run(question: str, chunk: str) -> int:
    """Length in words of the longest word sequence ``question`` and ``chunk`` share (case-blind).

    Example:
        >>> longest_common_run("What is the largest animal known to have ever existed?",
        ...                    "The blue whale is the largest animal known to have ever existed.")
        9
    """
    a, b = words(question), words(chunk)
    best = 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b, start=1):
            if x == y:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def copies_chunk(question: str, chunk: str, max_run: int = MAX_COPY_RUN) -> bool:
    """True when the question repeats more than ``max_run`` consecutive words of the chunk.

    Example:
        >>> copies_chunk("What is the largest animal known to have ever existed?",
        ...              "The blue whale is the largest animal known to have ever existed.")
        True
    """
    return longest_common_run(question, chunk) > max_run


def refers_to_context(question: str) -> bool:
    """True when the question leans on a text it does not name: "the passage", "this document", "the above",
    "according to the author" … — a reader of the whole collection could not ask it.

    Example:
        >>> refers_to_context("What year is given in the text?"), refers_to_context("When did Apollo 11 land?")
        (True, False)
    """
    return bool(_CONTEXT.search(question))


def leaks_answer(question: str, answer: str) -> bool:
    """True when every word of the answer already stands in the question (it asks what it tells); a
    possessive counts as its word ("What is Stevie Wonder's professional name?" tells "Stevie Wonder").

    Example:
        >>> leaks_answer("Which tower is the Eiffel Tower?", "the Eiffel Tower"), leaks_answer("When?", "1889")
        (True, False)
    """
    asked = {form for w in words(question) for form in (w, w.removesuffix("'s"))}
    said = words(answer)
    return bool(said) and all(w in asked for w in said)


def well_formed(question: str, answer: str, max_answer_words: int = MAX_ANSWER_WORDS) -> bool:
    """True for a question of 3 to :data:`MAX_QUESTION_WORDS` words ending in "?" and an answer of 1 to
    ``max_answer_words`` words.

    Example:
        >>> well_formed("When did Apollo 11 land?", "20 July 1969"), well_formed("Why?", "because")
        (True, False)
    """
    q, a = words(question), words(answer)
    return question.rstrip().endswith("?") and 3 <= len(q) <= MAX_QUESTION_WORDS and 1 <= len(a) <= max_answer_words


def near_duplicate(question: str, kept: Iterable[str], threshold: float = DUPLICATE_JACCARD) -> bool:
    """True when a question in ``kept`` has nearly the same content words (stemmed, question words aside).

    Example:
        >>> near_duplicate("When did Apollo 11 land on the Moon?", ["When did the Apollo 11 land on the moon"])
        True
        >>> near_duplicate("Who walked on the Moon?", ["When did Apollo 11 land on the Moon?"])
        False
    """
    mine = set(question_terms(question))
    for other in kept:
        theirs = set(question_terms(other))
        union = mine | theirs
        same = not union and " ".join(words(question)) == " ".join(words(other))
        if same or (union and len(mine & theirs) / len(union) >= threshold):
            return True
    return False


def answerable_rejection(question: str, answer: str, chunk: str, kept: Iterable[str]) -> str | None:
    """Why a generated (question, answer) about ``chunk`` is not kept, or None when every check passes.

    Returns one of ``"form"``, ``"refers_to_context"``, ``"copies_chunk"``, ``"answer_not_in_chunk"``,
    ``"leaks_answer"``, ``"duplicate"`` (the first check that fails, in that order).

    Example:
        >>> answerable_rejection("When did Apollo 11 land on the Moon?", "20 July 1969",
        ...                      "Apollo 11 landed on the Moon on 20 July 1969.", [])
        >>> answerable_rejection("What does the passage say?", "1969", "Apollo 11 landed in 1969.", [])
        'refers_to_context'
    """
    if not well_formed(question, answer):
        return "form"
    if refers_to_context(question):
        return "refers_to_context"
    if copies_chunk(question, chunk):
        return "copies_chunk"
    if answer_span(answer, chunk) is None:
        return "answer_not_in_chunk"
    if leaks_answer(question, answer):
        return "leaks_answer"
    return "duplicate" if near_duplicate(question, kept) else None


def unanswerable_rejection(
    question: str, proposed: str, chunk: str, kept: Iterable[str], gate_refused: bool, passages: Iterable[str],
) -> str | None:
    """Why a generated question meant to be unanswerable is not kept, or None when every check passes.

    The model was shown ``chunk`` and asked for a question on a related subject that the collection does not
    answer, with the answer it would expect (``proposed``). The question is kept only when the evidence gate
    refuses it (``gate_refused``) and none of the retrieved ``passages`` holds the proposed answer. (Keeping
    questions the gate lets through whose proposed answer no passage holds was tried: with Qwen2.5-Coder-1.5B
    on a folder of manuals all 3 kept that way were answered by the collection in other words.)

    Returns one of ``"form"``, ``"refers_to_context"``, ``"copies_chunk"``, ``"answered_by_chunk"``,
    ``"gate_answers"``, ``"answered_by_index"``, ``"duplicate"``.

    Example:
        >>> unanswerable_rejection("Who painted the Golden Gate Bridge red?", "Irving Morrow",
        ...                        "The bridge opened in 1937.", [], True, ["The bridge opened in 1937."])
        >>> unanswerable_rejection("Who painted the Golden Gate Bridge red?", "Irving Morrow",
        ...                        "The bridge opened in 1937.", [], False, ["The bridge opened in 1937."])
        'gate_answers'
    """
    if not well_formed(question, proposed):
        return "form"
    if refers_to_context(question):
        return "refers_to_context"
    if copies_chunk(question, chunk):
        return "copies_chunk"
    if answer_span(proposed, chunk) is not None:
        return "answered_by_chunk"
    if not gate_refused:
        return "gate_answers"
    if any(answer_span(proposed, text) is not None for text in passages):
        return "answered_by_index"
    return "duplicate" if near_duplicate(question, kept) else None
