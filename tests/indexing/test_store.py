"""Store: FAISS agrees with brute force, writes are crash-safe, metadata filters and artifacts work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indexing.datatypes import Chunk, Document
from indexing.errors import ConfigError, IndexMismatchError, IndexNotFoundError
from indexing.manifest import Manifest
from indexing.store import Store
from indexing.store import writer as writer_module
from indexing.store.lexical import LexicalSegment
from indexing.store.segment_vectors import VectorSegment

DIM = 16


def _manifest(model: str = "test-model", dim: int = DIM, size: int = 200) -> Manifest:
    return Manifest(embedding_model=model, dimension=dim, chunk_size=size, chunk_overlap=32)


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _add(
    store: Store, doc_id: str, n_chunks: int, rng: np.random.Generator, meta: dict | None = None, lead: bool = False
) -> list[int]:
    doc = Document(doc_id, f"/f/{doc_id}", doc_id.title(), " ".join(f"word{i}" for i in range(n_chunks)), meta or {})
    chunks = [Chunk(doc_id, i, f"word{i}", i * 6, i * 6 + 5) for i in range(n_chunks)]
    with store.batch() as batch:
        batch.upsert_file(f"/f/{doc_id}", doc_id, 1)
        return batch.add_document(
            doc, f"/f/{doc_id}", chunks, _unit(rng, n_chunks), _unit(rng, 1)[0] if lead else None
        )


def _brute_force(store: Store, queries: np.ndarray, allowed: np.ndarray | None = None) -> list[list[tuple[int, float]]]:
    """Every chunk scored by the best of its vectors (its own and its lead, if any), best first."""
    ids, vectors = store.vectors(allowed)
    leads = store.lead_vectors(ids)
    out = []
    for q in queries:
        scores = [max([float(q @ v)] + ([float(q @ leads[i])] if i in leads else [])) for i, v in zip(ids, vectors)]
        out.append(sorted(zip(ids.tolist(), scores), key=lambda p: -p[1]))
    return out


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store.create(tmp_path / "idx", _manifest())


def _snapshot(store: Store) -> tuple:
    ids, vectors = store.vectors()
    rows = store._conn.execute("SELECT id FROM chunks ORDER BY id").fetchall()
    return sorted(ids.tolist()), [r[0] for r in rows], vectors.sum().round(5), store.generation


def test_dense_search_equals_brute_force_cosine(store: Store) -> None:
    rng = np.random.default_rng(0)
    for d in range(5):
        _add(store, f"doc{d}", 40, rng)
    ids, vectors = store.vectors()
    queries = _unit(rng, 7)
    got = store.search_dense(queries, 10)
    expected = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    for q in range(7):
        assert [cid for cid, _ in got[q]] == ids[expected[q]].tolist()
        np.testing.assert_allclose([s for _, s in got[q]], (queries[q] @ vectors.T)[expected[q]], rtol=1e-5)


def test_filtered_search_equals_brute_force_on_subset(store: Store) -> None:
    rng = np.random.default_rng(1)
    _add(store, "red", 30, rng, {"colour": "red"})
    _add(store, "blue", 30, rng, {"colour": "blue"})
    allowed = store.filter_ids({"colour": "blue"})
    assert allowed is not None and len(allowed) == 30
    ids, vectors = store.vectors(allowed)
    q = _unit(rng, 1)
    got = [cid for cid, _ in store.search_dense(q, 5, allowed)[0]]
    assert got == ids[np.argsort(-(q @ vectors.T)[0])[:5]].tolist()


def test_lead_vectors_score_their_chunk_by_the_better_vector(store: Store) -> None:
    rng = np.random.default_rng(10)
    for d in range(6):
        _add(store, f"doc{d}", 8, rng, lead=d % 2 == 0)
    assert store.count_leads() == 3 and len(store.vectors()[0]) == store.count_chunks() == 48
    queries = _unit(rng, 20)
    got = store.search_dense(queries, 10)
    expected = _brute_force(store, queries)
    lead_chunks = set(store.lead_vectors(store.vectors()[0]))
    assert len(lead_chunks) == 3
    for q in range(20):
        assert [cid for cid, _ in got[q]] == [cid for cid, _ in expected[q][:10]]
        np.testing.assert_allclose([s for _, s in got[q]], [s for _, s in expected[q][:10]], rtol=1e-5)
    cid, lead = next(iter(store.lead_vectors(store.vectors()[0]).items()))
    best = store.search_dense(lead[None, :], 1)[0][0]
    assert best[0] == cid and best[1] == pytest.approx(1.0, abs=1e-5), "a query equal to a lead finds its chunk"
    top_all = store.search_dense(queries[:1], 100)[0]
    assert len(top_all) == 48 and len({cid for cid, _ in top_all}) == 48, "each chunk once, never a lead id"


def test_filtered_search_with_leads_never_returns_a_filtered_out_chunk(store: Store) -> None:
    rng = np.random.default_rng(11)
    _add(store, "red", 10, rng, {"colour": "red"}, lead=True)
    _add(store, "blue", 10, rng, {"colour": "blue"}, lead=True)
    allowed = store.filter_ids({"colour": "blue"})
    queries = _unit(rng, 10)
    got = store.search_dense(queries, 5, allowed)
    expected = _brute_force(store, queries, allowed)
    for q in range(10):
        assert [cid for cid, _ in got[q]] == [cid for cid, _ in expected[q][:5]]
        assert set(cid for cid, _ in got[q]) <= set(allowed.tolist())


def test_removing_a_document_removes_its_lead_vector(store: Store) -> None:
    rng = np.random.default_rng(12)
    keep = _add(store, "keep", 3, rng, lead=True)
    _add(store, "gone", 3, rng, lead=True)
    _add(store, "gone", 2, rng, lead=True)  # replaced: the old lead goes with the old chunks
    assert store.count_leads() == 2
    with store.batch() as batch:
        batch.remove_file("/f/gone")
    assert store.count_leads() == 1 and list(store.lead_vectors(keep)) == [keep[0]]
    assert sorted(Store.open(store.path).vectors()[0].tolist()) == keep


def test_a_malformed_lead_vector_is_refused_and_nothing_is_written(store: Store) -> None:
    rng = np.random.default_rng(13)
    doc = Document("d", "/f/d", "D", "word0 word1")
    chunks = [Chunk("d", 0, "word0", 0, 5)]
    with pytest.raises(ValueError, match="lead vector"), store.batch() as batch:
        batch.upsert_file("/f/d", "d", 1)
        batch.add_document(doc, "/f/d", chunks, _unit(rng, 1), np.ones((2, DIM), dtype=np.float32))
    assert store.count_documents() == 0 and store.count_leads() == 0


def test_filters_on_chunk_meta_title_and_bad_keys(store: Store) -> None:
    rng = np.random.default_rng(2)
    ids = _add(store, "alpha", 3, rng)
    store.update_meta(chunk_meta={ids[0]: {"label": "pos"}}, doc_meta={"alpha": {"topic": "x"}})
    assert store.filter_ids({"label": "pos"}).tolist() == [ids[0]]
    assert sorted(store.filter_ids({"topic": "x"}).tolist()) == ids
    assert sorted(store.filter_ids({"title": "Alpha"}).tolist()) == ids
    assert store.meta_values("label") == ["pos"] and store.meta_values("topic") == ["x"]
    assert store.get_chunks([ids[0]])[0].meta == {"topic": "x", "label": "pos"}
    store.update_meta(chunk_meta={ids[0]: {"label": None}})
    assert store.filter_ids({"label": "pos"}).tolist() == []
    with pytest.raises(ConfigError, match="metadata key"):
        store.filter_ids({"bad key'": "1"})


def test_removal_drops_vectors_and_rows(store: Store) -> None:
    rng = np.random.default_rng(3)
    keep = _add(store, "keep", 4, rng)
    _add(store, "gone", 4, rng)
    with store.batch() as batch:
        batch.remove_file("/f/gone")
    ids, _ = store.vectors()
    assert sorted(ids.tolist()) == keep
    assert store.count_documents() == 1 and store.count_chunks() == 4


@pytest.mark.parametrize("point", ["faiss", "bm25", "commit"])
def test_failure_mid_write_keeps_previous_state(store: Store, monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    rng = np.random.default_rng(4)
    _add(store, "first", 5, rng, lead=True)
    before = (*_snapshot(store), store.count_leads())

    def boom(*args, **kwargs):
        raise OSError(f"disk failed during {point}")

    if point == "faiss":
        monkeypatch.setattr(VectorSegment, "save", boom)
    elif point == "bm25":
        monkeypatch.setattr(LexicalSegment, "save", boom)
    else:  # after both files are written, the SQLite commit itself fails
        def failing_point(name: str) -> None:
            if name == "commit.before_sql":
                boom()

        monkeypatch.setattr(writer_module, "fault_point", failing_point)
    with pytest.raises(OSError):
        _add(store, "second", 5, rng, lead=True)
    assert (*_snapshot(store), store.count_leads()) == before
    reopened = Store.open(store.path)
    assert (*_snapshot(reopened), reopened.count_leads()) == before
    ids, _ = reopened.vectors()
    rows = [r[0] for r in reopened._conn.execute("SELECT id FROM chunks")]
    assert sorted(ids.tolist()) == sorted(rows), "FAISS ids and SQLite rows agree"
    listed = sorted(f"{s['name']}{suffix}" for s in reopened.segments() for suffix in (".vec", ".bm25"))
    assert sorted(p.name for p in store.path.glob("seg-*")) == listed, "the failed write's files were collected"


def test_reader_picks_up_other_writers(store: Store) -> None:
    rng = np.random.default_rng(5)
    reader = Store.open(store.path)
    _add(store, "late", 3, rng)
    assert len(reader.vectors()[0]) == 3


def test_manifest_mismatch_is_refused(tmp_path: Path) -> None:
    Store.create(tmp_path / "idx", _manifest("model-a"))
    with pytest.raises(IndexMismatchError, match="model-a.*model-b"):
        Store.create(tmp_path / "idx", _manifest("model-b"))
    with pytest.raises(IndexMismatchError, match="size=200.*size=100"):
        Store.create(tmp_path / "idx", _manifest("model-a", size=100))


def test_open_missing_index_names_it(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="sift index"):
        Store.open(tmp_path / "nothing")


def test_wrong_vector_shape_is_refused(store: Store) -> None:
    doc = Document("d", "/f/d", "D", "text")
    with pytest.raises(ValueError, match=r"shape \(n, 16\)"), store.batch() as batch:
        batch.upsert_file("/f/d", "h", 1)
        batch.add_document(doc, "/f/d", [Chunk("d", 0, "text", 0, 4)], np.ones((1, 8), np.float32))
    assert store.count_documents() == 0


def test_artifacts_record_generation(store: Store) -> None:
    rng = np.random.default_rng(6)
    _add(store, "a", 2, rng)
    store.put_artifact("topics", b"payload")
    assert store.get_artifact("topics") == (store.generation, b"payload")
    assert store.get_artifact("missing") is None


def test_lexical_search_and_filter(store: Store) -> None:
    rng = np.random.default_rng(7)
    ids = _add(store, "lex", 5, rng)
    hits = store.lexical().search("word3", k=3)
    assert hits and hits[0][0] == ids[3]
    assert store.lexical().search("word3", k=3, allowed=np.array([ids[0]])) == []


def test_a_manifest_written_before_lead_vectors_reads_as_without_them() -> None:
    raw = json.loads(_manifest().to_json())
    raw.pop("lead_vectors")
    assert Manifest.from_json(json.dumps(raw)).lead_vectors is False
