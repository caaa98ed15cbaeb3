"""The Store's reads of SQLite rows: files, documents, chunks, statuses, metadata and artifacts.

A mixin of :class:`~indexing.store.store.Store`, kept in its own module so the store itself holds only opening,
generations and writes. Every read goes through ``_q``, the reading thread's connection (inside
:meth:`Store.snapshot`, its read transaction), so rows and vectors come from the same committed generation.

Example:
    >>> store.get_chunks([3, 1])[0].id                           # doctest: +SKIP
    3
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np

from indexing.filters import DOCUMENT_FIELDS, check_key
from indexing.store.records import ChunkRecord, DocumentRecord, FileStatus, check_status

_COLUMNS = {"source": "d.file", "title": "d.title", "doc_id": "d.id"}
assert set(_COLUMNS) == DOCUMENT_FIELDS  # one rule for the fields filters match on (indexing.filters)


class RowReads:
    """Row reads over ``_q(sql, params)``, which the class using this mixin provides."""

    def _q(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        raise NotImplementedError

    def count_documents(self) -> int:
        return int(self._q("SELECT COUNT(*) FROM documents").fetchone()[0])

    def count_chunks(self) -> int:
        return int(self._q("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def files(self) -> dict[str, str]:
        """Indexed file path → content hash."""
        return dict(self._q("SELECT path, hash FROM files").fetchall())

    def document_hashes(self, file: str) -> dict[str, str]:
        """Document id → hash for the documents of one file."""
        return dict(self._q("SELECT id, hash FROM documents WHERE file=?", (file,)).fetchall())

    def file_statuses(self, status: str | None = None) -> list[FileStatus]:
        """The latest status of every file syncs considered (or only those with ``status``), by path.

        Raises:
            ConfigError: ``status`` is not one of ``FILE_STATUSES``.
        """
        where, params = ("WHERE status=?", (check_status(status),)) if status is not None else ("", ())
        sql = f"SELECT path, status, reason, documents, updated_at FROM file_status {where} ORDER BY path"
        return [FileStatus(*row) for row in self._q(sql, params)]

    def documents(self, limit: int | None = None, offset: int = 0) -> list[DocumentRecord]:
        """Documents without their text, ordered by source then id."""
        sql = (
            "SELECT d.id, d.file, d.title, d.hash, COUNT(c.id), d.meta FROM documents d "
            "LEFT JOIN chunks c ON c.doc_id = d.id GROUP BY d.id ORDER BY d.file, d.id LIMIT ? OFFSET ?"
        )
        rows = self._q(sql, (limit if limit is not None else -1, offset)).fetchall()
        return [DocumentRecord(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def get_document(self, doc_id: str) -> DocumentRecord | None:
        """One document with its full text, or None."""
        row = self._q(
            "SELECT d.id, d.file, d.title, d.hash, (SELECT COUNT(*) FROM chunks WHERE doc_id=d.id), d.meta, d.text "
            "FROM documents d WHERE d.id=?",
            (doc_id,),
        ).fetchone()
        if row is None:
            return None
        return DocumentRecord(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6])

    def chunk_ids(self) -> np.ndarray:
        """Every chunk id, ascending (int64)."""
        return np.fromiter((r[0] for r in self._q("SELECT id FROM chunks ORDER BY id")), dtype=np.int64)

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
            for r in self._q(sql, part):
                meta = {**json.loads(r[8]), **json.loads(r[9])}
                found[r[0]] = ChunkRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], meta)
        return [found[i] for i in id_list if i in found]

    def meta_values(self, key: str, limit: int = 200) -> list[str]:
        """Distinct values of a metadata key over chunks (chunk value, else document value), most frequent first."""
        check_key(key)
        path = f'$."{key}"'
        sql = (
            "SELECT v, COUNT(*) AS n FROM (SELECT CAST(COALESCE(json_extract(c.meta, ?), "
            "json_extract(d.meta, ?)) AS TEXT) v FROM chunks c JOIN documents d ON d.id = c.doc_id) "
            "WHERE v IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT ?"
        )
        return [r[0] for r in self._q(sql, (path, path, limit))]

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
        return np.fromiter((r[0] for r in self._q(sql, params)), dtype=np.int64)

    @staticmethod
    def _where_clauses(where: dict[str, str]) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for key, value in where.items():
            check_key(key)
            if key in _COLUMNS:
                clauses.append(f"{_COLUMNS[key]} = ?")
                params.append(value)
                continue
            path = f'$."{key}"'
            clauses.append("CAST(COALESCE(json_extract(c.meta, ?), json_extract(d.meta, ?)) AS TEXT) = ?")
            params.extend([path, path, str(value)])
        return clauses, params

    def get_artifact(self, name: str) -> tuple[int, bytes] | None:
        """(generation it was computed on, payload), or None."""
        row = self._q("SELECT generation, payload FROM artifacts WHERE name=?", (name,)).fetchone()
        return (int(row[0]), bytes(row[1])) if row else None
