"""`sift doctor`: find damage in an index and repair what can be rebuilt from its database.

Repairs, all committed as one new generation under the write lock: the ``manifest.json`` copy rewritten
from the database; rows whose document or file is gone deleted; then every readable vector of a live chunk
is kept (nothing that reads is re-embedded), vectors that belong to no chunk are dropped, chunks without a
vector (a damaged segment's, say) are re-embedded (only those, with the manifest's model and weights, fp32 or
int8, the same title header the indexer gives them, and their lead vectors where they are a document's first
chunk), BM25 is rebuilt from the stored
texts, and all of it is written as one segment replacing the old ones; files no commit lists are deleted.
A damaged SQLite database is reported, not repaired: its rows are the source
everything else is rebuilt from.

Example:
    >>> report = run_doctor(Path("data/index"), Embedder, repair=True)    # doctest: +SKIP
    >>> report.repaired                                                    # doctest: +SKIP
    ['re-embedded 12 chunk(s) (3 lead vector(s))', 'rebuilt BM25 over 10330 chunk(s)']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexing.embedder import Embedder
from indexing.errors import IndexCorruptError
from indexing.lead import lead_text, mix
from indexing.manifest import Manifest
from indexing.store import vectors as vec
from indexing.store.check import Findings, check_index
from indexing.store.files import remove_path
from indexing.store.generation import committed, segment_dirs
from indexing.store.legacy import garbage
from indexing.store.lock import write_lock
from indexing.store.merging import write_segment
from indexing.store.schema import connect
from indexing.store.segment_vectors import VectorSegment, choose_kind
from indexing.store.state import (
    list_segment,
    next_segment_name,
    read_manifest,
    segment_names,
    set_generation,
    unlist_segments,
    write_manifest_copy,
    write_transaction,
)
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
        manifest = read_manifest(conn)
        if manifest is None:
            raise IndexCorruptError(f"{index_dir}: the database holds no manifest; rebuild the index with `sift index`")
        codes = {p.code for p in found.problems}
        if "manifest_copy" in codes:
            write_manifest_copy(index_dir, conn)
            done.append("rewrote manifest.json from the database")
        with write_transaction(conn):
            done += _delete_orphans(conn, found)
            if codes - {"manifest_copy"}:
                done += _rewrite(index_dir, manifest, conn, embedder)
        gone = garbage(index_dir, conn)
        for path in gone:
            remove_path(path)
        if gone:
            done.append(f"deleted {len(gone)} file(s) no commit lists")
    finally:
        conn.close()
    return done


def _rewrite(index_dir: Path, manifest: Manifest, conn: Any, embedder: Callable[[str], Embedder]) -> list[str]:
    """Write every live chunk's vectors and BM25 rows as one new segment that replaces all others."""
    done: list[str] = []
    rows = {r[0] for r in conn.execute("SELECT id FROM chunks")}
    firsts = {r[0] for r in conn.execute("SELECT id FROM chunks WHERE ordinal=0")}
    number, names, dead = committed(conn)
    kept_ids: list[np.ndarray] = []
    kept_vectors: list[np.ndarray] = []
    held, dropped = set(), 0
    for name in names:
        try:  # a segment whose BM25 is damaged still has good vectors: keep them
            vectors = VectorSegment.load(segment_dirs(index_dir, name)[0], manifest.dimension)
        except (IndexCorruptError, OSError, ValueError):
            continue
        ids = vectors.ids[~np.isin(vectors.ids, dead.get(name, np.zeros(0, np.int64)))]
        chunk = np.where(ids >= vec.LEAD_ID_OFFSET, ids - vec.LEAD_ID_OFFSET, ids)
        wanted = np.array([
            (int(c) in rows and (i < vec.LEAD_ID_OFFSET or int(c) in firsts) and int(i) not in held)
            for i, c in zip(ids, chunk, strict=True)
        ], dtype=bool)
        dropped += int((~wanted).sum())
        held.update(ids[wanted].tolist())
        kept_ids.append(ids[wanted])
        kept_vectors.append(vectors.reconstruct(ids[wanted]))
    if dropped:
        done.append(f"removed {dropped} vector(s) that belonged to no chunk")
    missing = sorted(rows - held)
    if missing:
        ids, vectors = _reembed(conn, missing, manifest, embedder, held)
        kept_ids.append(ids)
        kept_vectors.append(vectors)
        leads = int((ids >= vec.LEAD_ID_OFFSET).sum())
        done.append(f"re-embedded {len(missing)} chunk(s) ({leads} lead vector(s))")
    all_ids = np.concatenate(kept_ids) if kept_ids else np.zeros(0, dtype=np.int64)
    all_vectors = np.vstack(kept_vectors) if kept_vectors else np.zeros((0, manifest.dimension), np.float32)
    name = next_segment_name(conn)
    segment = write_segment(
        index_dir, name, VectorSegment.build(all_ids, all_vectors, choose_kind(manifest.vector_index, len(all_ids))),
        build_lexical(conn),
    )
    unlist_segments(conn, segment_names(conn))
    list_segment(conn, segment, number + 1)
    set_generation(conn, number + 1)
    done.append(f"rebuilt BM25 over {len(rows)} chunk(s); wrote {len(all_ids)} vector(s) as {name}; "
                f"committed generation {number + 1}")
    return done


