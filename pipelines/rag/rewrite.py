"""Rewriters: make a follow-up question stand alone from the recent turns of a conversation.

Retrieval sees only the text it searches with, so "When did he die?" finds nothing useful. A
:class:`Rewriter` turns it into a standalone question ("When did Claude Monet die?"). Two share the protocol:

- :class:`HeuristicRewriter` (no model): when the follow-up has no subject of its own (a pronoun,
  or an elliptical "and the population?" / "what about its area?"), it brings in the subject of the
  previous turn (:func:`subject`): a person the previous answer introduced for he/she after a "who"
  question, else the title of the document the answer cited first when the question named it or asked
  which thing fits ("What is the capital of Japan?" → the Tokyo article), else the question's first name.
- :class:`GeneratorRewriter`: asks the generator for a rewrite (greedy, a few tokens) and falls
  back to the heuristic when the output is not a usable question.

Example:
    >>> prior = Exchange("Where was Albert Einstein born?", "Where was Albert Einstein born?", "In Ulm [1].",
    ...                  ("Albert Einstein",))
    >>> HeuristicRewriter().rewrite("What is he best known for?", [prior])
    'What is Albert Einstein best known for?'
    >>> HeuristicRewriter().rewrite("What is the capital of France?", [prior])
    'What is the capital of France?'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from indexing.errors import ConfigError
from pipelines.generation.base import GenerationConfig, Generator
from pipelines.rag.answer import Answer
from pipelines.rag.prompt import render
from pipelines.rag.terms import QUESTION_WORDS

RewriteMode = Literal["heuristic", "generator", "none"]
REWRITE_MODES: tuple[str, ...] = ("heuristic", "generator", "none")

_PERSON = {"he", "she", "him", "his", "her", "hers"}
_PRONOUNS = _PERSON | {"it", "its", "they", "them", "their", "theirs"}
_POSSESSIVE = {"his", "its", "their"}
_LEAD_IN = re.compile(r"^\s*(?:and what about|and how about|what about|how about|what of|and)\b[\s,]*", re.IGNORECASE)
# Capitalised words that start a question or sentence without naming anything: the shared question words.
_NOT_NAMES = QUESTION_WORDS
_CONNECTORS = {"of", "the", "de", "da", "di", "del", "van", "von", "der", "la", "le", "du", "y", "and"}
_WORD = re.compile(r"[\w'’.\-–]+|[^\w\s]")
_WHO = re.compile(r"^\s*(?:and\s+)?(?:who|whom|whose)\b", re.IGNORECASE)
# Questions asking which thing or person fits a description: the answer, not a name in them, is the next subject.
_IDENTITY = re.compile(
    r"^\s*(?:which\b|(?:who|what)\s+(?:is|was|are|were)\s+the\s+\w+(?:\s+\w+)?\s+(?:of|in|from|to)\b)", re.I
)
_COPULA = re.compile(r"^\s*(?:what|who)\s+(?:is|was|are|were)\s+(?:an?\s+|the\s+)?([\w\s\-]+?)\s*\??\s*$", re.I)


@dataclass(frozen=True)
class Exchange:
    """One finished turn of a conversation.

    Attributes:
        question: what the user typed.
        query: what retrieval searched with (``question`` when it was not rewritten).
        answer: the answer text ("" when the turn was only retrieved, as in the follow-up evaluation).
        titles: documents the answer cited, first cited first (the retrieved ones when it cited none).
        result: the full :class:`Answer`, when one was generated.
    """

    question: str
    query: str
    answer: str = ""
    titles: tuple[str, ...] = ()
    result: Answer | None = None

    @classmethod
    def from_answer(cls, question: str, query: str, answer: Answer) -> Exchange:
        """The exchange of a generated (or refused) answer."""
        titles = [c.title for c in answer.citations] or [p.title for p in answer.passages]
        return cls(question, query, "" if answer.refused else answer.text, tuple(dict.fromkeys(titles)), answer)

    @property
    def rewritten(self) -> bool:
        """True when retrieval searched with something else than the question typed."""
        return self.query.strip() != self.question.strip()


class Rewriter(Protocol):
    """Makes a follow-up question stand alone, given the conversation so far (oldest first)."""

    def rewrite(self, question: str, history: Sequence[Exchange]) -> str:
        """The standalone question (``question`` itself when it already stands alone)."""
        ...


class NoRewriter:
    """Retrieve with the question as typed."""

    def rewrite(self, question: str, history: Sequence[Exchange]) -> str:
        """Return ``question`` unchanged."""
        return question


def named_entities(text: str) -> list[str]:
    """Runs of capitalised words (joined by "of", "da", "van" …), in order; question words are skipped.

    Example:
        >>> named_entities("Who painted the Water Lilies of Claude Monet in Giverny?")
        ['Water Lilies of Claude Monet', 'Giverny']
    """
    words, found, run = _WORD.findall(text), [], []
    for word in words + ["."]:
        capital = word[:1].isupper() and word.casefold() not in _NOT_NAMES
        if capital or (word[:1].isdigit() and run):
            run.append(word)
        elif run and word.casefold() in _CONNECTORS:
            run.append(word)
        else:
            while run and run[-1].casefold() in _CONNECTORS:
                run.pop()
            if run:
                found.append(" ".join(run))
            run = []
    return found


def _base_title(title: str) -> str:
    return re.sub(r"\s*\([^)]*\)\s*$", "", title).strip()  # "Water Lilies (Monet series)" → "Water Lilies"


def subject(prior: Exchange, person: bool = False) -> str | None:
    """What a follow-up's pronoun most likely refers to in the previous turn, or None.

    Args:
        prior: the previous turn.
        person: the follow-up says he/she/his/her: after a "who …?" question, prefer a name the answer
            introduced over the names the question used.

    Example:
        >>> subject(Exchange("Who painted the Water Lilies?", "Who painted the Water Lilies?",
        ...                  "Claude Monet painted them [1].", ("Water Lilies (Monet series)",)), person=True)
        'Claude Monet'
    """
    asked = named_entities(prior.query)
    if person and prior.answer and (_WHO.match(prior.query) or not asked):  # the answer named the person
        said = [e for e in named_entities(prior.answer) if not any(e.casefold() in a.casefold() for a in asked)]
        if said:
            return max(said[:3], key=len)
    title = _base_title(prior.titles[0]) if prior.titles else ""
    if title and any(e.casefold() in title.casefold() or title.casefold() in e.casefold() for e in asked):
        return title  # the document's spelling of the name the question used
    if title and (not asked or _IDENTITY.match(prior.query)):
        return title  # "What is the capital of Japan?": the cited document is the answer, the next subject
    if asked:
        return asked[0]
    copula = _COPULA.match(prior.query)
    return copula.group(1).strip() if copula else None


class HeuristicRewriter:
    """Resolve a pronoun or an elliptical follow-up with the previous turn's subject (no model).

    A follow-up that names its own subject and has no pronoun is returned unchanged.

    Example:
        >>> prior = Exchange("What is the capital of Australia?", "What is the capital of Australia?")
        >>> HeuristicRewriter().rewrite("And the population?", [prior])
        'And the population of Australia?'
    """

    def rewrite(self, question: str, history: Sequence[Exchange]) -> str:
        """The standalone form of ``question`` given ``history`` (oldest first)."""
        if not history or not question.strip():
            return question
        words = _WORD.findall(question)
        pronouns = [i for i, w in enumerate(words) if w.casefold() in _PRONOUNS]
        lead = _LEAD_IN.match(question)
        if not pronouns and not lead:
            return question
        if not pronouns:
            return self._ellipsis(question[: lead.end()], question[lead.end():], history[-1]) if lead else question
        where = pronouns[0]
        found = subject(history[-1], person=words[where].casefold() in _PERSON)
        if found is None:
            return question
        word = words[where].casefold()
        following = words[where + 1] if where + 1 < len(words) else ""
        possessive = word in _POSSESSIVE or (word == "her" and following[:1].isalpha() and following not in _PREPS)
        words[where] = (f"{found}'" if found.endswith("s") else f"{found}'s") if possessive else found
        return _join(words)

    def _ellipsis(self, lead: str, rest: str, prior: Exchange) -> str:
        named = named_entities(rest)
        if named:  # "what about Germany?": the same question about a new subject
            old = subject(prior)
            return prior.query.replace(old, named[0], 1) if old and old in prior.query else lead + rest
        found = subject(prior)
        if found is None:
            return lead + rest
        rest = rest.strip().rstrip("?").strip()
        if re.match(r"(?i)the\b", rest):  # "and the population?" → "and the population of London?"
            return f"{lead}{rest} of {found}?"
        return f"{found}: {rest}?"


_PREPS = {"in", "on", "at", "to", "by", "for", "from", "with", "about", "and", "or", "?", ".", ",", "!"}


def _join(words: list[str]) -> str:
    text = " ".join(words)
    return re.sub(r"\s+([?.!,;:])", r"\1", text)


REWRITE_PROMPT = (
    "Rewrite the follow-up question so that it can be understood without the conversation: replace words "
    "like he, she, it, its, they with what they refer to. Do not answer it. Reply with the rewritten question only."
)
_CONTENT = re.compile(r"[a-z0-9]{3,}")


class GeneratorRewriter:
    """Ask the generator for a standalone rewrite; fall back to :class:`HeuristicRewriter` on junk.

    Output is rejected when it is empty or not one short line, when it names nothing the follow-up
    did not (it repeated the follow-up, or kept "the story" / "its" unresolved: the heuristic may still
    resolve it), or when it is not a question and shares no content word with the follow-up (the model
    answered instead of rewriting).

    Args:
        generator: any :class:`~pipelines.generation.base.Generator` (the answering one is fine).
        max_new_tokens: budget of the rewrite.
        turns: how many recent turns the model sees.
    """

    def __init__(self, generator: Generator, max_new_tokens: int = 40, turns: int = 2) -> None:
        self.generator = generator
        self.config = GenerationConfig(max_new_tokens=max_new_tokens, stop=("\n",))
        self.turns = turns
        self.fallback = HeuristicRewriter()
        self.fallbacks = 0  # how often the model's output was rejected

    def prompt(self, question: str, history: Sequence[Exchange]) -> str:
        """The rendered rewrite prompt."""
        lines = []
        for ex in history[-self.turns:]:
            lines.append(f"User: {ex.question.strip()}")
            said = ex.answer.strip() or (f"(answered from the article \"{ex.titles[0]}\")" if ex.titles else "")
            if said:
                lines.append(f"Assistant: {_clip(said, 60)}")
        user = f"{REWRITE_PROMPT}\n\nConversation:\n" + "\n".join(lines) + f"\n\nFollow-up question: {question.strip()}"
        return render(self.generator, [{"role": "user", "content": user}]) + "Rewritten question:"

    def rewrite(self, question: str, history: Sequence[Exchange]) -> str:
        """The model's standalone form of ``question``, or the heuristic's when the model's is junk."""
        if not history or not question.strip():
            return question
        text = self.generator.generate(self.prompt(question, history), self.config).text
        clean = clean_rewrite(text)
        if clean is None or not _names_more(clean, question) or not (
            clean.endswith("?") or _shares_content(clean, question)
        ):
            self.fallbacks += 1
            return self.fallback.rewrite(question, history)
        return clean


