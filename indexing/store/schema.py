"""SQLite schema of the metadata database, and the two ways to open it.

The schema is brought up to date once per writer connection (:func:`connect`, which every open of a
:class:`~indexing.store.store.Store` goes through before any read); read-only connections assume it, and a
check that opens a database it must not change asks :func:`missing_tables` once.
"""

from __future__ import annotations

import re
import sqlite3

DB_NAME = "meta.sqlite"  # the metadata database's file name in an index directory

SCHEMA = """
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, hash TEXT NOT NULL, size INTEGER NOT NULL, indexed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, file TEXT NOT NULL REFERENCES files(path) ON DELETE CASCADE,
    title TEXT NOT NULL, text TEXT NOT NULL, hash TEXT NOT NULL, meta TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS documents_file ON documents(file);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, text TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS artifacts (
    name TEXT PRIMARY KEY, generation INTEGER NOT NULL, payload BLOB NOT NULL
);
-- The latest status of every file a sync considered (indexing.store.records.FILE_STATUSES), skipped ones too.
CREATE TABLE IF NOT EXISTS file_status (
    path TEXT PRIMARY KEY, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
    documents INTEGER NOT NULL DEFAULT 0, updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS file_status_status ON file_status(status);
-- The committed segments (indexing.store.generation): written once, listed here in the commit that adds them.
CREATE TABLE IF NOT EXISTS segments (
    name TEXT PRIMARY KEY, vector_rows INTEGER NOT NULL, lexical_rows INTEGER NOT NULL, kind TEXT NOT NULL,
    generation INTEGER NOT NULL
);
-- Deleted vector ids (chunk ids and lead ids) and the segment holding them, until a merge rewrites it.
CREATE TABLE IF NOT EXISTS tombstones (id INTEGER PRIMARY KEY, segment TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tombstones_segment ON tombstones(segment);
"""


TABLES = frozenset(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", SCHEMA))
BUSY_TIMEOUT_S = 30.0  # a connection waits this long for another's write to finish before "database is locked"


def connect(path: str) -> sqlite3.Connection:
    """Open the database in autocommit mode (transactions are explicit), WAL, foreign keys on."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.executescript(SCHEMA)
    return conn


def connect_reader(path: str) -> sqlite3.Connection:
    """A read-only connection (``query_only``) for one thread's snapshots; the schema exists already."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
    conn.execute("PRAGMA query_only = ON")
    return conn


def missing_tables(conn: sqlite3.Connection) -> set[str]:
    """The tables of this version's schema the database lacks: none once a writer of this version opened it.

    Example:
        >>> missing_tables(connect(":memory:"))
        set()
    """
    found = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return set(TABLES - found)
