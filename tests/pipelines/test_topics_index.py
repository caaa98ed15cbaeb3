"""Topics on a real Store: metadata written and filterable, saved with the index, stale after a change."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from test_topics import WORDS, blobs

from indexing.datatypes import Chunk, Document
from indexing.errors import ConfigError
from indexing.manifest import Manifest
from indexing.store import Store
from pipelines.topics.cluster import HDBSCANClusterer, KMeansClusterer
from pipelines.topics.index import (
    StaleTopicsError,
    fit_index_topics,
    index_topics,
    load_index_topics,
)
from pipelines.topics.model import TopicModel
from pipelines.topics.reduce import PCAReducer

DIM = 64


def add_docs(store: Store, X: np.ndarray, texts: list[str], start: int, chunks_per_doc: int = 2) -> None:
    """One file; every ``chunks_per_doc`` consecutive rows become one document's chunks."""
    with store.batch() as batch:
        batch.upsert_file(f"file{start}.txt", f"hash{start}", 1)
        for first in range(0, len(X), chunks_per_doc):
            rows = range(first, min(first + chunks_per_doc, len(X)))
            body, chunks, pos = "", [], 0
            for ordinal, r in enumerate(rows):
                chunks.append(Chunk(f"doc{start + first}", ordinal, texts[r], pos, pos + len(texts[r])))
                body += texts[r] + " "
                pos = len(body)
            doc = Document(f"doc{start + first}", f"file{start}.txt", f"title {start + first}", body, {"kind": "x"})
            batch.add_document(doc, f"file{start}.txt", chunks, X[list(rows)])


@pytest.fixture()
def store(tmp_path):
    X, texts, gold = blobs(n_per=40, dim=DIM)
    s = Store.create(tmp_path / "idx", Manifest("synthetic", DIM, 200, 32))
    add_docs(s, X, texts, 0)
    s.gold = gold  # type: ignore[attr-defined]
    yield s
    s.close()


def quick_model() -> TopicModel:
    return TopicModel(PCAReducer(5), HDBSCANClusterer(min_cluster_size=15), map_2d=False)


def test_metadata_written_and_filterable(store):
    result = fit_index_topics(store, quick_model())
    ids, _ = store.vectors()
    assert np.array_equal(result.chunk_ids, ids)
    assert adjusted_rand_score(store.gold, result.chunk_topics) == pytest.approx(1.0)
    for topic in result.model.topics_:
        wanted = set(ids[result.chunk_topics == topic.id].tolist())
        assert set(store.filter_ids({"topic_id": str(topic.id)}).tolist()) == wanted
        assert set(store.filter_ids({"topic_label": topic.label}).tolist()) == wanted
        assert set(topic.keywords[:3]) in [set(w) for w in WORDS]
    record = store.get_chunks([int(ids[0])])[0]
    assert record.meta["topic_id"] == int(result.chunk_topics[0]) and record.meta["kind"] == "x"
    doc = store.get_document(record.doc_id)
    assert doc.meta["topic_id"] == int(result.chunk_topics[0])


def test_document_topic_is_majority_of_its_chunks(store):
    ids, _ = store.vectors()
    # three chunks per new document: two from cluster 0, one from cluster 1 → document topic = cluster 0's
    X, texts, gold = blobs(n_per=40, dim=DIM)
    order = np.concatenate([[a, b, c] for a, b, c in zip(range(0, 40, 2), range(1, 40, 2), range(40, 60), strict=True)])
    add_docs(store, X[order], [texts[i] for i in order], 1000, chunks_per_doc=3)
    result = fit_index_topics(store, TopicModel(PCAReducer(5), KMeansClusterer(5), map_2d=False))
    by_id = dict(zip(result.chunk_ids.tolist(), result.chunk_topics.tolist(), strict=True))
    new_ids = store.filter_ids({"source": "file1000.txt"})
    majority_topic_of_cluster0 = by_id[int(new_ids[0])]
    assert by_id[int(new_ids[2])] != majority_topic_of_cluster0
    doc = store.get_document(store.get_chunks([int(new_ids[0])])[0].doc_id)
    assert doc.meta["topic_id"] == majority_topic_of_cluster0


