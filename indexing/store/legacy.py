"""Indexes written before segments (one ``vectors-<gen>.faiss`` + ``bm25-<gen>/`` per generation), and garbage.

:func:`migrate_legacy` turns such an index into one segment the first time it is opened: the committed
generation's FAISS vectors are copied as they are (nothing is re-embedded) and BM25 is rebuilt from the stored
chunk texts, in one transaction under the write lock. The generation number stays, so results computed on it
(topics, labels) stay current. :class:`~indexing.store.store.Store` calls it once per open, before any read;
reads assume the current format. :func:`garbage` names what the database does not list.

Example:
    >>> migrate_legacy(Path("data/index"), conn, manifest)      # doctest: +SKIP
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import faiss
import numpy as np

from indexing.errors import IndexCorruptError
from indexing.manifest import Manifest
from indexing.store.files import remove_path
from indexing.store.lock import write_lock
from indexing.store.merging import write_segment
from indexing.store.segment import SEGMENT_PREFIX, segment_dirs
from indexing.store.segment_vectors import VectorSegment, choose_kind
from indexing.store.state import list_segment, next_segment_name, segment_names, stored_generation, write_transaction
from indexing.store.writer import build_lexical

log = logging.getLogger(__name__)
LEGACY_PREFIXES = ("vectors-", "bm25-")


def _legacy_file(index_dir: Path, conn: sqlite3.Connection) -> Path | None:
    number = stored_generation(conn)
    path = index_dir / f"vectors-{number}.faiss"
    return path if number > 0 and not segment_names(conn) and path.exists() else None


def migrate_legacy(index_dir: Path, conn: sqlite3.Connection, manifest: Manifest) -> bool:
    """Convert a pre-segment index in place; True when it did. A readable index is never left half-converted.

    Raises:
        IndexCorruptError: the legacy vectors file cannot be read (``sift doctor --repair`` rebuilds it).
    """
    if _legacy_file(index_dir, conn) is None:
        return False
    with write_lock(index_dir):
        path = _legacy_file(index_dir, conn)  # another process may have converted it while we waited
        if path is None:
            return False
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexCorruptError(
                f"{path} cannot be read ({str(exc).splitlines()[0]}): run `sift doctor --index {index_dir} --repair`"
            ) from exc
        ids = faiss.vector_to_array(index.id_map).astype(np.int64)
        vectors = index.index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, index.d), np.float32)
        with write_transaction(conn):
            name = next_segment_name(conn)
            segment = write_segment(
                index_dir, name, VectorSegment.build(ids, vectors, choose_kind(manifest.vector_index, len(ids))),
                build_lexical(conn),
            )
            list_segment(conn, segment, stored_generation(conn))
        for child in garbage(index_dir, conn):
            remove_path(child)
    log.info("converted %s to segments (%d vectors)", index_dir, len(ids))
    return True


def garbage(index_dir: Path, conn: sqlite3.Connection) -> list[Path]:
    """Segment directories the database does not list, unfinished writes, and files of the old format."""
    listed = segment_names(conn)
    keep = {path.name for name in listed for path in segment_dirs(index_dir, name)}
    return sorted(
        child for child in Path(index_dir).iterdir()
        if (child.name.startswith(SEGMENT_PREFIX) and child.name not in keep) or child.name.startswith(LEGACY_PREFIXES)
    )
