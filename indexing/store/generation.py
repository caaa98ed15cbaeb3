"""One committed generation of an index held in memory: its FAISS vectors and its BM25 index, immutable.

Readers share a :class:`Generation`; a writer builds the next one from a copy and installs it after the
commit, so a search never sees vectors or terms change under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss

from indexing.errors import IndexCorruptError
from indexing.store import vectors as vec
from indexing.store.lexical import LexicalIndex


@dataclass(frozen=True)
class Generation:
    """The vectors and BM25 index of generation ``number`` (0: nothing written yet, both empty)."""

    number: int
    vectors: faiss.IndexIDMap2
    lexical: LexicalIndex


def faiss_path(index_dir: Path, number: int) -> Path:
    return Path(index_dir) / f"vectors-{number}.faiss"


def bm25_path(index_dir: Path, number: int) -> Path:
    return Path(index_dir) / f"bm25-{number}"


def empty(dimension: int) -> Generation:
    """Generation 0 of a new index."""
    return Generation(0, vec.empty_index(dimension), LexicalIndex.build([], []))


def load(index_dir: Path, number: int, dimension: int) -> Generation:
    """Read generation ``number``'s files.

    Raises:
        IndexCorruptError: a file of a committed generation (above 0) is missing or unreadable; the
            message names it and the repair.
    """
    if number == 0:
        return empty(dimension)
    vectors_file, bm25_dir = faiss_path(index_dir, number), bm25_path(index_dir, number)
    repair = f"run `sift doctor --index {index_dir} --repair` to rebuild it from the database"
    for path in (vectors_file, bm25_dir / "ids.npy"):
        if not path.exists():
            raise IndexCorruptError(f"{path} of committed generation {number} is missing: {repair}")
    try:
        vectors = vec.load_index(vectors_file)
    except RuntimeError as exc:  # FAISS reports a torn or foreign file this way
        raise IndexCorruptError(f"{vectors_file} cannot be read ({str(exc).splitlines()[0]}): {repair}") from exc
    if vectors.d != dimension:
        raise IndexCorruptError(f"{vectors_file} holds {vectors.d}-d vectors, the manifest says {dimension}: {repair}")
    try:
        lexical = LexicalIndex.load(bm25_dir)
    except (OSError, ValueError, KeyError) as exc:
        raise IndexCorruptError(f"{bm25_dir} cannot be read ({exc}): {repair}") from exc
    return Generation(number, vectors, lexical)


def copy_vectors(index: faiss.Index) -> faiss.IndexIDMap2:
    """A private copy a writer may change while readers keep searching the original."""
    return faiss.deserialize_index(faiss.serialize_index(index))
