"""Check an answer sentence by sentence while it streams, so that what streams is the checked answer.

The model's text goes through three checks before a reader sees it: references to passages that do not
exist are removed (:func:`~pipelines.rag.citations.resolve_citations`), each sentence is matched against
the passages (:func:`~pipelines.rag.support.check_support`), and a supported sentence is made to cite the
passage that supports it (:func:`~pipelines.rag.attribution.align_citations`). All three work one sentence
at a time, so :class:`CheckedText` holds back only the sentence being written: once the next one has begun,
the finished one is checked and released. The released pieces add up to the answer's text exactly (a
client that streams gets what a client that waits gets); leading and trailing white space never leaves.

An answer must stand on the passages somewhere. A sentence does when it cites a passage, when the support
check finds it in one, or when a word it adds to the question's (stemmed, stop words aside) occurs in one.
That last way is closed when the question names something no indexed document holds (``absent``: "lz4"
asked of manuals that cover gzip): a passage about something else lends its words to a wrong answer ("The
default compression level of lz4 is -6.", gzip's level). While no sentence so far stands on a passage, the
checked sentences are held back; they are released with the first one that does. An answer that ends with
none (at least one sentence checked) was written from the model's memory or from a passage about something
else, not from the documents ("Ninja is distributed under the MIT license." over passages that never say
"MIT"): the refusal is released in its place (:attr:`CheckedText.ungrounded`;
``docs/decisions/sentence-support.md``). Only such an answer's first sentences wait; the rest stream as before.

Example:
    >>> from pipelines.rag.prompt import Passage
    >>> ps = [Passage(1, "p", "p.txt", "Paris", "The Eiffel Tower was finished in 1889.", 0, 38, (1,), .9)]
    >>> checked = CheckedText(ps)
    >>> pieces = [checked.feed(t) for t in [" It was finished", " in 1889 [2]. It is", " tall."]]
    >>> pieces + [checked.flush()]
    ['', 'It was finished in 1889 [1].', '', ' It is tall.']
    >>> checked.text, checked.invalid_citations, checked.moved
    ('It was finished in 1889 [1]. It is tall.', 1, 1)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from pipelines.rag.attribution import align_citations
from pipelines.rag.citations import CITATION_RE, resolve_citations
from pipelines.rag.prompt import Passage
from pipelines.rag.refusal import REFUSAL_TEXT, is_refusal_text
from pipelines.rag.sentences import split_sentences
from pipelines.rag.support import SentenceSupport, SupportReport, check_support
from pipelines.rag.terms import is_content, tokenize

if TYPE_CHECKING:
    import numpy as np

# The sentence being written is known to have ended once a whole word of the next one follows it: a
# boundary decided on a half-written word ("… the U.S. Th") could still move.
_NEXT_WORD = re.compile(r"\w[^\s\[]*\s")
_OPEN_CITATION = re.compile(r"\[[^\]]*$")


class CheckedText:
    """Sentence-by-sentence checks of a streamed answer (see the module docstring).

    Args:
        passages: the numbered passages the model was given.
        embed: texts → unit vectors for the support check (None: words only).
        check: run the support check (and, with ``align``, move citations) and refuse an answer that stands on
            no passage.
        align: make each supported sentence cite its supporting passage.
        question: what was asked; its words do not ground an answer that repeats them.
        absent: the question's rare words that no indexed document holds
            (:meth:`pipelines.search.Searcher.absent_words`); when there are any, only a citation or a supported
            sentence grounds the answer.
    """

    def __init__(
        self, passages: Sequence[Passage], embed: Callable[[list[str]], np.ndarray] | None = None, *,
        check: bool = True, align: bool = True, question: str = "", absent: Sequence[str] = (),
    ) -> None:
        self.passages = list(passages)
        self._asked = frozenset(t for _, t in tokenize(question))
        self._absent = tuple(absent)
        self._passage_terms: frozenset[str] | None = None
        self.embed = embed
        self.check = check
        self.align = align
        self.text = ""  # the checked answer so far: what has been released, then what is held back
        self.invalid_citations = 0
        self.moved = 0
        self.refused = False
        self.ungrounded = False  # refused because no sentence stood on a passage (see the module docstring)
        self._released = 0  # how much of ``text`` has left
        self._grounded = not check  # a sentence so far stands on a passage: cited, supported or adding its words
        self._pending = ""  # model text not released yet
        self._space = ""  # white space held until something follows it
        self._sentences: list[SentenceSupport] = []
        self._mode = "embedding" if embed is not None else "lexical"
        self._threshold: float | None = None

    def feed(self, piece: str) -> str:
        """Add model text; returns the checked text that can be released now ("" while a sentence is open)."""
        self._pending += piece
        spans = split_sentences(self._pending)
        if len(spans) < 2:
            return ""
        last = spans[-1][0]
        tail = _OPEN_CITATION.sub("", CITATION_RE.sub(" ", self._pending[last:]))
        if not _NEXT_WORD.search(tail):
            last = spans[-2][0]  # the next sentence has no whole word yet: keep the one before open too
            if last == spans[0][0]:
                return ""
        done, self._pending = self._pending[:last], self._pending[last:]
        return self._release(done)

    def flush(self) -> str:
        """The rest, checked, at the end of generation."""
        done, self._pending = self._pending, ""
        return self._release(done, final=True)

    def report(self) -> SupportReport | None:
        """Support of every checked sentence (offsets into :attr:`text`); None when unchecked or refused."""
        if not self.check or self.refused:
            return None
        if self._threshold is None:
            return SupportReport([], mode=self._mode)
        return SupportReport(list(self._sentences), self._threshold, self._mode)

    def _release(self, done: str, final: bool = False) -> str:
        body = done.rstrip()
        space = done[len(body):]
        if not self.text and not self._space:
            body = body.lstrip()
        if body:
            checked = self._checked(body)
            self.text += ("" if not self.text else self._space) + checked
            self._space = space
        else:
            self._space += space
        if final:
            self._space = ""
            if not self._grounded and not self.refused and any(s.checked for s in self._sentences):
                self.refused = self.ungrounded = True
                self.text = REFUSAL_TEXT
        if not (self._grounded or self.refused or final):
            return ""
        out, self._released = self.text[self._released:], len(self.text)
        return out

    def _checked(self, body: str) -> str:
        """``body`` (whole sentences) with invalid citations removed and, when checked, citations aligned."""
        resolved = resolve_citations(body, self.passages)
        self.invalid_citations += resolved.invalid
        fixed = resolved.text
        if not self.text and is_refusal_text(fixed.strip()):
            self.refused = True
        if not self.check or self.refused:
            return fixed
        report = check_support(fixed, self.passages, self.embed)
        self._threshold = report.threshold
        if self.align:
            aligned = align_citations(fixed, report)
            fixed, report, self.moved = aligned.text, aligned.support, self.moved + aligned.changed
        offset = len(self.text) + (len(self._space) if self.text else 0)
        self._sentences += [replace(s, start=s.start + offset, end=s.end + offset) for s in report.sentences]
        cited = bool(CITATION_RE.search(fixed))
        supported = any(s.supported for s in report.sentences)
        self._grounded = self._grounded or cited or supported or self.adds_passage_words(fixed)
        return fixed

    def adds_passage_words(self, text: str) -> bool:
        """Some content word of ``text`` that the question does not hold occurs in a passage (never, when the
        question names something no indexed document holds)."""
        if self._absent:
            return False
        if self._passage_terms is None:
            self._passage_terms = frozenset(t for p in self.passages for _, t in tokenize(p.text))
        added = {t for raw, t in tokenize(CITATION_RE.sub(" ", text)) if is_content(raw, t)} - self._asked
        return bool(added & self._passage_terms)
