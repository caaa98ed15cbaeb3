"""The typed values that flow through indexing and the query pipelines.

``Loader → Document → Chunker → Chunk → Embedder → Store``; queries come back as ``Hit``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


def content_hash(text: str) -> str:
    """Stable hash of a document's text: ``content_hash("a") == content_hash("a")``."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Document:
    """One unit of text from a source file.

    A plain file gives one document; a CSV/JSONL file gives one per row; the wiki corpus one per article.

    Attributes:
        id: stable id, the same every time the same source (and row) is loaded, e.g. ``"notes.md"`` or
            ``"table.csv#row=12"``.
        source: the file it came from, as given to the indexer (absolute path string).
        title: a human title (file stem, HTML <title>, article title, …).
        text: the full text; chunk offsets point into it.
        meta: free metadata (``{"topic": "Arts"}``); values are str/int/float/bool.
    """

    id: str
    source: str
    title: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        """Content hash over title, text and metadata, so any visible change re-embeds."""
        key = f"{self.title}\x00{self.text}\x00{sorted(self.meta.items())!r}"
        return content_hash(key)


@dataclass(frozen=True)
class Chunk:
    """A span of a document small enough for the embedding model.

    ``doc.text[start:end] == text`` always holds.

    Attributes:
        doc_id: the document it belongs to.
        ordinal: 0-based position of the chunk within the document.
        text: the chunk's text.
        start: character offset of the first character in ``doc.text``.
        end: character offset one past the last character.
    """

    doc_id: str
    ordinal: int
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Hit:
    """One search result: a chunk, its document and its score.

    ``score`` is cosine similarity for dense search, BM25 score for lexical search and the
    reciprocal-rank-fusion score for hybrid search; higher is better in every mode.
    """

    chunk_id: int
    doc_id: str
    source: str
    title: str
    score: float
    text: str
    start: int
    end: int
    rank: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``--json`` schema of ``sift search``)."""
        return {
            "rank": self.rank,
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "source": self.source,
            "title": self.title,
            "score": round(float(self.score), 6),
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "meta": self.meta,
        }
