"""Classifiers on real MiniLM vectors: zero-shot, prototypes, logistic regression, labels, metrics, save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from indexing.errors import ConfigError, IndexMismatchError
from pipelines.classify import (
    UNKNOWN,
    LabelSet,
    LogisticClassifier,
    PrototypeClassifier,
    ZeroShotClassifier,
    classification_metrics,
    classify_texts,
    format_report,
    load_classifier,
    predict,
    save_classifier,
    train,
    zero_shot,
)
from pipelines.classify.calibration import cross_entropy, fit_bias_temperature
from pipelines.classify.label_set import builtin_labels

LABELS = LabelSet.parse([
    "sport=a text about sport, athletes, matches and games",
    "food=a text about food, cooking and recipes",
    "space=a text about astronomy, planets and space travel",
])
TRAIN = [
    ("The striker scored a late goal to win the match.", "sport"),
    ("She won the tennis final in three sets.", "sport"),
    ("The marathon runners crossed the finish line.", "sport"),
    ("Whisk the eggs and fold in the flour before baking.", "food"),
    ("Simmer the tomato sauce with garlic and basil.", "food"),
    ("This bakery sells fresh bread and croissants.", "food"),
    ("The telescope photographed a distant galaxy.", "space"),
    ("Astronauts docked with the space station.", "space"),
    ("Mars has two small moons, Phobos and Deimos.", "space"),
]
TEST = [
    ("The goalkeeper saved a penalty in extra time.", "sport"),
    ("Roast the chicken with potatoes and rosemary.", "food"),
    ("The rocket launched a satellite into orbit.", "space"),
]


@pytest.fixture(scope="module")
def vectors(embedder):
    return embedder.encode([t for t, _ in TRAIN]), embedder.encode([t for t, _ in TEST])


@pytest.mark.parametrize("combine", ["mean", "max"])
def test_zero_shot_labels_unambiguous_texts(embedder, combine):
    clf = ZeroShotClassifier(LABELS, combine=combine).fit(embedder)
    preds = classify_texts(clf, embedder, [t for t, _ in TEST])
    assert [p.label for p in preds] == [g for _, g in TEST]
    for p in preds:
        assert set(p.scores) == {"sport", "food", "space"}
        assert sum(p.scores.values()) == pytest.approx(1.0, abs=1e-5)
        assert p.scores[p.label] == max(p.scores.values())


def test_zero_shot_mean_combines_descriptions(embedder):
    """Two descriptions of one label → the normalised mean of their vectors."""
    labels = LabelSet.parse(["a=first description", "a=second description", "b=third"])
    clf = ZeroShotClassifier(labels).fit(embedder)
    expected = embedder.encode(["first description", "second description"]).mean(axis=0)
    np.testing.assert_allclose(clf.prototypes()[0], expected / np.linalg.norm(expected), atol=1e-5)


def test_abstain_threshold_gives_unknown(embedder):
    strict = ZeroShotClassifier(LABELS, threshold=0.99).fit(embedder)
    loose = ZeroShotClassifier(LABELS, threshold=-1.0).fit(embedder)
    texts = [t for t, _ in TEST]
    assert {p.label for p in classify_texts(strict, embedder, texts)} == {UNKNOWN}
    assert UNKNOWN not in {p.label for p in classify_texts(loose, embedder, texts)}
    # The threshold is compared with the raw cosine of the chosen label.
    pred = classify_texts(strict, embedder, texts[:1])[0]
    assert pred.score == pytest.approx(float(strict.similarities(embedder.encode(texts[:1])).max()), abs=1e-5)


def test_center_subtracts_mean_similarity(embedder, vectors):
    clf = zero_shot(LABELS, embedder)
    clf.center(vectors[0])
    np.testing.assert_allclose(clf.bias, clf.similarities(vectors[0]).mean(axis=0), atol=1e-6)
    assert [p.label for p in predict(clf, vectors[1])] == [g for _, g in TEST]


def test_calibration_lowers_cross_entropy():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 3, 300)
    scores = rng.normal(0, 0.05, (300, 3)) + 0.1 * np.eye(3)[target] + np.array([0.3, 0.0, 0.1])
    t, b = fit_bias_temperature(scores, target)
    assert cross_entropy(scores, target, b, t) < cross_entropy(scores, target, np.zeros(3), 0.025) - 0.05


@pytest.mark.parametrize("cls", [PrototypeClassifier, LogisticClassifier])
def test_supervised_learns_toy_topics(cls, vectors):
    clf = cls().fit(vectors[0], [g for _, g in TRAIN], "all-MiniLM-L6-v2")
    assert [p.label for p in predict(clf, vectors[1])] == [g for _, g in TEST]
    assert clf.labels == ["food", "space", "sport"]


def test_logistic_probabilities_equal_sklearn(vectors):
    gold = [g for _, g in TRAIN]
    clf = LogisticClassifier(C=2.0).fit(vectors[0], gold)
    ref = LogisticRegression(C=2.0, max_iter=3000).fit(vectors[0], gold)
    np.testing.assert_allclose(clf.probabilities(vectors[1]), ref.predict_proba(vectors[1]), atol=1e-6)
    binary = [g if g == "sport" else "other" for g in gold]
    clf2, ref2 = LogisticClassifier().fit(vectors[0], binary), LogisticRegression(max_iter=3000).fit(vectors[0], binary)
    np.testing.assert_allclose(clf2.probabilities(vectors[1]), ref2.predict_proba(vectors[1]), atol=1e-6)


def _round_trip(clf, tmp_path, vecs, texts=None):
    json_path, npz_path = save_classifier(clf, tmp_path / "clf")
    assert json_path.exists() and npz_path.exists()
    assert json.loads(json_path.read_text())["method"] == clf.method
    loaded = load_classifier(tmp_path / "clf")
    assert type(loaded) is type(clf) and loaded.labels == clf.labels and loaded.threshold == clf.threshold
    np.testing.assert_allclose(loaded.probabilities(vecs, texts), clf.probabilities(vecs, texts), atol=1e-6)
    return loaded


def test_save_load_round_trip_every_method(embedder, vectors, tmp_path):
    gold, texts = [g for _, g in TRAIN], [t for t, _ in TRAIN]
    zs = ZeroShotClassifier(LABELS, combine="max", threshold=0.2).fit(embedder, vectors[0])
    _round_trip(zs, tmp_path, vectors[1])
    _round_trip(PrototypeClassifier(threshold=0.5).fit(vectors[0], gold), tmp_path, vectors[1])
    _round_trip(LogisticClassifier(C=3.0).fit(vectors[0], gold), tmp_path, vectors[1])
    lexical = LogisticClassifier(lexical=True).fit(vectors[0], gold, texts=texts)
    loaded = _round_trip(lexical, tmp_path, vectors[1], [t for t, _ in TEST])
    assert loaded.needs_texts
    with pytest.raises(ConfigError, match="texts"):
        loaded.probabilities(vectors[1])


def test_load_refuses_missing_or_foreign_files(tmp_path):
    with pytest.raises(ConfigError, match="no saved classifier"):
        load_classifier(tmp_path / "nothing")
    (tmp_path / "x.json").write_text(json.dumps({"format": 1, "method": "pickle", "config": {}}))
    np.savez(tmp_path / "x.npz", a=np.zeros(1))
    with pytest.raises(ConfigError, match="unknown method"):
        load_classifier(tmp_path / "x.json")


def test_train_and_model_mismatch(embedder):
    clf = train("logreg", [t for t, _ in TRAIN], [g for _, g in TRAIN], embedder, lexical=True)
    assert classify_texts(clf, embedder, [TEST[1][0]])[0].label == "food"
    clf.model_name = "all-mpnet-base-v2"
    with pytest.raises(IndexMismatchError, match="--model"):
        classify_texts(clf, embedder, ["x"])
    with pytest.raises(ConfigError, match="two labels"):
        train("prototype", ["a", "b"], ["x", "x"], embedder)


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        (["pos=happy", "neg=sad"], {"pos": ["happy"], "neg": ["sad"]}),
        (["pos=happy", "pos=glad", "neg"], {"pos": ["happy", "glad"], "neg": ["neg"]}),
        (["a = x = y ", "b=🙂"], {"a": ["x = y"], "b": ["🙂"]}),
    ],
)
def test_label_specs(specs, expected):
    assert LabelSet.parse(specs).descriptions == expected


@pytest.mark.parametrize("specs", [["only=one"], ["a=", "b=x"], ["unknown=x", "b=y"], ["=x", "b=y"]])
def test_bad_label_specs(specs):
    with pytest.raises(ConfigError):
        LabelSet.parse(specs)


def test_label_files_toml_json_and_builtin(tmp_path):
    (tmp_path / "l.toml").write_text('[labels]\npos = ["good", "great"]\nneg = "bad"\n')
    (tmp_path / "l.json").write_text(json.dumps({"pos": ["good", "great"], "neg": "bad"}))
    assert LabelSet.load(tmp_path / "l.toml") == LabelSet.load(tmp_path / "l.json")
    (tmp_path / "bad.toml").write_text("[labels\n")
    with pytest.raises(ConfigError, match="cannot be parsed"):
        LabelSet.load(tmp_path / "bad.toml")
    assert builtin_labels("rotten-tomatoes").labels == ["fresh", "rotten"]
    assert len(builtin_labels("wiki-topics").labels) == 11


def test_metrics_match_sklearn():
    gold = ["a", "a", "a", "b", "b", "c", "c", "c", "c", "a"]
    pred = ["a", "b", "a", "b", "c", "c", "c", "a", "c", "a"]
    r = classification_metrics(gold, pred)
    assert r.accuracy == pytest.approx(accuracy_score(gold, pred))
    assert r.macro_f1 == pytest.approx(f1_score(gold, pred, average="macro"))
    assert r.weighted_f1 == pytest.approx(f1_score(gold, pred, average="weighted"))
    p, rec, f, s = precision_recall_fscore_support(gold, pred, labels=["a", "b", "c"])
    for i, name in enumerate(["a", "b", "c"]):
        m = r.per_class[name]
        assert (m.precision, m.recall, m.f1, m.support) == pytest.approx((p[i], rec[i], f[i], s[i]))
    np.testing.assert_array_equal(r.confusion[:, :3], confusion_matrix(gold, pred, labels=["a", "b", "c"]))
    assert "macro-F1 " in format_report(r) and r.to_dict()["confusion"]["labels"] == ["a", "b", "c"]


def test_metrics_count_abstentions_as_errors():
    gold, pred = ["a", "b", "b"], ["a", UNKNOWN, "b"]
    r = classification_metrics(gold, pred, ["a", "b"])
    assert r.abstained == 1 and r.accuracy == pytest.approx(2 / 3)
    assert r.per_class["b"].recall == pytest.approx(0.5) and r.per_class["b"].precision == pytest.approx(1.0)
    assert r.confusion.tolist() == [[1, 0, 0], [0, 1, 1]]
