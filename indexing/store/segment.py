"""A segment's identity: its name, its vectors and BM25 postings, and the two directories that hold them.

Its own module because two sides share it: :mod:`indexing.store.generation` loads and searches segments, and
:mod:`indexing.store.state` lists them in SQLite; both depend on this module and neither on the other.

Example:
    >>> [p.name for p in segment_dirs(Path("idx"), "seg-000007")]
    ['seg-000007.vec', 'seg-000007.bm25']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from indexing.store.lexical import LexicalSegment
from indexing.store.segment_vectors import VectorSegment

SEGMENT_PREFIX = "seg-"


@dataclass(frozen=True)
class Segment:
    """An immutable segment: its name (``seg-000007``), vectors and BM25 postings."""

    name: str
    vectors: VectorSegment
    lexical: LexicalSegment


def segment_name(number: int) -> str:
    """The name of the ``number``-th segment an index writes: ``segment_name(7) == "seg-000007"``."""
    return f"{SEGMENT_PREFIX}{number:06d}"


def segment_dirs(index_dir: Path, name: str) -> tuple[Path, Path]:
    """(vectors directory, BM25 directory) of segment ``name``."""
    return Path(index_dir) / f"{name}.vec", Path(index_dir) / f"{name}.bm25"
