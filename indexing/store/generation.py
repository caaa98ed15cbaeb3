"""One committed generation of an index: a list of immutable segments and the ids deleted from them.

A segment is what one write added (or what a merge wrote): its vectors (:class:`VectorSegment`: chunk
and lead vectors, flat or approximate) and its BM25 postings (:class:`LexicalSegment`), two directories
``seg-<n>.vec`` and ``seg-<n>.bm25`` written once and never changed. A deletion is a tombstone: a row of
the ``tombstones`` table naming the id and the segment holding it, hidden from every search until a merge
(:mod:`indexing.store.merging`) rewrites that segment without it. The committed list of segments and the
tombstones live in SQLite (:mod:`indexing.store.state`), so a generation is exactly what one read transaction
sees; readers share a :class:`Generation` and a writer builds the next one, so a search never sees vectors or
terms change under it.

This is the design of Lucene's segments and deletion bitmaps (also Tantivy's, and Milvus's sealed
segments): a write costs what it adds, not the size of the index.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexing.errors import IndexCorruptError
from indexing.store import vectors as vec
from indexing.store.lexical import LexicalIndex, LexicalSegment
from indexing.store.segment import Segment, segment_dirs
from indexing.store.segment_vectors import VectorSegment
from indexing.store.state import committed

__all__ = ["Generation", "Segment", "assemble", "committed", "empty", "load", "load_segment", "segment_dirs"]

_EMPTY_IDS = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Generation:
    """Generation ``number``: its segments and, per segment name, the ids tombstoned in it (sorted int64).

    Build with :func:`assemble`. ``lexical`` searches every segment's BM25 with global statistics.
    """

    number: int
    dimension: int
    segments: tuple[Segment, ...]
    dead: Mapping[str, np.ndarray]
    lexical: LexicalIndex = field(repr=False)

    def live_ids(self, segment: Segment) -> np.ndarray:
        """The ids of ``segment`` not tombstoned, ascending."""
        dead = self.dead.get(segment.name, _EMPTY_IDS)
        ids = segment.vectors.ids
        return ids[~np.isin(ids, dead)] if len(dead) else ids

    def all_live(self) -> np.ndarray:
        """Every live vector id (chunk and lead ids) of every segment, ascending."""
        parts = [self.live_ids(s) for s in self.segments]
        return np.sort(np.concatenate(parts)) if parts else _EMPTY_IDS

    def chunk_ids(self) -> np.ndarray:
        """Live chunk ids holding a vector, ascending (lead ids left out)."""
        ids = self.all_live()
        return ids[ids < vec.LEAD_ID_OFFSET]

    def lead_chunk_ids(self) -> np.ndarray:
        """Chunk ids that hold a live lead vector, ascending."""
        ids = self.all_live()
        return ids[ids >= vec.LEAD_ID_OFFSET] - vec.LEAD_ID_OFFSET

    def holders(self, ids: np.ndarray, live_only: bool = True) -> np.ndarray:
        """For each id, the position in ``segments`` of the segment holding it (live, unless ``live_only`` is
        False); -1 where none does."""
        arr = np.asarray(ids, dtype=np.int64)
        out = np.full(len(arr), -1, dtype=np.int64)
        for n, segment in enumerate(self.segments):
            held = segment.vectors.contains(arr)
            dead = self.dead.get(segment.name) if live_only else None
            if dead is not None and len(dead):
                held &= ~np.isin(arr, dead)
            out[held] = n
        return out

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """Stored vectors for live ids, (n, d) float32.

        Raises:
            KeyError: an id no segment holds live.
        """
        arr = np.asarray(ids, dtype=np.int64)
        holders = self.holders(arr)
        if (holders < 0).any():
            raise KeyError(f"no vector for id {int(arr[holders < 0][0])}")
        out = np.zeros((len(arr), self.dimension), dtype=np.float32)
        for n in np.unique(holders):
            rows = np.flatnonzero(holders == n)
            out[rows] = self.segments[n].vectors.reconstruct(arr[rows])
        return out

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k chunks per query row over every segment, each chunk scored by the best of its vectors.

        Args:
            queries: (q, d) float32 unit vectors.
            k: results per query.
            allowed: if given, only these chunk ids may be returned.

        Returns:
            D: (q, k) exact cosine scores, I: (q, k) chunk ids, -1 (and -inf) where fewer than k results.
        """
        # A chunk has at most two vectors, so the best 2k of each segment hold the best vector of each top-k chunk.
        fetch = max(1, 2 * k)
        wanted = None if allowed is None else np.concatenate([allowed, vec.lead_ids(allowed)]).astype(np.int64)
        parts = [
            s.vectors.search(queries, fetch, wanted, self.dead.get(s.name)) for s in self.segments if s.vectors.rows
        ]
        if not parts:
            q = len(queries)
            return np.full((q, k), -np.inf, dtype=np.float32), np.full((q, k), -1, dtype=np.int64)
        scores = np.concatenate([p[0] for p in parts], axis=1)
        ids = np.concatenate([p[1] for p in parts], axis=1)
        if len(parts) > 1:
            order = np.argsort(-scores, axis=1, kind="stable")[:, :fetch]
            scores, ids = np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)
        return vec.fold_leads(scores, ids, k)


def assemble(number: int, dimension: int, segments: Sequence[Segment], dead: Mapping[str, np.ndarray]) -> Generation:
    """A generation of these segments with these tombstones (segment name → sorted ids)."""
    names = {s.name for s in segments}
    dead = {n: np.asarray(d, dtype=np.int64) for n, d in dead.items() if n in names and len(d)}
    dead_chunks = [d[d < vec.LEAD_ID_OFFSET] for d in dead.values()]
    lexical = LexicalIndex(
        [s.lexical for s in segments], np.unique(np.concatenate(dead_chunks)) if dead_chunks else None
    )
    return Generation(number, dimension, tuple(segments), dead, lexical)


def empty(dimension: int) -> Generation:
    """Generation 0 of a new index: no segments."""
    return assemble(0, dimension, (), {})


def load_segment(index_dir: Path, name: str, dimension: int) -> Segment:
    """Read a committed segment's two directories.

    Raises:
        IndexCorruptError: a file is missing, torn or of another dimension; the message names it and the repair.
    """
    vec_dir, bm25_dir = segment_dirs(index_dir, name)
    repair = f"run `sift doctor --index {index_dir} --repair` to rebuild it from the database"
    for path in (vec_dir, bm25_dir):
        if not path.is_dir():
            raise IndexCorruptError(f"{path} of committed segment {name} is missing: {repair}")
    try:
        vectors = VectorSegment.load(vec_dir, dimension)
    except IndexCorruptError as exc:
        raise IndexCorruptError(f"{exc}: {repair}") from exc
    try:
        lexical = LexicalSegment.load(bm25_dir)
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise IndexCorruptError(f"{bm25_dir} cannot be read ({exc}): {repair}") from exc
    return Segment(name, vectors, lexical)


def load(
    conn: sqlite3.Connection, index_dir: Path, dimension: int, cache: Mapping[str, Segment] | None = None
) -> Generation:
    """The generation ``conn`` sees as committed, reusing already-loaded segments from ``cache``.

    Raises:
        IndexCorruptError: a committed segment cannot be read.
    """
    number, names, dead = committed(conn)
    held = cache or {}
    segments = [held[n] if n in held else load_segment(index_dir, n, dimension) for n in names]
    return assemble(number, dimension, segments, dead)
