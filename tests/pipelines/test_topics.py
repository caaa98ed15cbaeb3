"""Topic modelling on synthetic vectors: recovery, c-TF-IDF by hand, reproducibility, outliers, persistence."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from pipelines.topics.cluster import (
    HDBSCANClusterer,
    KMeansClusterer,
    auto_min_cluster_size,
    reassign_outliers,
    renumber_by_size,
    topic_centroids,
)
from pipelines.topics.ctfidf import class_keywords, ctfidf_weights
from pipelines.topics.index import majority_topic
from pipelines.topics.model import TopicModel, default_label
from pipelines.topics.reduce import PCAReducer

WORDS = [
    ["violin", "symphony", "orchestra"],
    ["volcano", "basalt", "magma"],
    ["enzyme", "protein", "membrane"],
    ["senate", "ballot", "treaty"],
    ["theorem", "integral", "lemma"],
]


def blobs(n_per: int = 80, dim: int = 64, noise: float = 0.15, seed: int = 0):
    """Well-separated unit-vector clusters with cluster-specific words; returns (X, texts, gold)."""
    rng = np.random.default_rng(seed)
    centers = np.linalg.qr(rng.normal(size=(dim, len(WORDS))))[0].T  # orthonormal cluster centres
    X, texts, gold = [], [], []
    for c, words in enumerate(WORDS):
        pts = centers[c] + noise * rng.normal(size=(n_per, dim)) / math.sqrt(dim)
        X.append(pts / np.linalg.norm(pts, axis=1, keepdims=True))
        for i in range(n_per):
            texts.append(f"the {words[i % 3]} and the {words[(i + 1) % 3]} of item {i}")
            gold.append(c)
    return np.vstack(X).astype(np.float32), texts, np.array(gold)


@pytest.fixture(scope="module")
def data():
    return blobs()


@pytest.fixture(scope="module")
def fitted(data):
    X, texts, _ = data
    return TopicModel(seed=0).fit(X, texts)


def test_recovers_well_separated_clusters(data, fitted):
    X, _, gold = data
    assert adjusted_rand_score(gold, fitted.labels_) == pytest.approx(1.0)
    assert len([t for t in fitted.topics_ if t.id >= 0]) == len(WORDS)
    for topic in fitted.topics_:
        members = gold[fitted.labels_ == topic.id]
        assert set(topic.keywords[:3]) == set(WORDS[np.bincount(members).argmax()])
    assert fitted.coords_.shape == (len(X), 2)


def test_kmeans_when_number_of_topics_is_asked(data):
    X, texts, gold = data
    model = TopicModel.from_options(n_topics=5, seed=0).fit(X, texts)
    assert isinstance(model.clusterer, KMeansClusterer)
    assert adjusted_rand_score(gold, model.labels_) == pytest.approx(1.0)
    assert model.outlier_rate_ == 0.0


def test_same_seed_same_topics(data, fitted):
    X, texts, _ = data
    again = TopicModel(seed=0).fit(X, texts)
    assert np.array_equal(again.labels_, fitted.labels_)
    assert np.array_equal(again.coords_, fitted.coords_)
    assert [t.to_dict() for t in again.topics_] == [t.to_dict() for t in fitted.topics_]


def test_ctfidf_matches_hand_computation():
    # class 0: apple×2 banana×1 (3 words); class 1: banana×1 cherry×1 (2 words) → A = 2.5
    kw = class_keywords(["apple apple", "banana", "banana cherry"], np.array([0, 0, 1]), vectorizer=CountVectorizer())
    idf_apple, idf_banana, idf_cherry = math.log(1 + 2.5 / 2), math.log(1 + 2.5 / 2), math.log(1 + 2.5 / 1)
    assert kw[0].words == ["apple", "banana"]
    assert kw[0].scores == pytest.approx([2 / 3 * idf_apple, 1 / 3 * idf_banana])
    assert kw[1].words == ["cherry", "banana"]
    assert kw[1].scores == pytest.approx([1 / 2 * idf_cherry, 1 / 2 * idf_banana])


def test_ctfidf_equals_bertopic_when_average_is_whole():
    bertopic_ctfidf = pytest.importorskip("bertopic.vectorizers").ClassTfidfTransformer
    counts = np.array([[3, 0, 1, 0], [1, 2, 0, 1], [0, 1, 1, 2]])  # 4 words per class: BERTopic's int(A) == A
    ours = ctfidf_weights(counts).toarray()
    theirs = bertopic_ctfidf().fit_transform(sp.csr_matrix(counts)).toarray()
    assert np.allclose(ours, theirs)


@pytest.mark.parametrize("texts", [["the and of", "a an the"], ["", ""], ["🙂", "¿?"]])
def test_ctfidf_survives_texts_without_vocabulary(texts):
    kw = class_keywords(texts, np.array([0, 1]))
    assert set(kw) == {0, 1}


def test_outliers_reassigned_to_nearest_centroid(data):
    X, texts, _ = data
    rng = np.random.default_rng(1)
    noise = rng.normal(size=(15, X.shape[1])).astype(np.float32)  # too few to form a topic of 20
    noisy = np.vstack([X, noise / np.linalg.norm(noise, axis=1, keepdims=True)])
    noisy_texts = texts + ["stray remark"] * len(noise)
    kept = TopicModel(PCAReducer(20), HDBSCANClusterer(min_cluster_size=20), reassign=False, map_2d=False)
    raw = kept.fit(noisy, noisy_texts).labels_
    assert (raw == -1).any(), "the data must produce outliers for this test to mean anything"
    moved = TopicModel(PCAReducer(20), HDBSCANClusterer(min_cluster_size=20), map_2d=False).fit(noisy, noisy_texts)
    assert (moved.labels_ >= 0).all()
    assert moved.outlier_rate_ == pytest.approx((raw == -1).mean())
    ids, cents = topic_centroids(raw, noisy)
    expected = ids[np.argmax(noisy[raw == -1] @ cents.T, axis=1)]
    assert np.array_equal(moved.labels_[raw == -1], expected)
    assert np.array_equal(moved.labels_[raw >= 0], raw[raw >= 0])


def test_reassign_outliers_small_example():
    E = np.array([[1, 0], [0, 1], [0.2, 0.9], [0.9, -0.2]], dtype=np.float32)
    assert reassign_outliers(np.array([0, 1, -1, -1]), E).tolist() == [0, 1, 1, 0]


def test_renumber_by_size_and_majority():
    assert renumber_by_size(np.array([4, 4, 9, -1, 9, 9, 2])).tolist() == [1, 1, 0, -1, 0, 0, 2]
    assert majority_topic(["a", "a", "b", "b", "c"], np.array([3, 1, -1, -1, 2])) == {"a": 1, "b": -1, "c": 2}


def test_labeler_gets_keywords_and_texts(data):
    X, texts, _ = data
    seen: list[tuple[list[str], list[str]]] = []

    def labeler(keywords: list[str], examples: list[str]) -> str:
        seen.append((keywords, examples))
        return "" if len(seen) == 1 else f"about {keywords[0]}"

    model = TopicModel(PCAReducer(5), KMeansClusterer(5), labeler=labeler, map_2d=False).fit(X, texts)
    assert len(seen) == 5 and all(len(e) == 3 and set(e) <= set(texts) for _, e in seen)
    assert model.topics_[0].label == default_label(model.topics_[0].keywords, [])  # empty label → default
    assert [t.label for t in model.topics_[1:]] == [f"about {t.keywords[0]}" for t in model.topics_[1:]]


def test_save_load_round_trip(tmp_path, fitted, data):
    X, _, _ = data
    fitted.save(tmp_path / "topics.npz")
    loaded = TopicModel.load(tmp_path / "topics.npz")
    assert [t.to_dict() for t in loaded.topics_] == [t.to_dict() for t in fitted.topics_]
    assert np.array_equal(loaded.coords_, fitted.coords_) and loaded.params == fitted.params
    assert np.array_equal(loaded.transform(X), fitted.labels_)


@pytest.mark.parametrize(
    ("embeddings", "texts"),
    [(np.zeros((0, 4)), []), (np.ones((3, 4)), ["a", "b"]), (np.full((2, 4), np.nan), ["a", "b"])],
)
def test_bad_input_is_refused(embeddings, texts):
    with pytest.raises(ValueError):
        TopicModel(map_2d=False).fit(embeddings, texts)


def test_few_points_still_work():
    X = np.eye(4, dtype=np.float32)
    model = TopicModel(seed=0).fit(X, ["w x", "y z", "w y", "x z"])
    assert model.labels_.shape == (4,) and model.coords_.shape == (4, 2)


# 5-d UMAP coordinates (seed 0) of 2,000 wiki summaries sampled with seed 0 from wiki-topics, and their gold
# topics: the layout HDBSCAN really sees, without embedding 2,000 texts in the suite.
LAYOUT = Path(__file__).with_name("wiki_topics_layout.npz")


def test_the_second_pass_finds_topics_among_the_first_passs_outliers() -> None:
    data = np.load(LAYOUT)
    layout, gold = data["layout"], data["gold"]
    scored = data["names"][gold] != "Uncategorized"
    first = HDBSCANClusterer(second_pass=False).fit_predict(layout)
    both = HDBSCANClusterer().fit_predict(layout)
    assert (first < 0).mean() > 0.15, "the first pass leaves many outliers on real summaries"
    assert (both < 0).mean() < 0.10
    assert np.array_equal(both[first >= 0], first[first >= 0]), "the first pass's topics stay as they were"
    new = sorted(set(both[(first < 0) & (both >= 0)].tolist()))
    assert new and min(new) > first.max(), "what the second pass finds are new topics"
    size = auto_min_cluster_size(len(layout))
    assert all((both == t).sum() >= size for t in new)
    nmi = [normalized_mutual_info_score(gold[scored], labels[scored]) for labels in (first, both)]
    assert nmi[1] >= nmi[0] - 0.005, nmi


def test_the_second_pass_leaves_structureless_points_as_outliers() -> None:
    rng = np.random.default_rng(0)
    blobs = [rng.normal(center, 0.05, (150, 5)) for center in rng.normal(0, 3, (3, 5))]
    scatter = rng.uniform(-10, 10, (60, 5))  # far apart: no density to share, even among themselves
    X = np.vstack([*blobs, scatter])
    first = HDBSCANClusterer(min_cluster_size=20, second_pass=False).fit_predict(X)
    assert (first[450:] < 0).sum() >= 40, "the scattered points are the first pass's outliers"
    labels = HDBSCANClusterer(min_cluster_size=20).fit_predict(X)
    assert np.array_equal(labels, first), "no topic is made of points that share no density"