def clean_rewrite(text: str) -> str | None:
    """The model's rewrite without labels or quotes, or None when it is not one short question.

    Example:
        >>> clean_rewrite(' "When did Claude Monet die?"')
        'When did Claude Monet die?'
        >>> clean_rewrite("") is None
        True
    """
    text = text.strip().splitlines()[0].strip() if text.strip() else ""
    text = re.sub(r"(?i)^(rewritten|standalone)?\s*question\s*:\s*", "", text).strip().strip("\"'“”`").strip()
    words = text.split()
    if not 2 <= len(words) <= 40 or ":" in text[:12] or "[" in text:
        return None
    return text


def _names_more(rewrite: str, question: str) -> bool:
    own = {e.casefold() for e in named_entities(question)}
    return any(e.casefold() not in own for e in named_entities(rewrite))


def _shares_content(rewrite: str, question: str) -> bool:
    own = set(_CONTENT.findall(question.lower())) - _PRONOUNS - _NOT_NAMES
    return not own or bool(own & set(_CONTENT.findall(rewrite.lower())))


def _clip(text: str, words: int) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def make_rewriter(mode: str, generator: Generator | None = None) -> Rewriter:
    """The rewriter for ``mode`` ("heuristic", "generator", "none").

    Raises:
        ConfigError: an unknown mode, or "generator" without a generator.
    """
    if mode == "heuristic":
        return HeuristicRewriter()
    if mode == "none":
        return NoRewriter()
    if mode == "generator":
        if generator is None:
            raise ConfigError("the generator rewriter needs a generator: pass one, or use --rewrite heuristic")
        return GeneratorRewriter(generator)
    raise ConfigError(f"unknown rewrite mode {mode!r}; choose one of {', '.join(REWRITE_MODES)}")
