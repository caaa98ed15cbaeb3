"""The Store: one directory holding ``meta.sqlite`` and immutable segments ``seg-<n>.vec/`` + ``seg-<n>.bm25/``.

Writes cost what they change (:mod:`indexing.store.generation`): a batch's added chunks become one new
segment, its deletions tombstones, and a tiered policy merges small segments (:mod:`indexing.store.merging`);
``sift optimize`` merges everything.

Crash safety: every write is a :class:`WriteBatch`. SQLite changes happen inside one transaction
(:func:`indexing.store.state.write_transaction`, as every write to the database does); the new
segment's files are written first (temp + fsync + rename); only then does the transaction list the segment,
record its tombstones and the next generation number, and commit. A failure at any point before the commit
rolls SQLite back and no committed file was touched; a crash after it leaves the new generation complete.
Segment directories the database does not list are garbage, deleted by the next write.

Isolation: readers never see a half-written index. The writer works on its own connection and writes only
new files; each reading thread has its own connection, and :meth:`Store.snapshot` pins
one committed generation (rows, segments and tombstones together) for a block of reads
(:mod:`indexing.store.snapshot`). One writer at a time per index, across processes
(:mod:`indexing.store.lock`); SQLite runs in WAL mode with a busy timeout.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from indexing.errors import IndexNotFoundError
from indexing.faults import fault_point
from indexing.manifest import Manifest
from indexing.store import generation as gen_files
from indexing.store import vectors as vec
from indexing.store.files import remove_path
from indexing.store.generation import Generation
from indexing.store.legacy import garbage, migrate_legacy
from indexing.store.lexical import LexicalIndex
from indexing.store.lock import write_lock
from indexing.store.rows import RowReads
from indexing.store.schema import DB_NAME, connect
from indexing.store.snapshot import Snapshots
from indexing.store.state import (
    init_state,
    read_manifest,
    stored_generation,
    write_manifest_copy,
    write_transaction,
)
from indexing.store.writer import WriteBatch

__all__ = ["DB_NAME", "Store", "WriteBatch"]


class Store(RowReads):
    """An index directory. Use :meth:`open` or :meth:`create`; never mixes manifests.

    Its reads of rows (documents, chunks, files, metadata) come from :class:`~indexing.store.rows.RowReads`.

    Example:
        >>> store = Store.create(Path("idx"), manifest)        # doctest: +SKIP
        >>> with store.batch() as batch:                         # doctest: +SKIP
        ...     batch.add_document(doc, "a.txt", chunks, vectors, texts)
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, manifest: Manifest) -> None:
        self.path = path
        self._conn = conn  # the writer's connection; readers use their thread's (see _q)
        self.manifest = manifest
        # Once per open, never per read: ``connect`` has brought the schema up to date, and an index of the
        # pre-segment format is converted here, so every read after this sees the current format.
        migrate_legacy(path, conn, manifest)
        # Generation 0 holds nothing; the committed one is read like any reader's, retried if a writer moves on.
        self._snaps = Snapshots(path / DB_NAME, path, manifest.dimension, gen_files.empty(manifest.dimension))
        self._snaps.generation()

    # ---- opening -------------------------------------------------------------------------
    @staticmethod
    def exists(path: Path) -> bool:
        """True when ``path`` holds an index."""
        return (Path(path) / DB_NAME).exists()

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open an existing index.

        Raises:
            IndexNotFoundError: nothing indexed at ``path`` yet.
        """
        path = Path(path)
        if not cls.exists(path):
            raise IndexNotFoundError(f"no index at {path}: build one with `sift index PATH --index {path}`")
        conn = connect(str(path / DB_NAME))
        manifest = read_manifest(conn)
        if manifest is None:
            raise IndexNotFoundError(f"{path} holds no manifest: it is not a sift index; pick another --index")
        return cls(path, conn, manifest)

    @classmethod
    def create(cls, path: Path, manifest: Manifest) -> Store:
        """Open the index at ``path``, creating it with ``manifest`` if absent.

        Raises:
            IndexMismatchError: an index is there, built with another model or chunker.
        """
        path = Path(path)
        if cls.exists(path):
            store = cls.open(path)
            store.manifest.check_compatible(manifest, str(path))
            return store
        path.mkdir(parents=True, exist_ok=True)
        conn = connect(str(path / DB_NAME))
        with write_transaction(conn):
            init_state(conn, manifest)
        write_manifest_copy(path, conn)
        return cls(path, conn, manifest)

    def close(self) -> None:
        """Release the database handles."""
        self._snaps.close()
        self._conn.close()

    # ---- generations ---------------------------------------------------------------------
    @property
    def generation(self) -> int:
        """The generation reads see now: the pinned one inside :meth:`snapshot`, else the newest loaded."""
        return self._snaps.generation().number

    def refresh(self) -> None:
        """Pick up writes made by another writer since this one loaded."""
        self._snaps.generation()

    def snapshot(self):  # type: ignore[no-untyped-def]
        """``with store.snapshot():`` — every read in the block sees one committed generation (re-entrant)."""
        return self._snaps.pinned()

    def current(self) -> Generation:
        """The generation reads use now (pinned inside :meth:`snapshot`)."""
        return self._snaps.generation()

    def install(self, generation: Generation) -> None:
        """Serve a generation this process's writer just committed."""
        self._snaps.install(generation)

    def _q(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run a read on this thread's connection (inside a snapshot: in its read transaction)."""
        return self._snaps.conn().execute(sql, params)

    def collect_garbage(self) -> None:
        """Delete segment files the database does not list (left by crashes, merges and old formats)."""
        for child in garbage(self.path, self._conn):
            remove_path(child)

    @contextmanager
    def batch(self, lock_timeout: float | None = None) -> Iterator[WriteBatch]:
        """A crash-safe write: everything in the block lands, or nothing does; readers see it only once committed.

        Raises:
            IndexBusyError: another process held the write lock for ``lock_timeout`` seconds.
        """
        with write_lock(self.path, lock_timeout):
            base = self._snaps.get(stored_generation(self._conn), self._conn)
            try:
                with write_transaction(self._conn):
                    batch = WriteBatch(self._conn, self.path, self.manifest, base)
                    yield batch
                    generation = batch.finish()
                if generation is not None:
                    fault_point("commit.after_sql")
                    self.install(generation)
            finally:
                try:  # under the lock, so no writer's uncommitted next generation is taken for garbage
                    self.collect_garbage()
                except OSError:
                    pass

    # ---- reads of vectors and BM25 (rows: indexing.store.rows) ---------------------------
    def count_leads(self) -> int:
        """Lead vectors held (one per document whose first sentence gives one)."""
        return len(self.current().lead_chunk_ids())

    def lead_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """chunk id → its lead vector, for those of ``ids`` that have one."""
        generation = self.current()
        wanted = np.asarray([int(i) for i in ids], dtype=np.int64)
        wanted = wanted[np.isin(wanted, generation.lead_chunk_ids())]
        found = generation.reconstruct(vec.lead_ids(wanted))
        return {int(i): row for i, row in zip(wanted, found, strict=True)}

    def vectors(self, ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids int64 (n,), vectors float32 (n, d)) for the given chunk ids, or all of them (ascending ids)."""
        generation = self.current()
        id_arr = generation.chunk_ids() if ids is None else np.asarray(ids, dtype=np.int64)
        return id_arr, generation.reconstruct(id_arr)

    def search_dense(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[list[tuple[int, float]]]:
        """Exact cosine top-k per query row: ``[[(chunk_id, score), ...], ...]``.

        A chunk with a lead vector scores the higher of its two cosines.
        """
        generation = self.current()
        q = vec.check_vectors(np.atleast_2d(queries), self.manifest.dimension, "query vectors")
        if not generation.segments or (allowed is not None and len(allowed) == 0):
            return [[] for _ in range(len(q))]
        scores, ids = generation.search(q, k, None if allowed is None else np.asarray(allowed, dtype=np.int64))
        return [[(int(i), float(s)) for i, s in zip(row_i, row_s) if i >= 0] for row_i, row_s in zip(ids, scores)]

    def lexical(self) -> LexicalIndex:
        """The BM25 index of the current generation (pinned inside :meth:`snapshot`)."""
        return self.current().lexical

    def segments(self) -> list[dict[str, Any]]:
        """The current generation's segments: name, kind, vector rows, tombstoned rows, BM25 rows, memory bytes."""
        generation = self.current()
        return [
            {"name": s.name, "kind": s.vectors.kind, "vectors": s.vectors.rows,
             "deleted": len(generation.dead.get(s.name, ())), "bm25_rows": s.lexical.rows,
             "memory_bytes": s.vectors.nbytes + s.lexical.nbytes}
            for s in generation.segments
        ]

    def optimize(self, vector_index: str | None = None, lock_timeout: float | None = None) -> None:
        """Merge every segment into one without deleted rows, as ``vector_index`` (default: the manifest's) says.

        A new policy is recorded in the manifest in the same commit.
        """
        policy = vector_index or self.manifest.vector_index
        with self.batch(lock_timeout) as batch:
            batch.optimize(policy)
        if policy != self.manifest.vector_index:
            self.manifest = replace(self.manifest, vector_index=policy)
            write_manifest_copy(self.path, self._conn)

    # ---- metadata and artifacts -------------------------------------------------------------
    def update_meta(
        self, chunk_meta: dict[int, dict[str, Any]] | None = None, doc_meta: dict[str, dict[str, Any]] | None = None
    ) -> None:
        """Merge keys into chunk/document metadata in one transaction; a None value deletes the key.

        Metadata changes do not bump the generation: vectors and text are unchanged.
        """
        with write_lock(self.path), write_transaction(self._conn):
            for table, updates in (("chunks", chunk_meta or {}), ("documents", doc_meta or {})):
                for key, patch in updates.items():
                    row = self._conn.execute(f"SELECT meta FROM {table} WHERE id=?", (key,)).fetchone()
                    if row is None:
                        continue
                    merged = {**json.loads(row[0]), **patch}
                    merged = {k: v for k, v in merged.items() if v is not None}
                    self._conn.execute(f"UPDATE {table} SET meta=? WHERE id=?", (json.dumps(merged), key))

    def put_artifact(self, name: str, payload: bytes) -> None:
        """Save a result computed from the current generation (topics, classifiers…)."""
        with write_lock(self.path), write_transaction(self._conn):
            self._conn.execute(
                "INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?)", (name, stored_generation(self._conn), payload)
            )
