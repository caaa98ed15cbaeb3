"""Readers see one committed generation: a read transaction on the thread's own connection, pinned to it.

Each thread reads through its own SQLite connection (WAL lets readers run beside the writer). Inside
:meth:`Snapshots.pinned`, that connection holds one read transaction, so every row it reads belongs to the
committed generation whose segments and tombstones the snapshot hands out (segments already loaded are
shared between generations: they never change); a writer's commit in the
meantime (this process or another) is seen by the next snapshot, never half-way through one.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexing.errors import IndexCorruptError
from indexing.store import generation as gen_files
from indexing.store.generation import Generation
from indexing.store.schema import connect_reader
from indexing.store.state import stored_generation


class Snapshots:
    """The loaded generations of one index and the per-thread read connections.

    Args:
        db_path: the SQLite file.
        index_dir: the directory holding the generation files.
        dimension: the manifest's vector dimension.
        first: a generation already in memory (at open, the empty generation 0).
    """

    def __init__(self, db_path: Path, index_dir: Path, dimension: int, first: Generation) -> None:
        self._db_path = db_path
        self._index_dir = index_dir
        self._dimension = dimension
        self._current = first
        self._previous: Generation | None = None  # kept for readers pinned just before an install
        self._lock = threading.Lock()
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []

    @property
    def current(self) -> Generation:
        """The newest generation loaded in this process."""
        return self._current

    def install(self, generation: Generation) -> None:
        """Make a generation a writer of this process just committed the current one."""
        with self._lock:
            if generation.number > self._current.number:
                self._previous, self._current = self._current, generation

    def conn(self) -> sqlite3.Connection:
        """This thread's read connection (inside :meth:`pinned`, in its read transaction)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect_reader(str(self._db_path))
            with self._lock:
                self._conns.append(conn)
        return conn

    def generation(self) -> Generation:
        """The pinned generation inside :meth:`pinned`; else the newest committed one (loaded if needed)."""
        pinned = getattr(self._local, "pinned", None)
        if pinned is not None:
            return pinned
        conn = self.conn()
        held = self._held(stored_generation(conn))
        if held is not None:
            return held
        held = self._begin(conn)
        conn.execute("COMMIT")
        return held

    def _held(self, number: int) -> Generation | None:
        for held in (self._current, self._previous):
            if held is not None and held.number == number:
                return held
        return None

    def get(self, number: int, conn: sqlite3.Connection) -> Generation:
        """Generation ``number``, from memory or loaded through ``conn`` (which must see it committed: inside a
        read transaction, or the writer's connection under the write lock); installed when it is newer."""
        held = self._held(number)
        if held is not None:
            return held
        with self._lock:
            held = self._held(number)
            if held is not None:
                return held
            cache = {s.name: s for g in (self._current, self._previous) if g is not None for s in g.segments}
            loaded = gen_files.load(conn, self._index_dir, self._dimension, cache)
            if loaded.number > self._current.number:
                self._previous, self._current = self._current, loaded
            return loaded

    @contextmanager
    def pinned(self) -> Iterator[Generation]:
        """Hold one committed generation for the block: its rows, vectors and BM25 together (re-entrant)."""
        held = getattr(self._local, "pinned", None)
        if held is not None:
            yield held
            return
        conn = self.conn()
        held = self._begin(conn)
        self._local.pinned = held
        try:
            yield held
        finally:
            self._local.pinned = None
            conn.execute("COMMIT")

    def _begin(self, conn: sqlite3.Connection, attempts: int = 3) -> Generation:
        """Open a read transaction on ``conn`` and return the generation it sees committed (left open).

        A writer may commit a newer generation, and delete the files of segments it no longer lists, between
        this transaction's start and the loading of those files: the load then fails on a missing file. That
        generation is no longer the newest, so the read starts over on the newer one; only a failure on the
        newest committed generation is corruption.

        Raises:
            IndexCorruptError: the newest committed generation cannot be read.
        """
        for attempt in range(attempts):
            conn.execute("BEGIN")  # the number, segment list and tombstones of one commit
            number = stored_generation(conn)
            try:
                return self.get(number, conn)
            except IndexCorruptError:
                conn.execute("ROLLBACK")
                if attempt == attempts - 1 or stored_generation(conn) == number:
                    raise
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close every thread's read connection."""
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
        self._local = threading.local()
