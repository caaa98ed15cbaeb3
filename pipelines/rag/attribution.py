"""Make each supported sentence cite the passage that supports it.

A small generator often states a fact from one passage and cites another, usually the passage
about the question's subject ("Claude Monet died in 1926 [2]" where [2] is the article on Monet and
the year is in [1], "Water Lilies"). The support check (:mod:`pipelines.rag.support`) finds the
span that supports each sentence; when that span is in a passage the sentence does not cite, the
sentence's citations are replaced by that passage's number (and a supported sentence without a
citation gets one). Unsupported sentences keep what the model wrote and stay flagged.

Example:
    >>> from pipelines.rag.prompt import Passage
    >>> from pipelines.rag.support import check_support
    >>> ps = [Passage(1, "w", "w", "Water Lilies", "Paintings by Claude Monet (1840–1926).", 0, 38, (1,), .9),
    ...       Passage(2, "m", "m", "Claude Monet", "Claude Monet was a French painter.", 0, 34, (2,), .8)]
    >>> text = "Claude Monet lived from 1840 to 1926 [2]."
    >>> align_citations(text, check_support(text, ps)).text
    'Claude Monet lived from 1840 to 1926 [1].'
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pipelines.rag.citations import CITATION_RE
from pipelines.rag.support import SentenceSupport, SupportReport

_END = (".", "!", "?", "…")


@dataclass(frozen=True)
class Alignment:
    """An answer whose supported sentences cite their supporting passage.

    Attributes:
        text: the answer with citations moved.
        support: the support report with offsets and ``cited`` updated to ``text``.
        changed: sentences whose citations were replaced or added.
    """

    text: str
    support: SupportReport
    changed: int


def cite_passage(sentence: str, number: int) -> str:
    """``sentence`` with its citations removed and ``[number]`` put before its closing punctuation.

    Example:
        >>> cite_passage("He died in 1926. [2]", 1)
        'He died in 1926 [1].'
        >>> cite_passage("He died in 1926", 3)
        'He died in 1926 [3]'
    """
    bare = CITATION_RE.sub("", sentence).rstrip()
    body = bare.rstrip("".join(_END))
    return f"{body} [{number}]{bare[len(body):]}"


def align_citations(text: str, report: SupportReport) -> Alignment:
    """Point every supported sentence's citation at its supporting passage (see the module docstring).

    Args:
        text: the answer the report was computed on (``report``'s offsets index it).
        report: :func:`pipelines.rag.support.check_support` of ``text``.

    Returns:
        The aligned answer, its shifted report and how many sentences changed.
    """
    parts: list[str] = []
    sentences: list[SentenceSupport] = []
    last = shift = changed = 0
    for s in report.sentences:
        parts.append(text[last : s.start])
        new = s.sentence
        if s.checked and s.supported and s.passage is not None and s.passage not in s.cited:
            new = cite_passage(s.sentence, s.passage)
            changed += new != s.sentence
        parts.append(new)
        cited = (s.passage,) if new != s.sentence else s.cited
        sentences.append(replace(s, sentence=new, start=s.start + shift, end=s.start + shift + len(new), cited=cited))
        shift += len(new) - len(s.sentence)
        last = s.end
    parts.append(text[last:])
    return Alignment("".join(parts), replace(report, sentences=sentences), changed)
