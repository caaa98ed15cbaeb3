"""Segments and tombstones: a write adds files and never rewrites old ones; merges and optimize change nothing
a search can see; old single-file indexes are converted in place."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import faiss
import numpy as np
import pytest

from app.cli.main import main
from app.workspace import Workspace
from indexing.datatypes import Chunk, Document
from indexing.manifest import Manifest
from indexing.store import Store, merging
from indexing.store import generation as generation_module

DIM = 16


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _add(store: Store, doc_id: str, n: int, rng: np.random.Generator, *more: str) -> list[int]:
    """One write adding document ``doc_id`` (and documents ``more``) of ``n`` chunks each, with lead vectors."""
    added: list[int] = []
    with store.batch() as batch:
        for name in (doc_id, *more):
            words = [f"{name}w{i}" for i in range(n)]
            doc = Document(name, f"/f/{name}", name.title(), " ".join(words))
            chunks = [Chunk(name, i, w, 0, len(w)) for i, w in enumerate(words)]
            batch.upsert_file(f"/f/{name}", name, 1)
            added += batch.add_document(doc, f"/f/{name}", chunks, _unit(rng, n), _unit(rng, 1)[0])
    return added


def _remove(store: Store, doc_id: str) -> None:
    with store.batch() as batch:
        batch.remove_file(f"/f/{doc_id}")


def _brute(store: Store, queries: np.ndarray, k: int) -> list[list[int]]:
    ids, vectors = store.vectors()
    leads = store.lead_vectors(ids)
    scores = queries @ vectors.T
    for n, cid in enumerate(ids.tolist()):
        if cid in leads:
            scores[:, n] = np.maximum(scores[:, n], queries @ leads[cid])
    return [ids[np.argsort(-row, kind="stable")[:k]].tolist() for row in scores]


def _dense(store: Store, queries: np.ndarray, k: int) -> list[list[int]]:
    return [[cid for cid, _ in row] for row in store.search_dense(queries, k)]


def _files(store: Store) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(store.path)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in store.path.glob("seg-*/*")}


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store.create(tmp_path / "idx", Manifest(embedding_model="m", dimension=DIM, chunk_size=200,
                                                   chunk_overlap=32, lead_vectors=True))


def test_each_write_adds_a_segment_and_never_rewrites_the_ones_before(store: Store) -> None:
    rng = np.random.default_rng(0)
    _add(store, "a", 30, rng)
    before = _files(store)
    _add(store, "b", 20, rng)
    after = _files(store)
    assert len(store.segments()) == 2
    assert {name: after[name] for name in before} == before, "old segment files untouched"
    assert [s["vectors"] for s in store.segments()] == [31, 21]  # chunks + one lead vector each


def test_a_delete_writes_tombstones_only_and_hides_the_rows_everywhere(store: Store) -> None:
    rng = np.random.default_rng(1)
    keep = _add(store, "keep", 10, rng)
    written = _add(store, "gone", 10, rng, "also")
    gone, keep = written[:10], keep + written[10:]
    before = _files(store)
    _remove(store, "gone")
    assert _files(store) == before, "a delete writes no segment file"
    assert [s["deleted"] for s in store.segments()] == [0, 11]
    queries = _unit(rng, 20)
    found = {cid for row in _dense(store, queries, 15) for cid in row}
    assert found == set(keep) and not found & set(gone)
    assert sorted(store.vectors()[0].tolist()) == keep and store.count_leads() == 2
    assert store.lexical().search("gonew3", 5) == [] and store.lexical().search("keepw3", 5)[0][0] == keep[3]
    reopened = Store.open(store.path)
    assert sorted(reopened.vectors()[0].tolist()) == keep and reopened.lexical().search("gonew3", 5) == []


def test_a_wholly_deleted_segment_is_dropped_without_a_rewrite(store: Store) -> None:
    rng = np.random.default_rng(2)
    _add(store, "a", 5, rng)
    _add(store, "b", 5, rng)
    _remove(store, "b")
    assert len(store.segments()) == 1
    with sqlite3.connect(store.path / "meta.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM tombstones").fetchone()[0] == 0
    assert len(list(store.path.glob("seg-*"))) == 2  # one segment's .vec and .bm25; b's files collected


def test_the_tiered_policy_merges_small_segments_and_search_is_unchanged(store: Store) -> None:
    rng = np.random.default_rng(3)
    queries = _unit(rng, 12)
    _add(store, "d0", 8, rng, "d0b")
    for n in range(1, merging.MERGE_FACTOR - 1):
        _add(store, f"d{n}", 8, rng)
    _remove(store, "d0")
    assert len(store.segments()) == merging.MERGE_FACTOR - 1
    expected = _brute(store, queries, 10)
    old = set(store.vectors()[0].tolist())
    _add(store, "last", 8, rng)  # the tier is full: its segments merge into one, without d0's rows
    segments = store.segments()
    assert len(segments) == 1 and segments[0]["deleted"] == 0
    assert segments[0]["vectors"] == merging.MERGE_FACTOR * 9
    got = _dense(store, queries, 10)
    assert got == _brute(store, queries, 10)
    for row, before in zip(got, expected, strict=True):  # the old chunks keep their order around the new ones
        kept = [c for c in row if c in old]
        assert kept == before[: len(kept)]


def test_optimize_merges_everything_and_drops_tombstones(tmp_path: Path, store: Store, capsys) -> None:  # noqa: ANN001
    rng = np.random.default_rng(4)
    for n in range(4):
        _add(store, f"d{n}", 6, rng, f"e{n}")
    _remove(store, "d1")
    queries = _unit(rng, 10)
    expected = _brute(store, queries, 8)
    bm25 = store.lexical().search("d2w3", 3)
    assert main(["optimize", "--index", str(store.path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["before"]) == 4 and len(result["after"]) == 1 and result["after"][0]["deleted"] == 0
    store.refresh()
    assert _dense(store, queries, 8) == expected
    assert [c for c, _ in store.lexical().search("d2w3", 3)] == [c for c, _ in bm25]
    with sqlite3.connect(store.path / "meta.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM tombstones").fetchone()[0] == 0


def test_optimize_records_a_new_vector_index_in_the_manifest(store: Store) -> None:
    rng = np.random.default_rng(5)
    _add(store, "a", 5, rng)
    result = Workspace(store.path).optimize(vector_index="hnsw")
    assert result["vector_index"] == "hnsw"
    assert Store.open(store.path).manifest.vector_index == "hnsw"
    assert json.loads((store.path / "manifest.json").read_text())["vector_index"] == "hnsw"
    assert Workspace(store.path).info()["vector_index"] == "hnsw"
    assert result["after"][0]["kind"] == "flat", "5 vectors are too few for HNSW: the segment stays exact"


def test_a_reader_pinned_before_a_merge_keeps_its_generation(store: Store) -> None:
    rng = np.random.default_rng(6)
    for n in range(3):
        _add(store, f"d{n}", 4, rng)
    queries = _unit(rng, 5)
    with store.snapshot():
        before = _dense(store, queries, 5)
        store.optimize()
        assert _dense(store, queries, 5) == before and len(store.segments()) == 3
    assert len(store.segments()) == 1 and _dense(store, queries, 5) == before


@pytest.mark.parametrize("reader", ["open", "pinned", "unpinned"])
def test_a_reader_whose_segment_is_collected_while_it_loads_reads_the_newer_generation(
    store: Store, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    """A writer (another Store on the same index, as another thread or process holds) commits a generation that
    drops a segment, and deletes its files, after a reader's transaction listed that segment but before the reader
    loaded it. The reader must then read the newer generation, not fail (`sift watch`'s tests hit this race)."""
    rng = np.random.default_rng(8)
    _add(store, "a", 4, rng)
    reading = Store.open(store.path)  # holds segment a in memory
    _add(store, "b", 3, rng)  # a segment `reading` has not loaded: its next read loads it from disk
    real_load = generation_module.load_segment
    raced: list[str] = []

    def load_after_a_writer_moved_on(index_dir: Path, name: str, dimension: int):  # noqa: ANN202
        if not raced:
            raced.append(name)
            for doc_id in ("a", "b"):  # every row of both segments deleted: both dropped, their files collected
                _remove(store, doc_id)
            _add(store, "c", 2, rng)
        return real_load(index_dir, name, dimension)

    monkeypatch.setattr(generation_module, "load_segment", load_after_a_writer_moved_on)
    if reader == "open":
        reading = Store.open(store.path)
        ids = reading.vectors()[0]
    elif reader == "pinned":
        with reading.snapshot():
            ids = reading.vectors()[0]
    else:
        ids = reading.vectors()[0]
    assert raced, "the writer ran while the reader was loading"
    assert len(ids) == 2 and reading.get_chunks(ids.tolist())[0].doc_id == "c", "the newest generation: c alone"


def test_an_index_of_the_old_single_file_format_is_converted_in_place(store: Store) -> None:
    rng = np.random.default_rng(7)
    _add(store, "a", 6, rng)
    _add(store, "b", 6, rng)
    queries = _unit(rng, 8)
    expected, bm25 = _dense(store, queries, 6), store.lexical().search("bw2", 3)
    ids = store.vectors()[0]
    lead_ids = np.asarray(sorted(store.lead_vectors(ids)), dtype=np.int64)
    old = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    old.add_with_ids(store.vectors()[1], ids)
    old.add_with_ids(np.vstack([store.lead_vectors(ids)[i] for i in lead_ids]), lead_ids + (1 << 40))
    number = store.generation
    store.close()
    for path in store.path.glob("seg-*"):
        for child in path.iterdir():
            child.unlink()
        path.rmdir()
    with sqlite3.connect(store.path / "meta.sqlite") as conn:  # the old layout, and a manifest of its time
        conn.execute("DELETE FROM segments")
        manifest = json.loads(conn.execute("SELECT value FROM state WHERE key='manifest'").fetchone()[0])
        for newer in ("vector_index", "quantize"):
            manifest.pop(newer)
        conn.execute("UPDATE state SET value=? WHERE key='manifest'", (json.dumps(manifest),))
    (store.path / "manifest.json").write_text(json.dumps(manifest))
    faiss.write_index(old, str(store.path / f"vectors-{number}.faiss"))
    (store.path / f"bm25-{number}").mkdir()
    converted = Store.open(store.path)
    assert _dense(converted, queries, 6) == expected and converted.lexical().search("bw2", 3) == bm25
    assert converted.generation == number and len(converted.segments()) == 1
    assert not list(store.path.glob("vectors-*")) and not list(store.path.glob("bm25-*"))
    assert converted.manifest.vector_index == "auto" and converted.manifest.quantize == "none"
    assert Workspace(store.path).doctor().healthy, "an older manifest is not damage"


def test_the_cli_records_the_vector_index_and_refuses_another_one(tmp_path: Path, corpus_dir: Path, capsys) -> None:  # noqa: ANN001
    index = tmp_path / "idx"
    assert main(["index", str(corpus_dir), "--index", str(index), "--vector-index", "ivf-pq", "--json"]) == 0
    capsys.readouterr()
    assert main(["info", "--index", str(index)]) == 0
    out = capsys.readouterr().out
    assert "vector index ivf-pq" in out and "1 segment(s) [flat]" in out  # a few chunks: too few to train IVF-PQ
    assert main(["index", str(corpus_dir), "--index", str(index), "--vector-index", "hnsw"]) == 1
    err = capsys.readouterr().err
    assert "uses --vector-index ivf-pq, not hnsw" in err and "sift optimize" in err
    info = Workspace(index).info()
    assert info["vector_index"] == "ivf-pq" and info["manifest"]["vector_index"] == "ivf-pq"
