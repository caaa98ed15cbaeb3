"""`sift doctor`: find damage in an index and repair what can be rebuilt from its database.

Repairs, all committed as one new generation under the write lock: the ``manifest.json`` copy rewritten
from the database; rows whose document or file is gone deleted; vectors that belong to no chunk removed;
chunks without a vector re-embedded (only those, with the same title header the indexer gives them, and
their lead vectors where they are a document's first chunk); BM25 rebuilt from the stored texts; files of
other generations deleted. A damaged SQLite database is reported, not repaired: its rows are the source
everything else is rebuilt from.

Example:
    >>> report = run_doctor(Path("data/index"), Embedder, repair=True)    # doctest: +SKIP
    >>> report.repaired                                                    # doctest: +SKIP
    ['re-embedded 12 chunk(s) (3 lead vector(s))', 'rebuilt BM25 over 10330 chunk(s)']
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexing.embedder import Embedder
from indexing.lead import lead_text
from indexing.manifest import Manifest
from indexing.store import generation as gen_files
from indexing.store import vectors as vec
from indexing.store.check import Findings, check_index, readable_vectors
from indexing.store.files import remove_path
from indexing.store.lock import write_lock
from indexing.store.schema import connect
from indexing.store.writer import build_lexical


@dataclass
class DoctorReport:
    """What was found, what was done, and what a second check found after the repair."""

    before: Findings
    repaired: list[str] = field(default_factory=list)
    after: Findings | None = None

    @property
    def healthy(self) -> bool:
        """True when the index is (now) free of problems."""
        return (self.after or self.before).healthy

    def to_dict(self) -> dict[str, Any]:
        return {
            "index_dir": str(self.before.index_dir), "healthy": self.healthy,
            "generation": (self.after or self.before).generation, "chunks": self.before.chunks,
            "problems": [p.to_dict() for p in self.before.problems], "notes": self.before.notes,
            "repaired": self.repaired,
            "remaining": [p.to_dict() for p in self.after.problems] if self.after else None,
        }


def run_doctor(index_dir: Path, embedder: Callable[[str], Embedder], repair: bool = False) -> DoctorReport:
    """Check the index and, with ``repair``, fix what can be fixed, then check again.

    Args:
        index_dir: the index.
        embedder: model name → embedder (called only when chunks must be re-embedded).
        repair: change the index; without it the index is only read.
    """
    report = DoctorReport(check_index(index_dir))
    wanted = any(p.repairable for p in report.before.problems) or report.before.garbage
    if repair and wanted:
        with write_lock(Path(index_dir)):
            report.repaired = _repair(Path(index_dir), check_index(index_dir), embedder)
        report.after = check_index(index_dir)
    return report


def _repair(index_dir: Path, found: Findings, embedder: Callable[[str], Embedder]) -> list[str]:
    done: list[str] = []
    conn = connect(str(index_dir / "meta.sqlite"))
    try:
        manifest = Manifest.from_json(conn.execute("SELECT value FROM state WHERE key='manifest'").fetchone()[0])
        codes = {p.code for p in found.problems}
        if "manifest_copy" in codes:
            (index_dir / "manifest.json").write_text(json.dumps(json.loads(manifest.to_json()), indent=2))
            done.append("rewrote manifest.json from the database")
        conn.execute("BEGIN IMMEDIATE")
        done += _delete_orphans(conn, found)
        rows = {r[0] for r in conn.execute("SELECT id FROM chunks")}
        vectors, changed = _fixed_vectors(index_dir, manifest, found, conn, rows, embedder, done)
        if changed or found.rebuild_bm25 or "orphans" in codes:
            number = found.generation + 1
            vec.save_index(vectors, gen_files.faiss_path(index_dir, number))
            build_lexical(conn).save(gen_files.bm25_path(index_dir, number))
            conn.execute("UPDATE state SET value=? WHERE key='generation'", (str(number),))
            done.append(f"rebuilt BM25 over {len(rows)} chunk(s); committed generation {number}")
        conn.execute("COMMIT")
        done += _collect_garbage(index_dir, conn)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    return done


def _delete_orphans(conn: Any, found: Findings) -> list[str]:
    if not any(p.code == "orphans" for p in found.problems):
        return []
    orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
    for table, rowid, *_ in orphans:
        conn.execute(f"DELETE FROM {table} WHERE rowid=?", (rowid,))
    return [f"deleted {len(orphans)} row(s) whose document or file was gone"]


def _fixed_vectors(
    index_dir: Path, manifest: Manifest, found: Findings, conn: Any, rows: set[int],
    embedder: Callable[[str], Embedder], done: list[str],
) -> tuple[Any, bool]:
    """The generation's vectors with extras removed and missing chunks re-embedded; and whether anything changed."""
    path = gen_files.faiss_path(index_dir, found.generation)
    vectors = None if found.vectors_lost else readable_vectors(path, manifest.dimension)
    if vectors is None:
        vectors = vec.empty_index(manifest.dimension)
    held = set(vec.all_ids(vectors).tolist())
    extra = [i for i in found.extra_vectors if i >= vec.LEAD_ID_OFFSET or i not in rows]
    extra += [i for i in held if i not in rows and i not in extra]
    if extra:
        vectors.remove_ids(np.asarray(sorted(set(extra)), dtype=np.int64))
        done.append(f"removed {len(set(extra))} vector(s) that belonged to no chunk")
    missing = sorted(rows - set(vec.all_ids(vectors).tolist()))
    if missing:
        leads = _reembed(conn, vectors, missing, manifest, embedder)
        done.append(f"re-embedded {len(missing)} chunk(s) ({leads} lead vector(s))")
    return vectors, bool(extra or missing)


