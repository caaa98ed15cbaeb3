"""WriteBatch: the one way to change an index's documents, chunks and vectors."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from indexing.datatypes import Chunk, Document
from indexing.faults import fault_point
from indexing.manifest import Manifest
from indexing.store import vectors as vec
from indexing.store.generation import Generation, assemble
from indexing.store.lexical import LexicalSegment
from indexing.store.merging import live_rows, merge, plan, write_segment
from indexing.store.records import check_status
from indexing.store.segment import Segment
from indexing.store.segment_vectors import VectorSegment, choose_kind
from indexing.store.state import (
    add_tombstones,
    list_segment,
    next_segment_name,
    set_generation,
    take_chunk_ids,
    unlist_segments,
    write_manifest,
)

# Re-exported: ``sift doctor`` writes its repair segment with these.
__all__ = ["WriteBatch", "build_lexical", "list_segment", "next_segment_name"]


class WriteBatch:
    """Changes staged inside one SQLite transaction (the writer's connection) plus the rows of one new segment.

    Obtain one from ``Store.batch()``, which opens the transaction, calls :meth:`finish` when the ``with``
    block ends without error, commits, and then serves the new generation. Added chunks and lead vectors
    become one new immutable segment; removed ones become tombstones. Readers keep searching ``base`` until
    the commit (:mod:`indexing.store.generation`).

    Args:
        conn: the writer's connection, inside its write transaction.
        index_dir: the index directory new segments are written in.
        manifest: the index's manifest (dimension, vector index policy).
        base: the committed generation this batch builds on.
    """

    def __init__(self, conn: sqlite3.Connection, index_dir: Path, manifest: Manifest, base: Generation) -> None:
        self.conn = conn
        self.index_dir = index_dir
        self.manifest = manifest
        self.base = base
        self._ids: list[np.ndarray] = []  # vector ids added (chunk ids, lead ids), one array per document
        self._vectors: list[np.ndarray] = []
        self._lexical: list[tuple[int, str]] = []  # (chunk id, title line + text) added
        self._removed: list[np.ndarray] = []  # ids removed, resolved to their segments by _forget
        self._cancelled: set[int] = set()  # ids added and then removed within this batch
        self._dead: dict[str, list[int]] = {}  # segment name -> ids of its rows this batch deletes
        self._merge_all: str | None = None  # vector index policy of a requested full merge (optimize)

    @property
    def changed_vectors(self) -> bool:
        """True when the commit writes a new generation (rows added, removed or merged)."""
        self._forget()
        return bool(self._ids or self._dead or self._merge_all)

    def upsert_file(self, path: str, file_hash: str, size: int) -> None:
        """Record that ``path`` with this content is indexed (its documents follow)."""
        self.conn.execute(
            "INSERT INTO files VALUES (?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
            "hash=excluded.hash, size=excluded.size, indexed_at=excluded.indexed_at",
            (path, file_hash, size, time.time()),
        )

    def remove_file(self, path: str) -> int:
        """Forget a file, its documents, chunks, vectors and status. Returns documents removed."""
        doc_ids = [r[0] for r in self.conn.execute("SELECT id FROM documents WHERE file=?", (path,))]
        self.remove_documents(doc_ids)
        self.conn.execute("DELETE FROM files WHERE path=?", (path,))
        self.conn.execute("DELETE FROM file_status WHERE path=?", (path,))
        return len(doc_ids)

    def set_file_status(self, path: str, status: str, reason: str, documents: int) -> None:
        """Record the latest status of ``path`` (one of ``FILE_STATUSES``), replacing the one before.

        Example:
            ``batch.set_file_status("/docs/a.pdf", "failed", "/docs/a.pdf: not a readable PDF", 0)``
        """
        check_status(status)
        self.conn.execute(
            "INSERT INTO file_status VALUES (?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
            "status=excluded.status, reason=excluded.reason, documents=excluded.documents, "
            "updated_at=excluded.updated_at",
            (path, status, reason, documents, time.time()),
        )

    def remove_documents(self, doc_ids: Sequence[str]) -> None:
        """Delete documents with their chunks; their vectors and BM25 rows become tombstones."""
        for doc_id in doc_ids:
            ids = np.fromiter(
                (r[0] for r in self.conn.execute("SELECT id FROM chunks WHERE doc_id=?", (doc_id,))), dtype=np.int64
            )
            if len(ids):
                self._removed.append(np.concatenate([ids, vec.lead_ids(ids)]))
            self.conn.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
            self.conn.execute("DELETE FROM documents WHERE id=?", (doc_id,))

    def _forget(self) -> None:
        """Tombstone the removed ids in the segments holding them, in one pass (ids added by this batch, or
        lead ids a chunk never had, are held by no segment: they are simply dropped)."""
        if not self._removed:
            return
        ids = np.concatenate(self._removed)
        self._removed = []
        # A removed chunk's row is gone from the database, so it cannot be removed twice: no tombstone check.
        holders = self.base.holders(ids, live_only=False)
        for n in np.unique(holders[holders >= 0]):
            self._dead.setdefault(self.base.segments[n].name, []).extend(ids[holders == n].tolist())
        self._cancelled.update(ids[holders < 0].tolist())

    def optimize(self, policy: str) -> None:
        """At commit, merge every segment into one without tombstoned rows, as ``policy`` says (``sift optimize``)."""
        self._merge_all = policy

    def add_document(
        self,
        doc: Document,
        file: str,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        lead: np.ndarray | None = None,
    ) -> list[int]:
        """Insert a document (replacing one with the same id) with its chunks and their vectors.

        Args:
            doc: the document.
            file: the indexed file it came from (must have been upserted).
            chunks: its chunks, in order.
            vectors: (len(chunks), d) unit vectors, row i for chunks[i].
            lead: the first chunk's lead vector (d,), if it has one (see :mod:`indexing.lead`).

        Returns:
            The chunk ids assigned.
        """
        arr = vec.check_vectors(vectors, self.manifest.dimension)
        if len(arr) != len(chunks):
            raise ValueError(f"{doc.id}: {len(chunks)} chunks but {len(arr)} vectors")
        lead_arr = None if lead is None else vec.check_vectors(np.atleast_2d(lead), arr.shape[1], "lead vector")
        if lead_arr is not None and (len(lead_arr) != 1 or not chunks):
            raise ValueError(f"{doc.id}: a lead vector needs one row and a first chunk")
        self.remove_documents([doc.id])
        self.conn.execute(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?)",
            (doc.id, file, doc.title, doc.text, doc.hash, json.dumps(doc.meta)),
        )
        first = take_chunk_ids(self.conn, len(chunks))
        ids = list(range(first, first + len(chunks)))
        self.conn.executemany(
            'INSERT INTO chunks (id, doc_id, ordinal, text, start, "end", meta) VALUES (?, ?, ?, ?, ?, ?, ?)',
            [(i, c.doc_id, c.ordinal, c.text, c.start, c.end, "{}") for i, c in zip(ids, chunks)],
        )
        if ids:
            self._ids.append(np.asarray(ids, dtype=np.int64))
            self._vectors.append(arr)
            self._lexical.extend((i, f"{doc.title}\n{c.text}") for i, c in zip(ids, chunks))
        if lead_arr is not None:
            self._ids.append(vec.lead_ids(np.asarray(ids[:1])))
            self._vectors.append(lead_arr)
        return ids

    def finish(self) -> Generation | None:
        """Write the new segment (and any merge) and record them in the open transaction.

        Returns:
            The generation to serve once the transaction commits; None when no vectors changed.
        """
        fault_point("batch.after_sql")
        if not self.changed_vectors:
            return None
        policy = self._merge_all or self.manifest.vector_index
        segments, dead = list(self.base.segments), dict(self.base.dead)
        for name, ids in self._dead.items():
            add_tombstones(self.conn, name, ids)
            dead[name] = np.union1d(dead.get(name, np.zeros(0, np.int64)), np.asarray(ids, dtype=np.int64))
        added = self._new_segment(policy)
        if added is not None:
            segments.append(added)
        number = self.base.number + 1
        generation = assemble(number, self.base.dimension, segments, dead)
        empty = {name for name, rows in live_rows(generation) if rows == 0}  # wholly deleted: dropped, not rewritten
        if empty:
            unlist_segments(self.conn, empty)
            segments = [s for s in segments if s.name not in empty]
            generation = assemble(number, self.base.dimension, segments, dead)
        chosen = self._full_merge(generation, policy) if self._merge_all else plan(live_rows(generation))
        while chosen:
            merged = merge(generation, chosen, self.index_dir, next_segment_name(self.conn), policy)
            unlist_segments(self.conn, chosen)
            list_segment(self.conn, merged, number)
            segments = [s for s in segments if s.name not in chosen] + [merged]
            generation = assemble(number, self.base.dimension, segments, dead)
            chosen = [] if self._merge_all else plan(live_rows(generation))
        if self._merge_all:  # the new policy is recorded in the same commit
            write_manifest(self.conn, replace(self.manifest, vector_index=self._merge_all))
        set_generation(self.conn, number)
        fault_point("commit.before_sql")
        return generation

    @staticmethod
    def _full_merge(generation: Generation, policy: str) -> list[str]:
        """Every segment, unless the index already is one segment of the right kind with nothing deleted."""
        names = [s.name for s in generation.segments]
        if len(names) == 1 and not generation.dead:
            only = generation.segments[0].vectors
            if only.kind == choose_kind(policy, only.rows):
                return []
        return names

    def _new_segment(self, policy: str) -> Segment | None:
        """The segment of this batch's added rows, written to disk and listed; None when nothing was added."""
        if not self._ids:
            return None
        ids, vectors = np.concatenate(self._ids), np.vstack(self._vectors)
        keep = ~np.isin(ids, np.fromiter(self._cancelled, dtype=np.int64)) if self._cancelled else None
        if keep is not None:
            ids, vectors = ids[keep], vectors[keep]
        if not len(ids):
            return None
        lexical = [(i, text) for i, text in self._lexical if i not in self._cancelled]
        segment = write_segment(
            self.index_dir, next_segment_name(self.conn),
            VectorSegment.build(ids, vectors, choose_kind(policy, len(ids))),
            LexicalSegment.build([i for i, _ in lexical], [text for _, text in lexical]),
        )
        list_segment(self.conn, segment, self.base.number + 1)
        return segment


def build_lexical(conn: sqlite3.Connection) -> LexicalSegment:
    """BM25 postings over every chunk the connection sees: a title line, then the chunk's text."""
    rows = conn.execute(
        "SELECT c.id, d.title, c.text FROM chunks c JOIN documents d ON d.id = c.doc_id ORDER BY c.id"
    ).fetchall()
    return LexicalSegment.build([r[0] for r in rows], [f"{r[1]}\n{r[2]}" for r in rows])
