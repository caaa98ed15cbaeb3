"""Check an answer sentence by sentence while it streams, so that what streams is the checked answer.

The model's text goes through three checks before a reader sees it: references to passages that do not
exist are removed (:func:`~pipelines.rag.citations.resolve_citations`), each sentence is matched against
the passages (:func:`~pipelines.rag.support.check_support`), and a supported sentence is made to cite the
passage that supports it (:func:`~pipelines.rag.attribution.align_citations`). All three work one sentence
at a time, so :class:`CheckedText` holds back only the sentence being written: once the next one has begun,
the finished one is checked and released. The released pieces add up to the answer's text exactly (a
client that streams gets what a client that waits gets); leading and trailing white space never leaves.

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
from pipelines.rag.refusal import is_refusal_text
from pipelines.rag.sentences import split_sentences
from pipelines.rag.support import SentenceSupport, SupportReport, check_support

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
        check: run the support check (and, with ``align``, move citations).
        align: make each supported sentence cite its supporting passage.
    """

    def __init__(
        self, passages: Sequence[Passage], embed: Callable[[list[str]], np.ndarray] | None = None, *,
        check: bool = True, align: bool = True,
    ) -> None:
        self.passages = list(passages)
        self.embed = embed
        self.check = check
        self.align = align
        self.text = ""  # what has been released
        self.invalid_citations = 0
        self.moved = 0
        self.refused = False
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
        """Support of every released sentence (offsets into :attr:`text`); None when unchecked or refused."""
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
        if not body:
            self._space += space
            return ""
        checked = self._checked(body)
        out = ("" if not self.text else self._space) + checked
        self._space = "" if final else space
        self.text += out
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
        return fixed
