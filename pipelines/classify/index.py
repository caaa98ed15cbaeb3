"""Classify everything in an index from its stored vectors (nothing is embedded again).

Each chunk gets ``{key: label, key_score: confidence}`` in its metadata. Each document gets the
mean of its chunks' per-label probabilities (long documents are judged on all their chunks, not
the first one) and from that ``{key: label, key_score: confidence, doc_key: label}``. Search
filters then work on both levels: ``--where label=Arts`` matches chunks by their own label
(chunk metadata wins over document metadata), ``--where doc_label=Arts`` every chunk of a
document labelled Arts.

:func:`label_index` is the whole job from label descriptions, the one the CLI, the UI and the
Workspace call: a zero-shot classifier centred on the index's own vectors (or the generator), then
:func:`classify_index`. Keys follow :mod:`indexing.filters`: one ``--where`` could never match (``1x``)
or that means something else (``topic_id``, ``source``; ``id``, which would write ``doc_id``) is refused
before anything is scored.

Example:
    >>> result = label_index(store, labels, encoder=embedder, key="sentiment")  # doctest: +SKIP
    >>> result.document_counts
    {'fresh': 12, 'rotten': 7}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

import numpy as np

from indexing.errors import ConfigError, IndexMismatchError
from indexing.filters import label_keys
from pipelines.classify.base import Classifier, predictions_from
from pipelines.classify.embed_cache import TextEncoder
from pipelines.classify.label_set import UNKNOWN, LabelSet
from pipelines.classify.service import MIN_TEXTS_TO_CENTER
from pipelines.classify.zero_shot import ZeroShotClassifier

if TYPE_CHECKING:
    from pipelines.classify.auto import AutoClassifier
    from pipelines.generation.base import Generator

IndexMethod = Literal["zero-shot", "generate", "auto"]
INDEX_METHODS: tuple[str, ...] = get_args(IndexMethod)
Calibration = Literal["auto", "center", "none"]
INDEX_CALIBRATIONS: tuple[str, ...] = get_args(Calibration)


class ChunkLike(Protocol):
    """The fields of a stored chunk record that classification reads."""

    id: int
    doc_id: str
    text: str


class ClassifiableStore(Protocol):
    """What :func:`classify_index` needs from ``indexing.store.Store``."""

    def vectors(self, ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def get_chunks(self, ids: Sequence[int]) -> Sequence[ChunkLike]: ...

    def update_meta(
        self, chunk_meta: dict[int, dict[str, Any]] | None = None, doc_meta: dict[str, dict[str, Any]] | None = None
    ) -> None: ...


@dataclass
class IndexClassification:
    """What :func:`classify_index` wrote, and the classifier that wrote it (to save, e.g. ``--save``)."""

    key: str
    chunks: int
    documents: int
    chunk_counts: dict[str, int] = field(default_factory=dict)
    document_counts: dict[str, int] = field(default_factory=dict)
    classifier: Classifier | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (with ``auto``: what the generator labelled, the sample as chunk ids)."""
        out: dict[str, Any] = {"key": self.key, "chunks": self.chunks, "documents": self.documents,
                               "chunk_counts": self.chunk_counts, "document_counts": self.document_counts}
        report = getattr(self.classifier, "report", None)
        if report is not None:
            out["auto"] = {**report.to_dict(), "sample": [int(i) for i in getattr(self.classifier, "sample_ids", [])]}
        return out


def _doc_labels(
    classifier: Classifier, doc_of: list[str], vectors: np.ndarray, probs: np.ndarray
) -> dict[str, tuple[str, float]]:
    """Document → (label, confidence) from the mean of its chunks' probabilities."""
    groups: dict[str, list[int]] = {}
    for row, doc_id in enumerate(doc_of):
        groups.setdefault(doc_id, []).append(row)
    out = {}
    for doc_id, rows in groups.items():
        mean = probs[rows].mean(axis=0, keepdims=True)
        # The document's confidence: mean over its chunks of the confidence in the document's label.
        conf = float(classifier.confidence(vectors[rows], np.repeat(mean, len(rows), axis=0)).mean())
        label = classifier.labels[int(mean.argmax())]
        if classifier.threshold is not None and conf < classifier.threshold:
            label = UNKNOWN
        out[doc_id] = (label, conf)
    return out


