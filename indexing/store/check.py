"""What `sift doctor` checks in an index directory, without loading any model.

Checks: the manifest (database row and ``manifest.json`` agree), SQLite's own integrity and foreign keys,
the committed generation's files (present, readable, the manifest's dimension), FAISS ids against the
chunk rows, lead vectors against first chunks, BM25 rows against the chunk rows, and files of other
generations left behind. Each finding says whether ``--repair`` can fix it.

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
from indexing.store import generation as gen_files
from indexing.store import vectors as vec

DB_NAME = "meta.sqlite"


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
    vectors_lost: bool = False  # the vectors file itself is gone or unreadable
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
        rows = np.fromiter((r[0] for r in conn.execute("SELECT id FROM chunks")), dtype=np.int64)
        firsts = {r[0] for r in conn.execute("SELECT id FROM chunks WHERE ordinal=0")}
        found.generation = int(conn.execute("SELECT value FROM state WHERE key='generation'").fetchone()[0])
    finally:
        conn.close()
    found.chunks = len(rows)
    if manifest is not None:
        _check_generation(index_dir, manifest, set(rows.tolist()), firsts, found)
    number = found.generation
    keep = {gen_files.faiss_path(index_dir, number).name, gen_files.bm25_path(index_dir, number).name}
    found.garbage = sorted(p.name for p in index_dir.iterdir()
                           if p.name.startswith(("vectors-", "bm25-")) and p.name not in keep)
    if found.garbage:  # what a killed writer leaves: harmless, never read, deleted by the next write or --repair
        found.notes.append(f"{len(found.garbage)} file(s) of other generations or unfinished writes: "
                           f"{', '.join(found.garbage[:5])}")
    return found


def _check_manifest(conn: sqlite3.Connection, index_dir: Path, found: Findings) -> Manifest | None:
    row = conn.execute("SELECT value FROM state WHERE key='manifest'").fetchone()
    if row is None:
        found.add("manifest", f"{index_dir / DB_NAME} holds no manifest: not a sift index", False)
        return None
    try:
        manifest = Manifest.from_json(row[0])
    except (ValueError, TypeError, KeyError) as exc:
        found.add("manifest", f"the manifest in {index_dir / DB_NAME} cannot be read ({exc})", False)
        return None
    copy = index_dir / "manifest.json"
    try:
        same = json.loads(copy.read_text()) == json.loads(manifest.to_json())
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


def _check_generation(index_dir: Path, manifest: Manifest, rows: set[int], firsts: set[int], found: Findings) -> None:
    number = found.generation
    lexical_ids: np.ndarray | None = None
    try:
        generation = gen_files.load(index_dir, number, manifest.dimension)
    except IndexCorruptError as exc:
        found.add("generation_files", str(exc))
        found.rebuild_bm25 = True
        vectors = readable_vectors(gen_files.faiss_path(index_dir, number), manifest.dimension)
        if vectors is None:
            found.vectors_lost = True
            found.missing_vectors = set(rows)
            return
    else:
        vectors, lexical_ids = generation.vectors, generation.lexical.ids
    _compare_vectors(vectors, rows, firsts, found)
    if lexical_ids is not None and sorted(lexical_ids.tolist()) != sorted(rows):
        found.rebuild_bm25 = True
        found.add("bm25_rows", f"BM25 holds {len(lexical_ids)} rows, the database {len(rows)} chunks")


def _compare_vectors(vectors: Any, rows: set[int], firsts: set[int], found: Findings) -> None:
    held = set(vec.all_ids(vectors).tolist())
    leads = set(vec.all_lead_chunk_ids(vectors).tolist())
    found.missing_vectors = rows - held
    found.extra_vectors = (held - rows) | {i + vec.LEAD_ID_OFFSET for i in leads - (rows & firsts)}
    if found.missing_vectors:
        found.add("vectors_missing", f"{len(found.missing_vectors)} chunk(s) have no vector")
    if found.extra_vectors:
        found.add("vectors_extra", f"{len(found.extra_vectors)} vector(s) belong to no chunk")


def readable_vectors(path: Path, dimension: int) -> Any:
    """The FAISS index in ``path`` when it reads and has ``dimension``; None otherwise."""
    try:
        index = vec.load_index(path)
    except RuntimeError:
        return None
    return index if index.d == dimension else None