def _delete_orphans(conn: Any, found: Findings) -> list[str]:
    if not any(p.code == "orphans" for p in found.problems):
        return []
    orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
    for table, rowid, *_ in orphans:
        conn.execute(f"DELETE FROM {table} WHERE rowid=?", (rowid,))
    return [f"deleted {len(orphans)} row(s) whose document or file was gone"]


def _reembed(
    conn: Any, ids: list[int], manifest: Manifest, embedder: Callable[[str], Embedder], held: set[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Embed chunks ``ids`` as the indexer does (title header + text), with the lead vectors of first chunks
    that have none in ``held``; returns (vector ids, vectors)."""
    from indexing.sync import Syncer  # the indexer's own header rule, so re-embedded vectors match

    model = _index_embedder(manifest, embedder)
    syncer = Syncer(Path("."), model)
    rows = _rows_in_parts(conn, ids)
    encoded = model.encode([syncer.embed_text(r[3], r[2]) for r in rows], show_progress=len(rows) > 64)
    out_ids = [np.asarray([r[0] for r in rows], dtype=np.int64)]
    out_vectors = [encoded]
    if manifest.leads:
        firsts = [(n, lead_text(r[3], r[4], manifest.leads)) for n, r in enumerate(rows) if r[1] == 0]
        firsts = [(n, text) for n, text in firsts if text and rows[n][0] + vec.LEAD_ID_OFFSET not in held]
        if firsts:
            mixed = mix(encoded[[n for n, _ in firsts]], model.encode([text for _, text in firsts]))
            out_ids.append(vec.lead_ids(np.asarray([rows[n][0] for n, _ in firsts])))
            out_vectors.append(mixed.astype(np.float32))
    return np.concatenate(out_ids), np.vstack(out_vectors).astype(np.float32)


def _index_embedder(manifest: Manifest, embedder: Callable[[str], Embedder]) -> Embedder:
    """The manifest's model with the manifest's weights: ``embedder(model)``, or, where that one runs other
    weights (an int8 index, an fp32 embedder), an :class:`Embedder` of the same model, device and batch size
    with ``manifest.quantize``. Re-embedded vectors must be the ones a build of this index gives.

    Example:
        >>> _index_embedder(int8_manifest, lambda name: Embedder(name)).quantize      # doctest: +SKIP
        'int8'
    """
    model = embedder(manifest.embedding_model)
    if getattr(model, "quantize", "none") == manifest.quantize:
        return model
    return Embedder(manifest.embedding_model, device=model.device, batch_size=model.batch_size,
                    quantize=manifest.quantize)


def _rows_in_parts(conn: Any, ids: list[int]) -> list[tuple]:  # type: ignore[type-arg]
    out = []
    for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
        part = ids[start : start + 900]
        out += conn.execute(
            "SELECT c.id, c.ordinal, c.text, d.title, d.text FROM chunks c JOIN documents d ON d.id = c.doc_id "
            f"WHERE c.id IN ({','.join('?' * len(part))}) ORDER BY c.id", part,
        ).fetchall()
    return out
