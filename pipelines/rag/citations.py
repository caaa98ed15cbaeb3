"""Find ``[n]`` / ``[n, m]`` / ``[n-m]`` citations in an answer and map them to passages.

References to passages that were not in the prompt are removed from the text and counted. Given a
``locate`` callable (e.g. ``lambda p: workspace.locate(p.doc_id, p.start, p.end)``), each citation also
says where to look: the PDF page, or the heading and line (see :mod:`pipelines.rag.locate`).

Example:
    >>> passages = [Passage(1, "d", "d.txt", "D", "text", 0, 4, (7,), 0.9)]
    >>> result = resolve_citations("Paris [1][3].", passages)
    >>> result.text, result.invalid, [c.number for c in result.citations]
    ('Paris [1].', 1, [1])
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.rag.locate import Location
from pipelines.rag.prompt import Passage

CITATION_RE = re.compile(r" ?\[(\s*\d+\s*(?:(?:,|;|-|–)\s*\d+\s*)*)\]")
MAX_RANGE = 50  # "[1-9999]" is not a citation anyone means


@dataclass(frozen=True)
class Citation:
    """A passage the answer cites, with where it is in the source.

    Attributes:
        number: the passage number used in the answer.
        doc_id, source, title: the cited document.
        start, end: character offsets of the passage in the document.
        chunk_ids: the chunks the passage was built from.
        count: how often the answer cites it.
        location: where to look in the source (page, heading, line), when it was located.

    Example:
        >>> Citation(1, "d", "d.pdf", "D", 0, 4, (7,), location=Location(page=2, page_end=2)).to_dict()["page"]
        2
    """

    number: int
    doc_id: str
    source: str
    title: str
    start: int
    end: int
    chunk_ids: tuple[int, ...]
    count: int = 1
    location: Location | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``location`` is null when unknown and ``page`` repeats ``location.page``."""
        location = self.location
        return {
            "number": self.number, "doc_id": self.doc_id, "source": self.source, "title": self.title,
            "start": self.start, "end": self.end, "chunk_ids": list(self.chunk_ids), "count": self.count,
            "location": location.to_dict() if location is not None else None,
            "page": location.page if location is not None else None,
        }


@dataclass(frozen=True)
class CitationResult:
    """An answer with its citations resolved.

    Attributes:
        text: the answer with references to unknown passages removed.
        citations: cited passages, in order of first citation.
        valid: references to passages that exist (each occurrence counts).
        invalid: references removed because no such passage was given.
    """

    text: str
    citations: list[Citation]
    valid: int
    invalid: int


def parse_numbers(group: str) -> list[int]:
    """Numbers in the inside of one bracket: ``"1, 3-5"`` → ``[1, 3, 4, 5]``.

    Example:
        >>> parse_numbers("2; 4–5")
        [2, 4, 5]
    """
    numbers: list[int] = []
    for part in re.split(r"[,;]", group):
        bounds = [int(x) for x in re.split(r"[-–]", part) if x.strip()]
        if len(bounds) == 2 and 0 <= bounds[1] - bounds[0] <= MAX_RANGE:
            numbers.extend(range(bounds[0], bounds[1] + 1))
        else:
            numbers.extend(bounds)
    return numbers


def find_citations(text: str) -> list[list[int]]:
    """The number lists of every bracket citation in ``text``: ``"a [1] b [2, 3]"`` → ``[[1], [2, 3]]``."""
    return [parse_numbers(m.group(1)) for m in CITATION_RE.finditer(text)]


def resolve_citations(
    text: str, passages: Sequence[Passage], locate: Callable[[Passage], Location | None] | None = None
) -> CitationResult:
    """Map citations to passages; drop references to numbers that no passage has.

    A bracket whose numbers are all valid is left as written; one with some invalid numbers is
    rewritten with only the valid ones; one with none is removed with its leading space.

    Args:
        text: the model's answer.
        passages: the numbered passages of the prompt.
        locate: gives a passage's :class:`Location`; called once per cited passage. ``None`` leaves
            every ``Citation.location`` unset.
    """
    by_number = {p.number: p for p in passages}
    counts: dict[int, int] = {}
    invalid = 0

    def fix(match: re.Match[str]) -> str:
        nonlocal invalid
        numbers = parse_numbers(match.group(1))
        good = [n for n in numbers if n in by_number]
        invalid += len(numbers) - len(good)
        for n in good:
            counts[n] = counts.get(n, 0) + 1
        if len(good) == len(numbers):
            return match.group(0)
        if not good:
            return ""
        lead = " " if match.group(0).startswith(" ") else ""
        return f"{lead}[{', '.join(str(n) for n in dict.fromkeys(good))}]"

    cleaned = CITATION_RE.sub(fix, text)
    citations = [_citation(by_number[n], c, locate) for n, c in counts.items()]
    return CitationResult(cleaned, citations, sum(counts.values()), invalid)


def _citation(passage: Passage, count: int, locate: Callable[[Passage], Location | None] | None) -> Citation:
    location = locate(passage) if locate is not None else None
    return Citation(passage.number, passage.doc_id, passage.source, passage.title, passage.start, passage.end,
                    passage.chunk_ids, count, location)