def _score_chunks(
    store: ClassifiableStore,
    classifier: Classifier,
    ids: np.ndarray,
    vectors: np.ndarray,
    key: str,
    batch_size: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[dict[int, dict[str, Any]], list[str], list[int], np.ndarray]:
    """Chunk metadata, each scored row's document, the scored rows and their (n, k) probabilities."""
    chunk_meta: dict[int, dict[str, Any]] = {}
    doc_of: list[str] = []
    probs_parts: list[np.ndarray] = [np.zeros((0, len(classifier.labels)))]
    kept: list[int] = []
    for start in range(0, len(ids), batch_size):
        records = {r.id: r for r in store.get_chunks([int(i) for i in ids[start : start + batch_size]])}
        # A vector without a chunk record (should not happen) is skipped rather than failing the run.
        rows = [start + k for k, i in enumerate(ids[start : start + batch_size]) if int(i) in records]
        part = [records[int(ids[r])] for r in rows]
        texts = [r.text for r in part] if classifier.needs_texts else None
        probs_parts.append(classifier.probabilities(vectors[rows], texts))
        for record, pred in zip(part, predictions_from(classifier, vectors[rows], probs_parts[-1]), strict=True):
            chunk_meta[record.id] = {key: pred.label, f"{key}_score": round(pred.score, 4)}
        doc_of += [r.doc_id for r in part]
        kept.extend(rows)
        if progress:
            progress(min(start + batch_size, len(ids)), len(ids))
    return chunk_meta, doc_of, kept, np.concatenate(probs_parts)


def classify_index(
    store: ClassifiableStore,
    classifier: Classifier,
    key: str = "label",
    *,
    index_model: str | None = None,
    batch_size: int = 2048,
    progress: Callable[[int, int], None] | None = None,
) -> IndexClassification:
    """Label every chunk and document of an index and store the labels as metadata.

    Args:
        store: the index (``indexing.store.Store``).
        classifier: fitted on vectors of the index's embedding model.
        key: metadata key, e.g. ``"label"`` or ``"sentiment"``.
        index_model: the index's embedding model; refused when it differs from the classifier's.
        batch_size: chunks scored per step.
        progress: called with (chunks done, total).

    Raises:
        IndexMismatchError: the classifier was built on another embedding model.
        ConfigError: a key ``--where`` could not match, or a reserved one (see :func:`indexing.filters.label_keys`).
    """
    key, score_key, doc_key = label_keys(key)
    if index_model and classifier.model_name and index_model != classifier.model_name:
        raise IndexMismatchError(
            f"classifier was built with {classifier.model_name!r} but the index uses {index_model!r}; "
            f"rebuild the classifier with --model {index_model}"
        )
    ids, vectors = store.vectors()
    chunk_meta, doc_of, kept, probs = _score_chunks(store, classifier, ids, vectors, key, batch_size, progress)
    docs = _doc_labels(classifier, doc_of, vectors[kept], probs)
    doc_meta = {d: {key: lab, score_key: round(c, 4), doc_key: lab} for d, (lab, c) in docs.items()}
    store.update_meta(chunk_meta=chunk_meta, doc_meta=doc_meta)
    return IndexClassification(
        key, len(chunk_meta), len(doc_meta),
        dict(Counter(m[key] for m in chunk_meta.values()).most_common()),
        dict(Counter(lab for lab, _ in docs.values()).most_common()),
        classifier,
    )


def index_zero_shot(
    store: ClassifiableStore,
    labels: LabelSet,
    encoder: TextEncoder,
    *,
    calibration: Calibration = "auto",
    combine: str = "mean",
    threshold: float | None = None,
) -> ZeroShotClassifier:
    """A zero-shot classifier for an index: its labels' descriptions, centred on the index's own vectors.

    Args:
        store: the index (its stored vectors are the reference; nothing is embedded but the descriptions).
        labels: names and descriptions.
        encoder: the index's embedding model.
        calibration: ``"auto"`` centres when the index holds at least
            :data:`~pipelines.classify.service.MIN_TEXTS_TO_CENTER` chunks, ``"center"`` always, ``"none"`` never.
        combine / threshold: see :class:`~pipelines.classify.zero_shot.ZeroShotClassifier`.

    Raises:
        ConfigError: an unknown calibration or combine.

    Example:
        >>> index_zero_shot(store, LabelSet.parse(["a=cats", "b=bread"]), embedder).bias.shape  # doctest: +SKIP
        (2,)
    """
    if calibration not in INDEX_CALIBRATIONS:
        raise ConfigError(f"calibration {calibration!r} is unknown: use one of {', '.join(INDEX_CALIBRATIONS)}")
    clf = ZeroShotClassifier(labels, combine=combine, threshold=threshold).fit(encoder)
    if calibration != "none":
        reference = store.vectors()[1]
        if len(reference) and (calibration == "center" or len(reference) >= MIN_TEXTS_TO_CENTER):
            clf.center(reference)
    return clf


def label_index(
    store: ClassifiableStore,
    labels: LabelSet,
    key: str = "label",
    *,
    method: IndexMethod = "zero-shot",
    encoder: TextEncoder | None = None,
    generator: Generator | None = None,
    calibration: Calibration = "auto",
    combine: str = "mean",
    threshold: float | None = None,
    index_model: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    auto: AutoClassifier | None = None,
) -> IndexClassification:
    """Label every chunk and document of an index from label descriptions (the CLI's and the UI's one path).

    Args:
        store: the index.
        labels: names and descriptions.
        key: metadata key (checked before any model work).
        method: ``"zero-shot"`` (:func:`index_zero_shot`, needs ``encoder``), ``"generate"`` (the
            generator picks a label name per chunk, needs ``generator``) or ``"auto"`` (``auto``, an unfitted
            :class:`~pipelines.classify.auto.AutoClassifier`, is fitted on the stored vectors and reads the
            texts of its sample only).
        calibration / combine: zero-shot only.
        threshold: answer ``"unknown"`` below it (cosine similarity, or the generator's probability).
        index_model: the index's embedding model (a zero-shot classifier of another model is refused).
        progress: called with (chunks done, total).

    Raises:
        ConfigError: an invalid or reserved key, an unknown method or calibration, a missing model.
        IndexMismatchError: ``encoder`` is not the index's model.
    """
    label_keys(key)
    if method not in INDEX_METHODS:
        raise ConfigError(f"index classification method {method!r} is unknown: use one of {', '.join(INDEX_METHODS)}")
    classifier: Classifier
    if method == "auto":
        if auto is None:
            raise ConfigError("method 'auto' needs its classifier: pass auto= (Workspace.auto_classifier)")
        ids, vectors = store.vectors()

        def texts_of(rows: Sequence[int]) -> list[str]:
            records = {r.id: r.text for r in store.get_chunks([int(ids[r]) for r in rows])}
            return [records.get(int(ids[r]), "") for r in rows]

        corrected: list[int] = []
        for start in range(0, len(ids) if auto.corrections else 0, 2048):  # the rows a person labelled
            chunk_ids = [int(i) for i in ids[start : start + 2048]]
            found = {r.id for r in store.get_chunks(chunk_ids) if r.text in auto.corrections}
            corrected += [start + k for k, i in enumerate(chunk_ids) if i in found]
        auto.fit(vectors, texts_of, corrected)
        auto.sample_ids = [int(ids[r]) for r in auto.report.sample]
        classifier = auto
    elif method == "generate":
        if generator is None:
            raise ConfigError("method 'generate' needs a generator: pass one (e.g. the preset's)")
        from pipelines.classify.generative import GenerativeClassifier

        classifier = GenerativeClassifier(labels, generator, threshold=threshold)
    else:
        if encoder is None:
            raise ConfigError("method 'zero-shot' needs the index's embedding model: pass encoder=")
        classifier = index_zero_shot(
            store, labels, encoder, calibration=calibration, combine=combine, threshold=threshold
        )
    return classify_index(store, classifier, key, index_model=index_model, progress=progress)
