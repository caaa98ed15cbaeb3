"""WriteBatch: the one way to change an index's documents, chunks and vectors."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import faiss
import numpy as np

from indexing.faults import fault_point
from indexing.store import vectors as vec
from indexing.store.generation import Generation, copy_vectors
from indexing.store.lexical import LexicalIndex
from indexing.store.records import check_status
from indexing.types import Chunk, Document

if TYPE_CHECKING:
    from indexing.store.store import Store


class WriteBatch:
    """Changes staged inside one SQLite transaction (the writer's connection) plus a private FAISS copy.

    Obtain one from ``Store.batch()``; it commits when the ``with`` block ends without error. Readers keep
    searching ``base`` until the commit installs the next generation.
    """

    def __init__(self, store: Store, base: Generation) -> None:
        self.store = store
        self.conn = store._conn
        self.base = base
        self._vectors: faiss.IndexIDMap2 | None = None
        self.changed_vectors = False

    @property
    def vectors(self) -> faiss.IndexIDMap2:
        """The vectors this batch changes: a copy of the base generation's, made on first use."""
        if self._vectors is None:
            self._vectors = copy_vectors(self.base.vectors)
        return self._vectors

    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

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
        """Delete documents with their chunks and vectors."""
        for doc_id in doc_ids:
            ids = np.fromiter(
                (r[0] for r in self.conn.execute("SELECT id FROM chunks WHERE doc_id=?", (doc_id,))), dtype=np.int64
            )
            if len(ids):
                self.vectors.remove_ids(np.concatenate([ids, vec.lead_ids(ids)]))
                self.changed_vectors = True
            self.conn.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
            self.conn.execute("DELETE FROM documents WHERE id=?", (doc_id,))

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
        arr = vec.check_vectors(vectors, self.store.manifest.dimension)
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
        first = int(self.conn.execute("SELECT value FROM state WHERE key='next_chunk_id'").fetchone()[0])
        ids = list(range(first, first + len(chunks)))
        self.conn.executemany(
            'INSERT INTO chunks (id, doc_id, ordinal, text, start, "end", meta) VALUES (?, ?, ?, ?, ?, ?, ?)',
            [(i, c.doc_id, c.ordinal, c.text, c.start, c.end, "{}") for i, c in zip(ids, chunks)],
        )
        self.conn.execute("UPDATE state SET value=? WHERE key='next_chunk_id'", (str(first + len(chunks)),))
        if ids:
            self.vectors.add_with_ids(arr, np.asarray(ids, dtype=np.int64))
            self.changed_vectors = True
        if lead_arr is not None:
            self.vectors.add_with_ids(lead_arr, vec.lead_ids(np.asarray(ids[:1])))
        return ids

    def commit(self) -> None:
        """Write the next generation's files, then record it and commit the transaction; then serve it."""
        fault_point("batch.after_sql")
        if not self.changed_vectors:
            self.conn.execute("COMMIT")
            return
        new_gen = self.base.number + 1
        vec.save_index(self.vectors, self.store.faiss_path(new_gen))
        fault_point("commit.after_vectors")
        lexical = build_lexical(self.conn)
        lexical.save(self.store.bm25_path(new_gen))
        fault_point("commit.after_bm25")
        self.conn.execute("UPDATE state SET value=? WHERE key='generation'", (str(new_gen),))
        fault_point("commit.before_sql")
        self.conn.execute("COMMIT")
        fault_point("commit.after_sql")
        self.store.install(Generation(new_gen, self.vectors, lexical))


    def rollback(self) -> None:
        """Undo the transaction; new-generation files are left for garbage collection."""
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")


def build_lexical(conn: sqlite3.Connection) -> LexicalIndex:
    """BM25 over every chunk the connection sees: a title line, then the chunk's text."""
    rows = conn.execute(
        "SELECT c.id, d.title, c.text FROM chunks c JOIN documents d ON d.id = c.doc_id ORDER BY c.id"
    ).fetchall()
    return LexicalIndex.build([r[0] for r in rows], [f"{r[1]}\n{r[2]}" for r in rows])