def test_saved_with_index_and_stale_after_change(store):
    first = index_topics(store, seed=0)
    assert first.recomputed and first.model.coords_ is not None
    loaded = load_index_topics(store)
    assert loaded is not None and not loaded.stale
    assert [t.to_dict() for t in loaded.model.topics_] == [t.to_dict() for t in first.model.topics_]
    assert np.array_equal(loaded.coords, first.coords)
    again = index_topics(store, seed=0)
    assert not again.recomputed  # fresh and same options: reused

    X, texts, _ = blobs(n_per=4, dim=DIM, seed=7)
    add_docs(store, X, texts, 5000)
    assert load_index_topics(store).stale
    with pytest.raises(StaleTopicsError):
        index_topics(store, seed=0, refresh=False)
    assert index_topics(store, seed=0, refresh=False, allow_stale=True).stale
    redone = index_topics(store, seed=0)
    assert redone.recomputed and not redone.stale and len(redone.chunk_ids) == len(store.vectors()[0])
    new_ids = store.filter_ids({"source": "file5000.txt"})
    assert all("topic_id" in r.meta for r in store.get_chunks(new_ids.tolist()))


def test_other_options_refit(store):
    index_topics(store, n_topics=5, seed=0)
    assert index_topics(store, n_topics=3, seed=0).recomputed
    assert len([t for t in load_index_topics(store).model.topics_ if t.id >= 0]) == 3


def test_document_level(store):
    result = fit_index_topics(store, quick_model(), level="doc")
    docs = [r.doc_id for r in store.get_chunks(result.chunk_ids.tolist())]
    topic_of_doc: dict[str, int] = {}
    for doc, topic in zip(docs, result.chunk_topics.tolist(), strict=True):
        assert topic_of_doc.setdefault(doc, topic) == topic
    assert len(result.model.labels_) == len(set(docs))


def first_keyword(keywords: list[str], texts: list[str]) -> str:
    return keywords[0]


def test_saved_topics_are_matched_by_the_labelers_name_not_its_function_name(store):
    first_keyword.name = "first-keyword"  # type: ignore[attr-defined]
    made = index_topics(store, n_topics=3, seed=0, labeler=first_keyword)
    assert made.recomputed and made.model.params["labeler"] == "first-keyword"
    assert all(t.label == t.keywords[0] for t in made.model.topics_ if t.id >= 0)
    assert not index_topics(store, n_topics=3, seed=0, labeler=first_keyword).recomputed, "same name: reused"
    again = index_topics(store, n_topics=3, seed=0, labeler=lambda kw, texts: kw[1], labeler_name="second-keyword")
    assert again.recomputed, "another name: the saved labels were made another way"
    same = index_topics(store, n_topics=3, seed=0, labeler=lambda kw, t: "", labeler_name="second-keyword")
    assert not same.recomputed, "the name, not the function object, is what saved topics are matched by"
    with pytest.raises(ConfigError, match="has no name: give it a `name` attribute or pass labeler_name="):
        index_topics(store, n_topics=3, seed=0, labeler=lambda kw, texts: kw[0])


def test_topics_saved_without_a_labeler_identity_load_as_the_default_labeler(store):
    model = TopicModel.from_options(n_topics=3, seed=0)
    assert "labeler" not in model.params  # as saved before labelers had an identity
    fit_index_topics(store, model)
    reused = index_topics(store, n_topics=3, seed=0)
    assert not reused.recomputed and reused.model.params.get("labeler") is None
    assert index_topics(store, n_topics=3, seed=0, labeler=first_keyword, labeler_name="kw").recomputed


def test_members_are_the_chunks_of_one_topic(store):
    result = fit_index_topics(store, quick_model())
    for topic in result.model.topics_:
        members = result.members(topic.id)
        assert len(members) == topic.size or topic.id < 0
        assert all(r.meta["topic_id"] == topic.id for r in store.get_chunks(members))
    assert sum(len(result.members(t)) for t in set(result.chunk_topics.tolist())) == len(result.chunk_ids)
