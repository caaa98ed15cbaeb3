"""The Store: one directory holding ``meta.sqlite``, ``vectors-<gen>.faiss`` and ``bm25-<gen>/``.

Crash safety: every write is a :class:`WriteBatch`. SQLite changes happen inside one transaction;
the new FAISS and BM25 files are written under the *next* generation number (temp + fsync +
rename); only then does the transaction record that generation and commit. A failure at any
point before the commit rolls SQLite back and the old generation's files are untouched; a crash
after it leaves the new generation complete. Files of other generations are garbage on open.
"""

from __future__ import annotations

import fcntl
import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from indexing.errors import ConfigError, IndexNotFoundError
from indexing.manifest import Manifest
from indexing.store import vectors as vec
from indexing.store.files import remove_path
from indexing.store.lexical import LexicalIndex
from indexing.store.records import ChunkRecord, DocumentRecord
from indexing.store.schema import connect
from indexing.store.writer import WriteBatch

DB_NAME = "meta.sqlite"
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_COLUMNS = {"source": "d.file", "title": "d.title", "doc_id": "d.id"}


class Store:
    """An index directory. Use :meth:`open` or :meth:`create`; never mixes manifests.

    Example:
        >>> store = Store.create(Path("idx"), manifest)        # doctest: +SKIP
        >>> with store.batch() as batch:                         # doctest: +SKIP
        ...     batch.add_document(doc, "a.txt", chunks, vectors, texts)
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, manifest: Manifest) -> None:
        self.path = path
        self.conn = conn
        self.manifest = manifest
        self.generation = -1
        self.index = vec.empty_index(manifest.dimension)
        self._lexical: LexicalIndex | None = None
        self._load_generation(self._stored_generation())

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
        row = conn.execute("SELECT value FROM state WHERE key='manifest'").fetchone()
        if row is None:
            raise IndexNotFoundError(f"{path} holds no manifest: it is not a sift index; pick another --index")
        return cls(path, conn, Manifest.from_json(row[0]))

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
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT OR IGNORE INTO state VALUES ('manifest', ?)", (manifest.to_json(),))
            conn.execute("INSERT OR IGNORE INTO state VALUES ('generation', '0')")
            conn.execute("INSERT OR IGNORE INTO state VALUES ('next_chunk_id', '1')")
        (path / "manifest.json").write_text(json.dumps(json.loads(manifest.to_json()), indent=2))
        return cls(path, conn, manifest)

    def close(self) -> None:
        """Release the database handle."""
        self.conn.close()

    # ---- generations ---------------------------------------------------------------------
    def faiss_path(self, generation: int) -> Path:
        return self.path / f"vectors-{generation}.faiss"

    def bm25_path(self, generation: int) -> Path:
        return self.path / f"bm25-{generation}"

    def _stored_generation(self) -> int:
        return int(self.conn.execute("SELECT value FROM state WHERE key='generation'").fetchone()[0])

    def _load_generation(self, generation: int) -> None:
        path = self.faiss_path(generation)
        self.index = vec.load_index(path) if path.exists() else vec.empty_index(self.manifest.dimension)
        self._lexical = None
        self.generation = generation

    def refresh(self) -> None:
        """Pick up writes made by another process since this one loaded."""
        stored = self._stored_generation()
        if stored != self.generation:
            self._load_generation(stored)

    def collect_garbage(self) -> None:
        """Delete files of generations other than the current one (left by crashes or old writes)."""
        keep = {self.faiss_path(self.generation).name, self.bm25_path(self.generation).name}
        for child in self.path.iterdir():
            if child.name.startswith(("vectors-", "bm25-")) and child.name not in keep:
                remove_path(child)

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        with open(self.path / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def batch(self) -> Iterator[WriteBatch]:
        """A crash-safe write: everything in the block lands, or nothing does."""
        with self._write_lock():
            self.refresh()
            batch = WriteBatch(self)
            batch.begin()
            try:
                yield batch
                batch.commit()
            except BaseException:
                batch.rollback()
                self._load_generation(self._stored_generation())
                raise
            finally:
                try:  # under the lock, so no writer's uncommitted next generation is taken for garbage
                    self.collect_garbage()
                except OSError:
                    pass

    # ---- reads ---------------------------------------------------------------------------
    def count_documents(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    def count_chunks(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def count_leads(self) -> int:
        """Lead vectors held (one per document whose first sentence gives one)."""
        self.refresh()
        return vec.count_leads(self.index)

    def lead_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """chunk id → its lead vector, for those of ``ids`` that have one."""
        self.refresh()
        held = set(vec.all_lead_chunk_ids(self.index).tolist())
        return {int(i): self.index.reconstruct(int(i) + vec.LEAD_ID_OFFSET) for i in ids if int(i) in held}

    def files(self) -> dict[str, str]:
        """Indexed file path → content hash."""
        return dict(self.conn.execute("SELECT path, hash FROM files").fetchall())

    def document_hashes(self, file: str) -> dict[str, str]:
        """Document id → hash for the documents of one file."""
        return dict(self.conn.execute("SELECT id, hash FROM documents WHERE file=?", (file,)).fetchall())

    def documents(self, limit: int | None = None, offset: int = 0) -> list[DocumentRecord]:
        """Documents without their text, ordered by source then id."""
        sql = (
            "SELECT d.id, d.file, d.title, d.hash, COUNT(c.id), d.meta FROM documents d "
            "LEFT JOIN chunks c ON c.doc_id = d.id GROUP BY d.id ORDER BY d.file, d.id LIMIT ? OFFSET ?"
        )
        rows = self.conn.execute(sql, (limit if limit is not None else -1, offset)).fetchall()
        return [DocumentRecord(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def get_document(self, doc_id: str) -> DocumentRecord | None:
        """One document with its full text, or None."""
        row = self.conn.execute(
            "SELECT d.id, d.file, d.title, d.hash, (SELECT COUNT(*) FROM chunks WHERE doc_id=d.id), d.meta, d.text "
            "FROM documents d WHERE d.id=?",
            (doc_id,),
        ).fetchone()
        if row is None:
            return None
        return DocumentRecord(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6])

    def get_chunks(self, ids: Sequence[int]) -> list[ChunkRecord]:
        """Chunk records in the order of ``ids`` (unknown ids are skipped)."""
        found: dict[int, ChunkRecord] = {}
        id_list = [int(i) for i in ids]
        for start in range(0, len(id_list), 900):  # SQLite's bound-parameter limit
            part = id_list[start : start + 900]
            marks = ",".join("?" * len(part))
            sql = (
                'SELECT c.id, c.doc_id, c.ordinal, c.text, c.start, c."end", d.file, d.title, d.meta, c.meta '
                f"FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id IN ({marks})"
            )
            for r in self.conn.execute(sql, part):
                meta = {**json.loads(r[8]), **json.loads(r[9])}
                found[r[0]] = ChunkRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], meta)
        return [found[i] for i in id_list if i in found]

    def meta_values(self, key: str, limit: int = 200) -> list[str]:
        """Distinct values of a metadata key over chunks (chunk value, else document value), most frequent first."""
        if not _KEY.match(key):
            raise ConfigError(f"metadata key {key!r} is not valid: use letters, digits, '_' or '-'")
        path = f'$."{key}"'
        sql = (
            "SELECT v, COUNT(*) AS n FROM (SELECT CAST(COALESCE(json_extract(c.meta, ?), "
            "json_extract(d.meta, ?)) AS TEXT) v FROM chunks c JOIN documents d ON d.id = c.doc_id) "
            "WHERE v IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT ?"
        )
        return [r[0] for r in self.conn.execute(sql, (path, path, limit))]

    def vectors(self, ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids int64 (n,), vectors float32 (n, d)) for the given chunk ids, or all of them."""
        self.refresh()
        id_arr = vec.all_ids(self.index) if ids is None else np.asarray(ids, dtype=np.int64)
        return id_arr, vec.reconstruct(self.index, id_arr)

    def filter_ids(self, where: dict[str, str] | None = None, source_glob: str | None = None) -> np.ndarray | None:
        """Chunk ids whose metadata matches every ``key=value`` (chunk or document level), or None for no filter.

        Keys ``source``, ``title`` and ``doc_id`` match the document's own fields.

        Raises:
            ConfigError: a key with characters other than letters, digits, ``_`` and ``-``.
        """
        if not where and not source_glob:
            return None
        clauses, params = self._where_clauses(where or {})
        if source_glob:
            clauses.append("d.file GLOB ?")
            params.append(source_glob if any(ch in source_glob for ch in "*?[") else f"*{source_glob}*")
        sql = "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE " + " AND ".join(clauses)
        return np.fromiter((r[0] for r in self.conn.execute(sql, params)), dtype=np.int64)

    @staticmethod
    def _where_clauses(where: dict[str, str]) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for key, value in where.items():
            if not _KEY.match(key):
                raise ConfigError(f"metadata key {key!r} is not valid: use letters, digits, '_' or '-'")
            if key in _COLUMNS:
                clauses.append(f"{_COLUMNS[key]} = ?")
                params.append(value)
                continue
            path = f'$."{key}"'
            clauses.append("CAST(COALESCE(json_extract(c.meta, ?), json_extract(d.meta, ?)) AS TEXT) = ?")
            params.extend([path, path, str(value)])
        return clauses, params

    def search_dense(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[list[tuple[int, float]]]:
        """Exact cosine top-k per query row: ``[[(chunk_id, score), ...], ...]``.

        A chunk with a lead vector scores the higher of its two cosines.
        """
        self.refresh()
        q = vec.check_vectors(np.atleast_2d(queries), self.manifest.dimension, "query vectors")
        if self.index.ntotal == 0 or (allowed is not None and len(allowed) == 0):
            return [[] for _ in range(len(q))]
        scores, ids = vec.search(self.index, q, k, allowed)
        return [[(int(i), float(s)) for i, s in zip(row_i, row_s) if i >= 0] for row_i, row_s in zip(ids, scores)]

    def lexical(self) -> LexicalIndex:
        """The BM25 index of the current generation (loaded once)."""
        self.refresh()
        if self._lexical is None:
            path = self.bm25_path(self.generation)
            self._lexical = LexicalIndex.load(path) if path.exists() else LexicalIndex.build([], [])
        return self._lexical

    # ---- metadata and artifacts -------------------------------------------------------------
    def update_meta(
        self, chunk_meta: dict[int, dict[str, Any]] | None = None, doc_meta: dict[str, dict[str, Any]] | None = None
    ) -> None:
        """Merge keys into chunk/document metadata in one transaction; a None value deletes the key.

        Metadata changes do not bump the generation: vectors and text are unchanged.
        """
        with self._write_lock():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for table, updates in (("chunks", chunk_meta or {}), ("documents", doc_meta or {})):
                    for key, patch in updates.items():
                        row = self.conn.execute(f"SELECT meta FROM {table} WHERE id=?", (key,)).fetchone()
                        if row is None:
                            continue
                        merged = {**json.loads(row[0]), **patch}
                        merged = {k: v for k, v in merged.items() if v is not None}
                        self.conn.execute(f"UPDATE {table} SET meta=? WHERE id=?", (json.dumps(merged), key))
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    def put_artifact(self, name: str, payload: bytes) -> None:
        """Save a result computed from the current generation (topics, classifiers…)."""
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?)", (name, self._stored_generation(), payload)
            )

    def get_artifact(self, name: str) -> tuple[int, bytes] | None:
        """(generation it was computed on, payload), or None."""
        row = self.conn.execute("SELECT generation, payload FROM artifacts WHERE name=?", (name,)).fetchone()
        return (int(row[0]), bytes(row[1])) if row else None
