"""Retrieval metrics against hand-computed values, and a tiny BEIR folder evaluated end to end."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from indexing.chunker import ChunkerConfig
from indexing.errors import DatasetError
from indexing.store import Store
from pipelines.identifiers import FORMS, distinctive, generate, generated_set, identifier_set, write
from pipelines.rag.datasets import EvalItem
from pipelines.retrieval_data import load_beir, questions_set, wiki_by_name, wiki_known_item
from pipelines.retrieval_eval import build_beir_index, doc_key_of, evaluate_retrieval
from pipelines.retrieval_metrics import dedupe_docs, mrr_at, ndcg_at, recall_at, score_run


def test_metrics_match_hand_computation() -> None:
    ranked = ["a", "b", "c", "d"]
    rel = {"b": 2, "d": 1, "z": 1}
    dcg = 2 / math.log2(3) + 1 / math.log2(5)
    idcg = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at(ranked, rel, 10) == pytest.approx(dcg / idcg)
    assert mrr_at(ranked, rel, 10) == 0.5 and mrr_at(ranked, rel, 1) == 0.0
    assert recall_at(ranked, rel, 10) == pytest.approx(2 / 3) and recall_at(ranked, rel, 2) == pytest.approx(1 / 3)
    assert dedupe_docs(["a", "b", "a", "c", "b"]) == ["a", "b", "c"]
    scores = score_run({"q1": ["x"], "q2": ["y", "x"]}, {"q1": {"x": 1}, "q2": {"x": 1}, "q3": {"x": 0}})
    assert scores["mrr@10"] == pytest.approx(0.75) and scores["queries"] == 2


def _beir(folder: Path) -> Path:
    docs = {
        "d1": ("Eiffel Tower", "A wrought-iron lattice tower in Paris, France."),
        "d2": ("Photosynthesis", "Plants convert light, water and carbon dioxide into sugar and oxygen."),
        "d3": ("Mount Everest", "Earth's highest mountain above sea level, in the Himalayas."),
        "d4": ("Penicillin", "An antibiotic discovered by Alexander Fleming in 1928."),
    }
    queries = {
        "q1": "iron tower in the French capital",
        "q2": "how plants make sugar from sunlight",
        "q3": "tallest mountain in the world",
        "q4": "who discovered the first antibiotic",
    }
    folder.mkdir()
    (folder / "qrels").mkdir()
    with open(folder / "corpus.jsonl", "w") as f:
        for key, (title, text) in docs.items():
            f.write(json.dumps({"_id": key, "title": title, "text": text}) + "\n")
    with open(folder / "queries.jsonl", "w") as f:
        for key, text in queries.items():
            f.write(json.dumps({"_id": key, "text": text}) + "\n")
    rows = "".join(f"{q}\td{q[1:]}\t1\n" for q in queries)
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows)
    return folder


def test_tiny_beir_evaluation(tmp_path: Path, embedder) -> None:
    report = evaluate_retrieval(load_beir(_beir(tmp_path / "beir")), embedder, chunking=ChunkerConfig(64, 8))
    assert report["queries"] == 4 and set(report["results"]) == {"dense", "bm25", "hybrid"}
    assert report["results"]["dense"]["mrr@10"] == 1.0, "the paraphrased queries are easy for the dense model"
    for scores in report["results"].values():
        assert 0.0 <= scores["ndcg@10"] <= 1.0 and scores["recall@100"] == 1.0


def test_doc_keys_map_every_chunk_to_its_document_in_batches(tmp_path: Path, embedder) -> None:
    dataset = load_beir(_beir(tmp_path / "beir"))
    assert dataset.corpus is not None
    build_beir_index(dataset, tmp_path / "out" / "index", embedder, ChunkerConfig(64, 8))
    store = Store.open(tmp_path / "out" / "index")
    keys = doc_key_of(store, "id", batch_size=2)
    titles = doc_key_of(store, "title")
    assert len(keys) == store.count_chunks() >= 3, "every chunk keyed, over two batches of two"
    assert set(keys.values()) == set(dataset.corpus) and set(titles) == set(keys)
    for record in store.get_chunks(list(keys)):
        title, text = dataset.corpus[keys[record.id]]
        assert titles[record.id] == title and record.text.strip() in f"{title}\n{text}"
    store.close()


def test_documents_sharing_one_file_are_told_apart_by_id(tmp_path: Path, embedder) -> None:
    # The wiki corpus is one JSON file of 10,033 documents: keyed by source, any hit from it was "gold".
    dataset = load_beir(_beir(tmp_path / "beir"))
    index = tmp_path / "out" / "index"
    build_beir_index(dataset, index, embedder, ChunkerConfig(64, 8))
    store = Store.open(index)
    ids, sources, titles = (doc_key_of(store, key) for key in ("doc_id", "source", "title"))
    store.close()
    assert len(set(sources.values())) == 1 and len(set(ids.values())) == 4
    tower = next(doc for cid, doc in ids.items() if titles[cid] == "Eiffel Tower")
    items = [EvalItem("iron tower in the French capital", ("Paris",), gold_doc_ids=(tower,)),
             EvalItem("who discovered the first antibiotic", ("Fleming",), gold_doc_ids=(tower,))]
    scored = evaluate_retrieval(questions_set(items, "shared"), embedder, index, None, ChunkerConfig(64, 8), ["dense"])
    assert scored["results"]["dense"]["hit@1"] == 0.5, "the antibiotic question finds Penicillin, not the tower"


def test_beir_missing_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="corpus.jsonl"):
        load_beir(tmp_path / "empty")


def test_known_item_queries_are_unique_and_seeded(tmp_path: Path) -> None:
    data = {
        f"T{i}": {"title": f"T{i}", "extract": "x", "description": "shared" if i < 2 else f"desc {i}"} for i in range(6)
    }
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    a, b = wiki_known_item(path, n=3, seed=1), wiki_known_item(path, n=3, seed=1)
    assert a.queries == b.queries and len(a.queries) == 3
    assert "shared" not in a.queries.values()
    assert all(a.qrels[q] == {f"T{a.queries[q].split()[1]}": 1} for q in a.queries)


def test_by_name_queries_are_titles_of_articles_with_text(tmp_path: Path) -> None:
    data = {f"k{i}": {"title": f"Title {i}", "extract": "" if i == 0 else "text"} for i in range(5)}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    a, b = wiki_by_name(path, n=10, seed=2), wiki_by_name(path, n=10, seed=2)
    assert a.queries == b.queries and sorted(a.queries.values()) == [f"Title {i}" for i in range(1, 5)]
    assert all(a.qrels[q] == {a.queries[q]: 1} for q in a.queries)


def test_identifier_lookups_rank_the_holder_first_in_hybrid_mode(embedder) -> None:
    dataset = generated_set(per_family=3, seed=5)
    report = evaluate_retrieval(dataset, embedder, chunking=ChunkerConfig(64, 8), modes=["hybrid"])
    assert report["queries"] == len(dataset.queries) > 60
    assert report["results"]["hybrid"]["hit@1"] == 1.0


def test_the_identifier_set_is_reproducible_and_each_key_is_one_notes(tmp_path: Path) -> None:
    docs, queries = generate(per_family=5, seed=1)
    assert (docs, queries) == generate(per_family=5, seed=1)
    keys = [distinctive(d.key) for d in docs]
    assert len(set(keys)) == len(keys)
    for doc in docs:
        others = [d for d in docs if d.id != doc.id]
        assert not any(distinctive(doc.key) in re.findall(r"\w\w+", d.text.lower()) for d in others)
        assert distinctive(doc.key) in re.findall(r"\w\w+", doc.text.lower())
    assert {q.form for q in queries} == set(FORMS) and all(q.doc in {d.id for d in docs} for q in queries)
    written = identifier_set(write(tmp_path, per_family=5, seed=1)[0])
    assert written.queries == generated_set(5, 1).queries and written.corpus == generated_set(5, 1).corpus


def test_the_committed_identifier_set_is_the_generators() -> None:
    committed = identifier_set(Path(__file__).resolve().parents[2] / "data" / "eval" / "identifiers.jsonl")
    assert (committed.queries, committed.qrels, committed.corpus) == (
        generated_set().queries, generated_set().qrels, generated_set().corpus)


def test_a_missing_identifier_file_is_named(tmp_path: Path) -> None:
    queries, corpus = write(tmp_path, per_family=1)
    corpus.unlink()
    with pytest.raises(DatasetError, match="identifiers_corpus.jsonl is missing"):
        identifier_set(queries)
