"""The store's bookkeeping (indexing.store.state): one write transaction, the state rows, the manifest copy."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from indexing.errors import IndexCorruptError
from indexing.manifest import Manifest
from indexing.store import Store
from indexing.store.check import check_index
from indexing.store.schema import DB_NAME, connect, missing_tables
from indexing.store.state import (
    MANIFEST_FILE,
    committed,
    init_state,
    next_segment_name,
    read_manifest,
    stored_generation,
    take_chunk_ids,
    write_manifest_copy,
    write_transaction,
)

MANIFEST = Manifest(embedding_model="test-model", dimension=8, chunk_size=200, chunk_overlap=32)


@pytest.fixture()
def conn(tmp_path: Path) -> sqlite3.Connection:
    db = connect(str(tmp_path / DB_NAME))
    with write_transaction(db):
        init_state(db, MANIFEST)
    return db


def test_a_write_transaction_commits_its_block(conn: sqlite3.Connection) -> None:
    with write_transaction(conn):
        first = take_chunk_ids(conn, 5)
        names = [next_segment_name(conn), next_segment_name(conn)]
    assert (first, names, conn.in_transaction) == (1, ["seg-000001", "seg-000002"], False)
    assert take_chunk_ids(conn, 1) == 6, "the reservation of 5 ids was committed"


def test_a_write_transaction_rolls_its_block_back_on_error(conn: sqlite3.Connection) -> None:
    with pytest.raises(KeyError), write_transaction(conn):
        take_chunk_ids(conn, 5)
        raise KeyError("boom")
    assert not conn.in_transaction
    assert take_chunk_ids(conn, 1) == 1, "the reservation was rolled back"


def test_a_failed_commit_is_raised_not_masked_by_the_rollback(conn: sqlite3.Connection) -> None:
    with pytest.raises(sqlite3.IntegrityError), write_transaction(conn):
        conn.execute("PRAGMA defer_foreign_keys = ON")  # the violation surfaces at COMMIT, which then fails
        conn.execute("INSERT INTO documents VALUES ('d', '/missing', 't', 'x', 'h', '{}')")
    assert not conn.in_transaction
    assert conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == 0


def test_the_state_rows_of_a_new_index_are_kept_when_another_creator_got_there_first(
    conn: sqlite3.Connection,
) -> None:
    with write_transaction(conn):
        init_state(conn, Manifest(embedding_model="other-model", dimension=4, chunk_size=100, chunk_overlap=0))
    assert read_manifest(conn) == MANIFEST and stored_generation(conn) == 0
    assert committed(conn) == (0, [], {})


def test_a_missing_state_row_is_named(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM state WHERE key='generation'")
    with pytest.raises(IndexCorruptError, match="'generation' state row"):
        stored_generation(conn)


def test_the_manifest_copy_is_the_row_as_stored(tmp_path: Path, conn: sqlite3.Connection) -> None:
    older = {k: v for k, v in json.loads(MANIFEST.to_json()).items() if k not in ("vector_index", "quantize")}
    conn.execute("UPDATE state SET value=? WHERE key='manifest'", (json.dumps(older),))
    write_manifest_copy(tmp_path, conn)
    copy = tmp_path / MANIFEST_FILE
    assert json.loads(copy.read_text()) == older, "an older manifest keeps its fields: no newer ones added"
    assert copy.read_text() == json.dumps(older, indent=2)
    assert not (tmp_path / f"{MANIFEST_FILE}.tmp").exists()


def test_create_and_optimize_write_the_copy_doctor_checks(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "idx", MANIFEST)
    store.optimize("hnsw")
    row = store._conn.execute("SELECT value FROM state WHERE key='manifest'").fetchone()[0]
    assert json.loads((store.path / MANIFEST_FILE).read_text()) == json.loads(row)
    assert json.loads(row)["vector_index"] == "hnsw"
    assert check_index(store.path).healthy


def test_check_names_a_database_of_the_format_before_segments(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "idx", MANIFEST)
    store.close()
    with sqlite3.connect(store.path / DB_NAME) as db:
        db.execute("DROP TABLE segments")
        db.execute("DROP TABLE tombstones")
        assert missing_tables(db) == {"segments", "tombstones"}
    found = check_index(store.path)
    assert [(p.code, p.repairable) for p in found.problems] == [("format", False)]
    assert "sift info --index" in found.problems[0].message
    reopened = Store.open(store.path)  # an open brings the schema up to date
    assert reopened.generation == 0 and check_index(store.path).healthy
