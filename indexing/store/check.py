"""What `sift doctor` checks in an index directory, without loading any model.

Checks: the manifest (database row and ``manifest.json`` agree), SQLite's own integrity and foreign keys,
the committed segments' files (present, readable, the manifest's dimension), live vector ids (segments' ids
minus tombstones) against the chunk rows, lead vectors against first chunks, live BM25 rows against the chunk
rows, and segment files no commit lists. Each finding says whether ``--repair`` can fix it.

Example:
    >>> [p.code for p in check_index(Path("data/index")).problems]     # doctest: +SKIP
    ['bm25_rows']
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexing.errors import IndexCorruptError
from indexing.manifest import Manifest
from indexing.store import vectors as vec
from indexing.store.generation import load_segment
from indexing.store.legacy import garbage
from indexing.store.schema import DB_NAME, missing_tables
from indexing.store.segment import segment_dirs
from indexing.store.segment_vectors import VectorSegment
from indexing.store.state import MANIFEST_FILE, committed, read_manifest_json


@dataclass(frozen=True)
class Problem:
    """One thing wrong, e.g. ``Problem("vectors_missing_rows", "3 chunks have no vector", True)``."""

    code: str
    message: str
    repairable: bool

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "repairable": self.repairable}


@dataclass
class Findings:
    """The checks' results; the sets say which chunks a repair must touch."""

    index_dir: Path
    generation: int = 0
    chunks: int = 0
    problems: list[Problem] = field(default_factory=list)
    missing_vectors: set[int] = field(default_factory=set)  # chunk rows without a vector
    extra_vectors: set[int] = field(default_factory=set)  # vectors (chunk or lead ids) without a chunk row
    rebuild_bm25: bool = False
    damaged_segments: list[str] = field(default_factory=list)  # committed segments whose files do not read
    garbage: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # not damage (a healthy index may have them)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def add(self, code: str, message: str, repairable: bool = True) -> None:
        self.problems.append(Problem(code, message, repairable))


def check_index(index_dir: Path) -> Findings:
    """Run every check on the index at ``index_dir`` (read only)."""
    index_dir = Path(index_dir)
    found = Findings(index_dir)
    conn = sqlite3.connect(f"file:{index_dir / DB_NAME}?mode=ro", uri=True)
    try:
        manifest = _check_manifest(conn, index_dir, found)
        _check_sqlite(conn, found)
        if {"segments", "tombstones"} & missing_tables(conn):  # asked once: every read below assumes them
            found.add("format", f"{index_dir} was written before segments: open it once (e.g. `sift info --index "
                      f"{index_dir}`) and it is converted", False)
            return found
        rows = np.fromiter((r[0] for r in conn.execute("SELECT id FROM chunks")), dtype=np.int64)
        firsts = {r[0] for r in conn.execute("SELECT id FROM chunks WHERE ordinal=0")}
        found.generation, names, dead = committed(conn)
        found.chunks = len(rows)
        if manifest is not None:
            _check_segments(index_dir, manifest, names, dead, set(rows.tolist()), firsts, found)
        found.garbage = [p.name for p in garbage(index_dir, conn)]
    finally:
        conn.close()
    if found.garbage:  # what a killed writer or a merge leaves: harmless, never read, deleted by the next write
        found.notes.append(f"{len(found.garbage)} file(s) no commit lists (unfinished writes, merged segments): "
                           f"{', '.join(found.garbage[:5])}")
    return found


def _check_manifest(conn: sqlite3.Connection, index_dir: Path, found: Findings) -> Manifest | None:
    stored = read_manifest_json(conn)
    if stored is None:
        found.add("manifest", f"{index_dir / DB_NAME} holds no manifest: not a sift index", False)
        return None
    try:
        manifest = Manifest.from_json(stored)
    except (ValueError, TypeError, KeyError) as exc:
        found.add("manifest", f"the manifest in {index_dir / DB_NAME} cannot be read ({exc})", False)
        return None
    copy = index_dir / MANIFEST_FILE
    try:
        same = json.loads(copy.read_text()) == json.loads(stored)  # as stored: older manifests lack newer fields
    except (OSError, ValueError):
        same = False
    if not same:
        found.add("manifest_copy", f"{copy} is missing or differs from the database's manifest")
    return manifest


def _check_sqlite(conn: sqlite3.Connection, found: Findings) -> None:
    result = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    if result != ["ok"]:
        found.add("sqlite", f"SQLite integrity check failed: {'; '.join(result[:3])}; rebuild the index with "
                  "`sift index` into a new --index directory", False)
    orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
    if orphans:
        found.add("orphans", f"{len(orphans)} row(s) point at documents or files that are gone")


def _check_segments(
    index_dir: Path, manifest: Manifest, names: list[str], dead: dict[str, np.ndarray], rows: set[int],
    firsts: set[int], found: Findings,
) -> None:
    vector_ids: list[np.ndarray] = []
    lexical_ids: list[np.ndarray] = []
    for name in names:
        gone = dead.get(name, np.zeros(0, dtype=np.int64))
        try:
            segment = load_segment(index_dir, name, manifest.dimension)
        except IndexCorruptError as exc:
            found.add("segment_files", str(exc))
            found.damaged_segments.append(name)
            try:  # only its BM25 may be damaged: its vectors still count
                vectors = VectorSegment.load(segment_dirs(index_dir, name)[0], manifest.dimension)
            except (IndexCorruptError, OSError, ValueError):
                continue
            vector_ids.append(vectors.ids[~np.isin(vectors.ids, gone)])
            continue
        vector_ids.append(segment.vectors.ids[~np.isin(segment.vectors.ids, gone)])
        lexical_ids.append(segment.lexical.ids[~np.isin(segment.lexical.ids, gone)])
    held = np.concatenate(vector_ids) if vector_ids else np.zeros(0, dtype=np.int64)
    if len(np.unique(held)) != len(held):
        found.add("vectors_duplicate", f"{len(held) - len(np.unique(held))} vector id(s) are held by two segments")
    _compare_vectors(held, rows, firsts, found)
    lexical = np.concatenate(lexical_ids) if lexical_ids else np.zeros(0, dtype=np.int64)
    if found.damaged_segments or sorted(lexical.tolist()) != sorted(rows):
        found.rebuild_bm25 = True
        if not found.damaged_segments:
            found.add("bm25_rows", f"BM25 holds {len(lexical)} live rows, the database {len(rows)} chunks")


def _compare_vectors(held_ids: np.ndarray, rows: set[int], firsts: set[int], found: Findings) -> None:
    held = set(held_ids[held_ids < vec.LEAD_ID_OFFSET].tolist())
    leads = set((held_ids[held_ids >= vec.LEAD_ID_OFFSET] - vec.LEAD_ID_OFFSET).tolist())
    found.missing_vectors = rows - held
    found.extra_vectors = (held - rows) | {i + vec.LEAD_ID_OFFSET for i in leads - (rows & firsts)}
    if found.missing_vectors:
        found.add("vectors_missing", f"{len(found.missing_vectors)} chunk(s) have no vector")
    if found.extra_vectors:
        found.add("vectors_extra", f"{len(found.extra_vectors)} vector(s) belong to no chunk")