def _reembed(conn: Any, vectors: Any, ids: list[int], manifest: Manifest, embedder: Callable[[str], Embedder]) -> int:
    """Embed chunks ``ids`` as the indexer does (title header + text) into ``vectors``; returns lead vectors added."""
    from indexing.sync import Syncer  # the indexer's own header rule, so re-embedded vectors match

    model = embedder(manifest.embedding_model)
    syncer = Syncer(Path("."), model)
    marks = ",".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT c.id, c.ordinal, c.text, d.title, d.text FROM chunks c JOIN documents d ON d.id = c.doc_id "
        f"WHERE c.id IN ({marks}) ORDER BY c.id", ids,
    ).fetchall() if len(ids) <= 900 else _rows_in_parts(conn, ids)
    encoded = model.encode([syncer.embed_text(r[3], r[2]) for r in rows], show_progress=len(rows) > 64)
    vectors.add_with_ids(encoded, np.asarray([r[0] for r in rows], dtype=np.int64))
    if not manifest.lead_vectors:
        return 0
    firsts = [(n, lead_text(r[3], r[4])) for n, r in enumerate(rows) if r[1] == 0]
    firsts = [(n, text) for n, text in firsts if text]
    if not firsts:
        return 0
    mixed = encoded[[n for n, _ in firsts]] + model.encode([text for _, text in firsts])
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    held = set(vec.all_lead_chunk_ids(vectors).tolist())
    fresh = [(rows[n][0], m) for (n, _), m in zip(firsts, mixed, strict=True) if rows[n][0] not in held]
    if fresh:
        vectors.add_with_ids(np.vstack([m for _, m in fresh]), vec.lead_ids(np.asarray([i for i, _ in fresh])))
    return len(fresh)


def _rows_in_parts(conn: Any, ids: list[int]) -> list[tuple]:  # type: ignore[type-arg]
    out = []
    for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
        part = ids[start : start + 900]
        out += conn.execute(
            "SELECT c.id, c.ordinal, c.text, d.title, d.text FROM chunks c JOIN documents d ON d.id = c.doc_id "
            f"WHERE c.id IN ({','.join('?' * len(part))}) ORDER BY c.id", part,
        ).fetchall()
    return out


def _collect_garbage(index_dir: Path, conn: Any) -> list[str]:
    number = int(conn.execute("SELECT value FROM state WHERE key='generation'").fetchone()[0])
    keep = {gen_files.faiss_path(index_dir, number).name, gen_files.bm25_path(index_dir, number).name}
    gone = [p for p in index_dir.iterdir() if p.name.startswith(("vectors-", "bm25-")) and p.name not in keep]
    for path in gone:
        remove_path(path)
    return [f"deleted {len(gone)} file(s) of other generations"] if gone else []
