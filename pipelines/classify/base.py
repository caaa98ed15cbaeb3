"""What every classifier shares: the prediction type, the protocol, softmax and abstention.

All classifiers work on embedding vectors (unit rows from :class:`indexing.embedder.Embedder`),
so texts already in an index are never embedded again. ``probabilities(vectors)`` returns
per-label scores that sum to 1; ``predict`` turns them into :class:`Prediction`\\ s and abstains
(label ``"unknown"``) where the classifier's confidence falls below its threshold.

Example:
    >>> softmax(np.array([[0.0, 0.0]]))
    array([[0.5, 0.5]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from indexing.errors import ConfigError
from pipelines.classify.label_set import UNKNOWN


@dataclass(frozen=True)
class Prediction:
    """One classified text.

    Attributes:
        label: the chosen label, or ``"unknown"`` when the classifier abstained.
        score: the confidence the threshold is compared with (top probability; for zero-shot
            the raw cosine similarity to the best label's descriptions).
        scores: label → probability, summing to 1.
    """

    label: str
    score: float
    scores: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "label": self.label,
            "score": round(self.score, 6),
            "scores": {k: round(v, 6) for k, v in self.scores.items()},
        }


@runtime_checkable
class Classifier(Protocol):
    """A fitted classifier over embedding vectors."""

    method: str
    labels: list[str]
    model_name: str
    threshold: float | None
    needs_texts: bool

    def probabilities(self, vectors: np.ndarray, texts: list[str] | None = None) -> np.ndarray:
        """(n, d) unit vectors (and their texts, if ``needs_texts``) → (n, k) probabilities."""
        ...

    def confidence(self, vectors: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """(n,) values compared with ``threshold`` to abstain."""
        ...


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def check_vectors(vectors: np.ndarray, dimension: int) -> np.ndarray:
    """Validate (n, d) vectors at the boundary and return them as float32.

    Raises:
        ConfigError: wrong rank or dimension (e.g. vectors from another model).
    """
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] != dimension:
        raise ConfigError(
            f"expected vectors of shape (n, {dimension}), got {arr.shape}: were they embedded "
            "with the same model the classifier was built with?"
        )
    return arr


def predict(classifier: Classifier, vectors: np.ndarray, texts: list[str] | None = None) -> list[Prediction]:
    """Label each vector, abstaining where ``confidence < threshold``.

    Args:
        classifier: a fitted classifier.
        vectors: (n, d) unit vectors from the classifier's embedding model.
        texts: the n texts; needed only when ``classifier.needs_texts`` (word features).

    Example:
        >>> [p.label for p in predict(clf, embedder.encode(["great film"]))]  # doctest: +SKIP
        ['fresh']
    """
    return predictions_from(classifier, vectors, classifier.probabilities(vectors, texts))


def predictions_from(classifier: Classifier, vectors: np.ndarray, probs: np.ndarray) -> list[Prediction]:
    """:class:`Prediction`\\ s from already computed (n, k) probabilities of ``vectors``."""
    conf = classifier.confidence(vectors, probs)
    best = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=int)
    out = []
    for row, idx, value in zip(probs, best, conf, strict=True):
        label = classifier.labels[int(idx)]
        if classifier.threshold is not None and value < classifier.threshold:
            label = UNKNOWN
        scores = {name: float(p) for name, p in zip(classifier.labels, row, strict=True)}
        out.append(Prediction(label, float(value), scores))
    return out


def predicted_labels(classifier: Classifier, vectors: np.ndarray, texts: list[str] | None = None) -> list[str]:
    """Just the labels of :func:`predict` (``"unknown"`` where it abstained)."""
    return [p.label for p in predict(classifier, vectors, texts)]
