"""How long an answer should be: a fact takes a sentence or two, an explanation a short paragraph.

A question asking for a fact ("When did Monet die?", "How many moons has Mars?") is answered in one or two
sentences, which keeps every sentence checkable against the passages. A question asking how or why ("How do
I make a script executable?", "Why are default arguments shared between calls?") wants the explanation that
a manual gives in a paragraph: squeezed into two sentences it loses the steps or the reason.

``auto`` decides from the question's opening words; ``brief`` and ``explain`` force one form. Why ``brief``
stays the default (``auto`` gained token-F1 and lost supported sentences on the Python FAQ):
``docs/decisions/answer-length.md``.

Example:
    >>> choose_length("Why are floating-point calculations so inaccurate?")
    'explain'
    >>> choose_length("How many moons does Mars have?")
    'brief'
    >>> choose_length("Why is the sky blue?", "brief")
    'brief'
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from indexing.errors import ConfigError

AnswerLength = Literal["auto", "brief", "explain"]
ANSWER_LENGTHS: tuple[str, ...] = get_args(AnswerLength)
# The default keeps one or two sentences for every question. Measured on the first 60 Python FAQ questions
# (Qwen2.5-Coder-1.5B, `sift eval rag --dataset python-faq --limit 60 --answer-length auto|brief`; 45 of the 60
# ask how or why): auto raised token-F1 against the FAQ's long answers but lowered the share of answer
# sentences the passages support (figures in the README, "Measured here"). A checkable answer comes first,
# so ``auto`` and ``explain`` are there to choose, not the default.
DEFAULT_ANSWER_LENGTH: AnswerLength = "brief"

# Openings that ask for a reason, a method or a comparison. "How" followed by an adjective or adverb of
# measure ("how many", "how long", "how old") asks for a fact and stays brief; so does every other opening.
_EXPLAIN = re.compile(
    r"^\W*(?:"
    r"why\b"
    r"|how\s+(?:do|does|did|can|could|should|would|will|is|are|was|were|to|come)\b"
    r"|explain\b|describe\b"
    r"|what(?:'s|\s+is|\s+are)\s+the\s+(?:difference|differences|best\s+way|right\s+way|purpose|point|use|reason)\b"
    r"|is\s+(?:it|there)\s+(?:possible|a\s+way|any\s+way|a\s+tool|an?\s+\w+\s+(?:tool|way|module|library))\b"
    r"|can\s+(?:i|you|we|one)\b"
    r")",
    re.IGNORECASE,
)


def check_length(setting: str) -> AnswerLength:
    """``setting`` if it is one of :data:`ANSWER_LENGTHS`.

    Raises:
        ConfigError: any other value, named.
    """
    if setting not in ANSWER_LENGTHS:
        raise ConfigError(f"answer length {setting!r} is not one of {', '.join(ANSWER_LENGTHS)}")
    return setting  # type: ignore[return-value]


def choose_length(question: str, setting: str = "auto") -> Literal["brief", "explain"]:
    """The answer form for ``question``: ``setting`` when forced, else ``explain`` for how/why questions.

    Raises:
        ConfigError: ``setting`` is not one of :data:`ANSWER_LENGTHS`.
    """
    if check_length(setting) != "auto":
        return setting  # type: ignore[return-value]
    return "explain" if _EXPLAIN.match(question) else "brief"
