"""The store's SQLite bookkeeping in one place: write transactions, the ``state`` rows and the segment list.

Every path that changes an index (creation, a write batch, the legacy conversion, metadata and artifact
updates) runs in :func:`write_transaction`, and readers and writers alike go through the functions here for
the ``state`` rows (the manifest, the committed generation number, the chunk-id and segment-name counters) and
for the ``segments`` and ``tombstones`` tables, so each key and each statement is written once.
``manifest.json`` is a copy of the manifest row, written by :func:`write_manifest_copy` alone.

Example:
    >>> with write_transaction(conn):                            # doctest: +SKIP
    ...     set_generation(conn, stored_generation(conn) + 1)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from indexing.errors import IndexCorruptError
from indexing.manifest import Manifest
from indexing.store.files import atomic_write
from indexing.store.segment import Segment, segment_name

MANIFEST_FILE = "manifest.json"


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block as one write transaction on ``conn``: committed at its end, rolled back on any error.

    ``BEGIN IMMEDIATE`` takes SQLite's write lock up front (waiting up to the busy timeout), so a state row
    read inside the block cannot change before the block writes it. ``conn`` must be in autocommit mode
    (:func:`indexing.store.schema.connect`).
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a COMMIT that failed may have rolled back already
            conn.execute("ROLLBACK")
        raise


def _get(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
    return None if row is None else str(row[0])


def _required(conn: sqlite3.Connection, key: str) -> str:
    value = _get(conn, key)
    if value is None:
        raise IndexCorruptError(
            f"the database has no {key!r} state row: it is not a complete sift index; "
            "rebuild it with `sift index` into a new --index directory"
        )
    return value


def _set(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (key, value))


def init_state(conn: sqlite3.Connection, manifest: Manifest) -> None:
    """The rows of a new index (inside a write transaction); an index another process created first is kept."""
    if read_manifest_json(conn) is not None:
        return
    write_manifest(conn, manifest)
    set_generation(conn, 0)
    _set(conn, "next_chunk_id", "1")


# ---- the manifest ------------------------------------------------------------------------------
def read_manifest_json(conn: sqlite3.Connection) -> str | None:
    """The manifest row as stored (JSON text), or None in a database that is no sift index."""
    return _get(conn, "manifest")


def read_manifest(conn: sqlite3.Connection) -> Manifest | None:
    """The stored manifest, or None in a database that is no sift index."""
    raw = read_manifest_json(conn)
    return None if raw is None else Manifest.from_json(raw)


def write_manifest(conn: sqlite3.Connection, manifest: Manifest) -> None:
    """Replace the manifest row (inside the writer's transaction; :func:`write_manifest_copy` after it commits)."""
    _set(conn, "manifest", manifest.to_json())


def write_manifest_copy(index_dir: Path, conn: sqlite3.Connection) -> None:
    """Write ``manifest.json`` as an indented copy of the manifest row ``conn`` sees, crash-safely.

    The copy is the row as stored, never re-serialised from a :class:`Manifest`: a manifest written by an older
    sift keeps its fields, so ``sift doctor`` finds the two equal.

    Raises:
        IndexCorruptError: the database has no manifest row.
    """
    text = json.dumps(json.loads(_required(conn, "manifest")), indent=2)
    atomic_write(Path(index_dir) / MANIFEST_FILE, lambda tmp: tmp.write_text(text))


# ---- generation number and counters ------------------------------------------------------------
def stored_generation(conn: sqlite3.Connection) -> int:
    """The generation number the database records as committed (as this connection sees it)."""
    return int(_required(conn, "generation"))


def set_generation(conn: sqlite3.Connection, number: int) -> None:
    """Record ``number`` as the generation the open write transaction commits."""
    _set(conn, "generation", str(number))


def take_chunk_ids(conn: sqlite3.Connection, count: int) -> int:
    """Reserve ``count`` consecutive chunk ids inside the writer's transaction; returns the first."""
    first = int(_required(conn, "next_chunk_id"))
    _set(conn, "next_chunk_id", str(first + count))
    return first


def next_segment_name(conn: sqlite3.Connection) -> str:
    """Take the next unused segment name (``seg-000007``) inside the writer's transaction."""
    number = int(_get(conn, "next_segment") or 1)
    _set(conn, "next_segment", str(number + 1))
    return segment_name(number)


# ---- the segment list and its tombstones -------------------------------------------------------
def list_segment(conn: sqlite3.Connection, segment: Segment, generation: int) -> None:
    """Record a written segment as part of the generation the transaction commits."""
    conn.execute(
        "INSERT INTO segments VALUES (?, ?, ?, ?, ?)",
        (segment.name, segment.vectors.rows, segment.lexical.rows, segment.vectors.kind, generation),
    )


def unlist_segments(conn: sqlite3.Connection, names: Iterable[str]) -> None:
    """Drop segments from the list, with their tombstones (merged away, or wholly deleted)."""
    for name in names:
        conn.execute("DELETE FROM segments WHERE name=?", (name,))
        conn.execute("DELETE FROM tombstones WHERE segment=?", (name,))


def add_tombstones(conn: sqlite3.Connection, segment: str, ids: Iterable[int]) -> None:
    """Mark ``ids`` of ``segment`` deleted (ids marked already stay as they are)."""
    conn.executemany("INSERT OR IGNORE INTO tombstones VALUES (?, ?)", [(int(i), segment) for i in ids])


def segment_names(conn: sqlite3.Connection) -> list[str]:
    """The listed segments' names, ascending."""
    return [r[0] for r in conn.execute("SELECT name FROM segments ORDER BY name")]


def committed(conn: sqlite3.Connection) -> tuple[int, list[str], dict[str, np.ndarray]]:
    """(generation number, segment names, tombstones by segment) as this connection sees them.

    Call inside one read transaction (or under the write lock) so the three agree.

    Example:
        >>> committed(conn)                                      # doctest: +SKIP
        (3, ['seg-000001', 'seg-000004'], {'seg-000001': array([7, 8])})
    """
    number = stored_generation(conn)
    names = segment_names(conn)
    grouped: dict[str, list[int]] = {}
    for ident, segment in conn.execute("SELECT id, segment FROM tombstones"):
        grouped.setdefault(segment, []).append(ident)
    return number, names, {n: np.unique(np.asarray(v, dtype=np.int64)) for n, v in grouped.items()}
