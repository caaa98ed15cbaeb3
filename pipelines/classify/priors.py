"""Label-free adaptation of a classifier's probabilities to the set of texts being labelled.

A zero-shot classifier (embeddings or generator) has priors nobody chose: some labels win more
often than the texts warrant. Two corrections use only the unlabelled input set:

- ``center``: subtract each label's mean log-probability over the input set, then renormalise.
  This removes a constant per-label bias; on an input set whose classes are roughly balanced it
  is the right correction, and it equals :meth:`ZeroShotClassifier.center` for embedding scores.
- ``em``: re-estimate the class priors of the input set by expectation–maximisation (Saerens,
  Latinne & Decaestecker, 2002, "Adjusting the outputs of a classifier to new a priori
  probabilities"), assuming the classifier's probabilities are calibrated under uniform priors;
  then reweight each posterior by new prior / old prior. This corrects a real prior shift of a
  calibrated classifier, but it amplifies a classifier's own bias rather than removing it.

Example:
    >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4]])
    >>> np.round(adapt(probs, "center", min_texts=1)[:, 0], 2)
    array([0.7 , 0.51, 0.28])
"""

from __future__ import annotations

import numpy as np

from indexing.errors import ConfigError
from pipelines.classify.base import Classifier, Prediction, predictions_from

PRIORS = ("none", "center", "em")
# A prior (k numbers) estimated from fewer texts than this is mostly noise.
MIN_TEXTS_TO_ADAPT = 50
_FLOOR = 1e-300


def em_priors(
    probs: np.ndarray, base: np.ndarray | None = None, *, max_iter: int = 1000, tol: float = 1e-9
) -> tuple[np.ndarray, np.ndarray]:
    """EM estimate of the input set's class priors (Saerens et al., 2002).

    Iterates ``p'(y|x) ∝ p(y|x) · π(y) / π₀(y)`` and ``π(y) = mean over x of p'(y|x)`` from
    ``π = π₀`` until the priors move less than ``tol``.

    Args:
        probs: (n, k) posteriors under the priors ``base``.
        base: (k,) priors the posteriors were computed under (default uniform).

    Returns:
        ((k,) estimated priors, (n, k) posteriors adjusted to them).

    Example:
        >>> priors, _ = em_priors(np.array([[0.8, 0.2], [0.8, 0.2], [0.3, 0.7]]))
        >>> bool(priors[0] > 0.63)   # sharper than the mean posterior 0.633
        True
    """
    probs = np.asarray(probs, dtype=np.float64)
    k = probs.shape[1]
    base = np.full(k, 1.0 / k) if base is None else np.asarray(base, dtype=np.float64)
    priors, adjusted = base.copy(), probs
    for _ in range(max_iter):
        weighted = probs * (priors / base)
        adjusted = weighted / weighted.sum(axis=1, keepdims=True)
        new = adjusted.mean(axis=0)
        if np.abs(new - priors).max() < tol:
            priors = new
            break
        priors = new
    return priors, adjusted


def center_log_probs(probs: np.ndarray) -> np.ndarray:
    """(n, k) probabilities after subtracting each label's mean log-probability over the n rows."""
    logs = np.log(np.maximum(np.asarray(probs, dtype=np.float64), _FLOOR))
    logs -= logs.mean(axis=0, keepdims=True)
    logs -= logs.max(axis=1, keepdims=True)
    exp = np.exp(logs)
    return exp / exp.sum(axis=1, keepdims=True)


def check_count(method: str, n: int, min_texts: int = MIN_TEXTS_TO_ADAPT) -> None:
    """Refuse an unknown method, or adapting priors to fewer than ``min_texts`` texts (before any scoring).

    Raises:
        ConfigError: the method or the count.
    """
    if method not in PRIORS:
        raise ConfigError(f"priors must be one of {', '.join(PRIORS)}, got {method!r}")
    if method != "none" and n < min_texts:
        raise ConfigError(
            f"--priors {method} estimates label priors from the texts being labelled and needs at least "
            f"{min_texts} of them, got {n}; use --priors none for fewer texts"
        )


def adapt(probs: np.ndarray, method: str, *, min_texts: int = MIN_TEXTS_TO_ADAPT) -> np.ndarray:
    """Adapt (n, k) probabilities of one input set by ``method`` (``none``, ``center`` or ``em``).

    Raises:
        ConfigError: unknown method, or fewer than ``min_texts`` rows to estimate from.
    """
    check_count(method, len(probs), min_texts)
    if method == "none":
        return np.asarray(probs, dtype=np.float64)
    return center_log_probs(probs) if method == "center" else em_priors(probs)[1]


def predict_adapted(
    classifier: Classifier, vectors: np.ndarray, texts: list[str] | None, method: str
) -> list[Prediction]:
    """:func:`~pipelines.classify.base.predict` with the probabilities adapted to this input set.

    Example:
        >>> preds = predict_adapted(clf, np.zeros((200, 0)), texts, "center")  # doctest: +SKIP
    """
    probs = classifier.probabilities(vectors, texts)
    return predictions_from(classifier, vectors, adapt(probs, method))
