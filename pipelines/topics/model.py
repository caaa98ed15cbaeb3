"""TopicModel: precomputed embeddings → reduce → cluster → c-TF-IDF keywords → labels and a 2-D map.

The facade follows BERTopic's shape (``fit``, ``transform``, ``save``, ``load``, swappable stages)
but never embeds: it takes the vectors already in the index.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from pipelines.topics.cluster import (
    Clusterer,
    HDBSCANClusterer,
    KMeansClusterer,
    nearest_topic,
    reassign_outliers,
    renumber_by_size,
    topic_centroids,
)
from pipelines.topics.ctfidf import class_keywords
from pipelines.topics.persist import model_from_bytes, model_to_bytes
from pipelines.topics.reduce import Reducer, UMAPReducer

if TYPE_CHECKING:  # imported where used: scikit-learn costs about a second to import
    from sklearn.feature_extraction.text import CountVectorizer

Labeler = Callable[[list[str], list[str]], str]
OUTLIER_LABEL = "outliers"
LabelSource = Literal["keywords", "labeler", "fallback", "outliers"]
LABEL_SOURCES: tuple[str, ...] = get_args(LabelSource)


def default_label(keywords: list[str], texts: list[str]) -> str:
    """The default labeler: the top three keywords joined.

    Example:
        >>> default_label(["jazz", "album", "band", "song"], [])
        'jazz, album, band'
    """
    return ", ".join(keywords[:3]) or "(no keywords)"


@dataclass
class Topic:
    """One topic as shown to users and saved with the index.

    Attributes:
        id: topic id, 0 = largest; -1 = outliers.
        size: members.
        keywords: c-TF-IDF terms, best first.
        scores: their weights.
        representative: ids (or row numbers) of the members nearest the topic centroid, best first.
        texts: those members' texts.
        label: the topic's name: the labeler's answer (e.g. one the generator wrote), else the top three
            keywords.
        label_source: where ``label`` came from: "keywords" (no labeler), "labeler" (the labeler's
            answer), "fallback" (the labeler answered nothing, so the top keywords), "outliers" (topic -1).

    Raises:
        ValueError: an unknown ``label_source``.
    """

    id: int
    size: int
    keywords: list[str]
    scores: list[float]
    representative: list[int]
    texts: list[str]
    label: str
    label_source: LabelSource = "keywords"

    def __post_init__(self) -> None:
        if self.label_source not in LABEL_SOURCES:
            raise ValueError(f"unknown label_source {self.label_source!r}: use one of {', '.join(LABEL_SOURCES)}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


class TopicModel:
    """Topics from precomputed vectors.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> E = np.vstack([rng.normal(c, 0.05, (60, 8)) for c in np.eye(8)[:3]]).astype(np.float32)
        >>> texts = ["cats purr"] * 60 + ["dogs bark"] * 60 + ["fish swim"] * 60
        >>> model = TopicModel(seed=0).fit(E, texts)
        >>> sorted(t.label for t in model.topics_)
        ['bark, dogs', 'cats, purr', 'fish, swim']

    Args:
        reducer: object with ``fit_transform``; default :class:`UMAPReducer` seeded with ``seed``.
        clusterer: object with ``fit_predict``; default :class:`HDBSCANClusterer`.
        vectorizer: scikit-learn ``CountVectorizer`` for c-TF-IDF; default English unigrams.
        labeler: ``labeler(keywords, texts) -> label``, e.g. :class:`~pipelines.topics.naming.GeneratorNamer`;
            None labels each topic with its top three keywords (:func:`default_label`).
        reassign: give outliers the topic with the nearest centroid (cosine).
        top_n: keywords per topic.
        n_representative: representative texts per topic.
        map_2d: compute 2-D coordinates (with the default reducer they reuse its neighbour graph).
        seed: random seed for the default stages; None = faster, not reproducible.
        progress: called with each stage's name ("reduce", "cluster", "describe", "name" when there is a
            labeler, "map") as it starts.
    """

    def __init__(
        self,
        reducer: Reducer | None = None,
        clusterer: Clusterer | None = None,
        *,
        vectorizer: CountVectorizer | None = None,
        labeler: Labeler | None = None,
        reassign: bool = True,
        top_n: int = 10,
        n_representative: int = 3,
        map_2d: bool = True,
        seed: int | None = 0,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.seed = seed
        self.progress = progress
        self.reducer = reducer if reducer is not None else UMAPReducer(random_state=seed)
        self.clusterer = clusterer if clusterer is not None else HDBSCANClusterer()
        self.vectorizer = vectorizer
        self.labeler = labeler
        self.reassign = reassign
        self.top_n = top_n
        self.n_representative = n_representative
        self.map_2d = map_2d
        self.params: dict[str, Any] = {"seed": seed, "reassign": reassign}

    @classmethod
    def from_options(
        cls,
        *,
        n_topics: int | None = None,
        min_cluster_size: int | None = None,
        seed: int | None = 0,
        **kwargs: Any,
    ) -> TopicModel:
        """Build from CLI-style options: KMeans when ``n_topics`` is given, else HDBSCAN.

        Example:
            >>> type(TopicModel.from_options(n_topics=5).clusterer).__name__
            'KMeansClusterer'
        """
        if n_topics is not None and min_cluster_size is not None:
            raise ValueError("give either n_topics or min_cluster_size, not both")
        clusterer: Clusterer
        if n_topics is not None:
            clusterer = KMeansClusterer(n_topics, random_state=seed)
        else:
            clusterer = HDBSCANClusterer(min_cluster_size=min_cluster_size)
        model = cls(clusterer=clusterer, seed=seed, **kwargs)
        model.params.update(n_topics=n_topics, min_cluster_size=min_cluster_size)
        return model

    def fit(self, embeddings: np.ndarray, texts: Sequence[str], ids: Sequence[int] | None = None) -> TopicModel:
        """Find topics.

        Args:
            embeddings: (n, d) float vectors (any length; cosine is used where it matters).
            texts: n texts the vectors were made from (for keywords and examples).
            ids: n ids reported in ``Topic.representative`` (default: row numbers).

        Returns:
            self, with ``labels_`` (n,), ``raw_labels_`` (before reassignment), ``topics_``,
            ``centroids_`` (k, d), ``centroid_ids_`` (k,), ``coords_`` (n, 2) or None,
            ``outlier_rate_`` (share of -1 before reassignment) and ``timings_`` (seconds per stage).
        """
        X = _validate(embeddings, texts, ids)
        self.ids_ = np.arange(len(X), dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        timings: dict[str, float] = {}
        start = time.perf_counter()
        reduced = self._timed(timings, "reduce", lambda: self.reducer.fit_transform(X))
        raw = self._timed(timings, "cluster", lambda: renumber_by_size(self.clusterer.fit_predict(reduced)))
        self.raw_labels_ = raw
        self.outlier_rate_ = float((raw < 0).mean())
        self.labels_ = reassign_outliers(raw, X) if self.reassign else raw.copy()
        self.centroid_ids_, self.centroids_ = topic_centroids(self.labels_, X)
        self.topics_ = self._timed(timings, "describe", lambda: self._describe(X, texts))
        if self.labeler is not None:
            self._timed(timings, "name", lambda: self._name(self.topics_))
        self.coords_ = self._timed(timings, "map", lambda: self._map(reduced)) if self.map_2d else None
        timings["total"] = time.perf_counter() - start
        self.timings_ = timings
        return self

    def fit_transform(
        self, embeddings: np.ndarray, texts: Sequence[str], ids: Sequence[int] | None = None
    ) -> np.ndarray:
        """:meth:`fit` and return ``labels_``."""
        return self.fit(embeddings, texts, ids).labels_

    def transform(self, embeddings: np.ndarray) -> np.ndarray:
        """Topic of new vectors: the nearest centroid by cosine. Returns (n,) int64."""
        X = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        if X.shape[1] != self.centroids_.shape[1]:
            raise ValueError(
                f"vectors have dimension {X.shape[1]}, the topics were fitted on {self.centroids_.shape[1]}"
            )
        return nearest_topic(X, self.centroid_ids_, self.centroids_)

    def topic(self, topic_id: int) -> Topic:
        """The :class:`Topic` with this id (KeyError if none)."""
        for t in self.topics_:
            if t.id == topic_id:
                return t
        raise KeyError(f"no topic {topic_id}; ids are {[t.id for t in self.topics_]}")

    def _timed(self, timings: dict[str, float], stage: str, fn: Callable[[], Any]) -> Any:
        if self.progress is not None:
            self.progress(stage)
        start = time.perf_counter()
        out = fn()
        timings[stage] = time.perf_counter() - start
        return out

    def _describe(self, X: np.ndarray, texts: Sequence[str]) -> list[Topic]:
        """Keywords, representative members and a label for every topic (outliers last)."""
        keywords = class_keywords(texts, self.labels_, top_n=self.top_n, vectorizer=self.vectorizer)
        topics: list[Topic] = []
        for topic_id in sorted(keywords, key=lambda t: (t < 0, t)):
            rows = np.flatnonzero(self.labels_ == topic_id)
            if topic_id >= 0:
                centroid = self.centroids_[np.searchsorted(self.centroid_ids_, topic_id)]
                sims = X[rows] @ centroid
                rows = rows[np.argsort(-sims, kind="stable")]
            best = rows[: self.n_representative]
            kw = keywords[topic_id]
            example_texts = [texts[i] for i in best]
            outliers = topic_id < 0
            label = OUTLIER_LABEL if outliers else default_label(kw.words, example_texts)
            source: LabelSource = "outliers" if outliers else "keywords"
            topics.append(
                Topic(topic_id, len(rows), kw.words, kw.scores, self.ids_[best].tolist(), example_texts, label, source)
            )
        return topics

    def _name(self, topics: list[Topic]) -> None:
        """Let the labeler name every topic but the outliers; an empty answer keeps the keywords ("fallback")."""
        assert self.labeler is not None
        for topic in topics:
            if topic.id < 0:
                continue
            answer = self.labeler(topic.keywords, topic.texts).strip()
            topic.label, topic.label_source = (answer, "labeler") if answer else (topic.label, "fallback")

    def _map(self, reduced: np.ndarray) -> np.ndarray:
        """2-D coordinates: the reducer's own map when it has one, else PCA of the reduced vectors."""
        mapper = getattr(self.reducer, "map_2d", None)
        if callable(mapper):
            return np.asarray(mapper(), dtype=np.float32)
        from pipelines.topics.reduce import pca

        return pca(reduced, 2, self.seed)

    def to_bytes(self) -> bytes:
        """Serialise the fitted result (not the stage objects) as a pickle-free ``.npz``."""
        return model_to_bytes(self)

    @classmethod
    def from_bytes(cls, payload: bytes) -> TopicModel:
        """Inverse of :meth:`to_bytes`; the result can ``transform`` and be read, not refitted."""
        return model_from_bytes(cls(), payload)

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_bytes` to ``path``."""
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path: str | Path) -> TopicModel:
        """Read a model written by :meth:`save`."""
        return cls.from_bytes(Path(path).read_bytes())


def _validate(embeddings: np.ndarray, texts: Sequence[str], ids: Sequence[int] | None) -> np.ndarray:
    """Check shapes at the boundary; return C-contiguous float32 vectors."""
    X = np.ascontiguousarray(embeddings, dtype=np.float32)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"embeddings must be a non-empty (n, d) array, got shape {X.shape}")
    if len(texts) != len(X) or (ids is not None and len(ids) != len(X)):
        raise ValueError(f"{len(X)} vectors but {len(texts)} texts and {len(ids) if ids is not None else len(X)} ids")
    if not np.isfinite(X).all():
        raise ValueError("embeddings contain NaN or infinite values")
    return X
