"""Few-shot / supervised classifiers on the same embeddings: class-mean prototypes and logistic regression.

Both take precomputed (n, d) unit vectors, so an index's chunks are never embedded again, and
both store only plain arrays, so they save as npz + JSON (:mod:`pipelines.classify.persist`).

Example:
    >>> clf = LogisticClassifier(C=1.0).fit(train_vectors, train_labels)  # doctest: +SKIP
    >>> predict(clf, test_vectors)[0].label                              # doctest: +SKIP
    'fresh'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from indexing.errors import ConfigError
from pipelines.classify.base import check_vectors, softmax
from pipelines.classify.calibration import fit_bias_temperature
from pipelines.classify.lexical import LexicalFeatures, stack


def _check_training(vectors: np.ndarray, labels: list[str]) -> tuple[np.ndarray, list[str]]:
    """Validate training data; returns float32 vectors and the sorted label names."""
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] != len(labels):
        raise ConfigError(f"need one label per vector: {arr.shape} vectors, {len(labels)} labels")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ConfigError(f"need examples of at least two labels to train, got {classes}")
    return arr, classes


class PrototypeClassifier:
    """Nearest class mean: each label is the normalised mean of its examples' vectors.

    Similarities to the prototypes become probabilities through a softmax whose per-label bias and
    temperature are fitted on the training vectors (this also absorbs unequal class sizes).

    Args:
        threshold: abstain when the top probability is below it.
    """

    method = "prototype"
    needs_texts = False

    def __init__(self, threshold: float | None = None) -> None:
        self.threshold = threshold
        self.labels: list[str] = []
        self.model_name = ""
        self.prototypes = np.zeros((0, 0), dtype=np.float32)
        self.bias = np.zeros(0, dtype=np.float32)
        self.temperature = 0.025

    def fit(self, vectors: np.ndarray, labels: list[str], model_name: str = "") -> PrototypeClassifier:
        """Compute one prototype per label (needs ≥ 1 example of ≥ 2 labels)."""
        arr, self.labels = _check_training(vectors, labels)
        gold = np.array([self.labels.index(lab) for lab in labels])
        protos = np.stack([arr[gold == i].mean(axis=0) for i in range(len(self.labels))])
        self.prototypes = (protos / np.linalg.norm(protos, axis=1, keepdims=True)).astype(np.float32)
        self.temperature, self.bias = fit_bias_temperature(arr @ self.prototypes.T, gold)
        self.model_name = model_name
        return self

    def probabilities(self, vectors: np.ndarray, texts: list[str] | None = None) -> np.ndarray:
        """(n, k) probabilities from calibrated prototype similarities."""
        if not self.labels:
            raise ConfigError("prototype classifier is not fitted")
        sims = check_vectors(vectors, self.prototypes.shape[1]) @ self.prototypes.T
        return softmax((sims - self.bias) / self.temperature)

    def confidence(self, vectors: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """Top probability (what ``threshold`` is compared with)."""
        return probs.max(axis=1) if len(probs) else np.zeros(0)

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON config, arrays) for saving."""
        config = {"labels": self.labels, "threshold": self.threshold, "model_name": self.model_name,
                  "temperature": self.temperature}
        return config, {"prototypes": self.prototypes, "bias": self.bias}

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> PrototypeClassifier:
        """Inverse of :meth:`state`."""
        clf = cls(threshold=config["threshold"])
        clf.labels, clf.model_name = list(config["labels"]), config["model_name"]
        clf.temperature = float(config["temperature"])
        clf.prototypes, clf.bias = arrays["prototypes"].astype(np.float32), arrays["bias"].astype(np.float32)
        return clf


class LogisticClassifier:
    """Multinomial logistic regression (scikit-learn, L2) on embedding vectors.

    Args:
        C: inverse regularisation strength; :func:`pipelines.classify.evaluate.choose_c` picks it
            on a dev split.
        class_weight: ``None`` or ``"balanced"`` (for skewed label counts).
        threshold: abstain when the top probability is below it.
        lexical: also use TF-IDF word/bigram features of the texts (see
            :mod:`pipelines.classify.lexical`); then ``fit`` and ``probabilities`` need the texts.
    """

    method = "logreg"

    def __init__(
        self, C: float = 1.0, class_weight: str | None = None, threshold: float | None = None, lexical: bool = False
    ) -> None:
        if C <= 0:
            raise ConfigError(f"C must be > 0, got {C}")
        self.C, self.class_weight, self.threshold = C, class_weight, threshold
        self.labels: list[str] = []
        self.model_name = ""
        self.lexical: LexicalFeatures | None = LexicalFeatures() if lexical else None
        self.dimension = 0
        self.coef = np.zeros((0, 0), dtype=np.float64)
        self.intercept = np.zeros(0, dtype=np.float64)

    @property
    def needs_texts(self) -> bool:
        """True when the classifier reads word features as well as vectors."""
        return self.lexical is not None

    def _features(self, vectors: np.ndarray, texts: list[str] | None) -> np.ndarray:
        if self.lexical is None:
            return vectors
        if texts is None or len(texts) != len(vectors):
            raise ConfigError("this classifier uses word features: pass the texts along with the vectors")
        return stack(vectors, self.lexical.transform(texts))

    def fit(
        self, vectors: np.ndarray, labels: list[str], model_name: str = "", texts: list[str] | None = None
    ) -> LogisticClassifier:
        """Train on (n, d) vectors and n labels (and the n texts when ``lexical``)."""
        arr, self.labels = _check_training(vectors, labels)
        if self.lexical is not None and texts is not None:
            self.lexical.fit(texts)
        from sklearn.linear_model import LogisticRegression  # here: scikit-learn costs ~1 s to import

        model = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=3000)
        model.fit(self._features(arr, texts), labels)
        coef, intercept = model.coef_, model.intercept_
        if coef.shape[0] == 1:  # binary: sklearn keeps one row; softmax over [0, z] is the same sigmoid
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])
        self.coef, self.intercept = coef, intercept
        self.dimension, self.model_name = arr.shape[1], model_name
        return self

    def probabilities(self, vectors: np.ndarray, texts: list[str] | None = None) -> np.ndarray:
        """(n, k) class probabilities, equal to scikit-learn's ``predict_proba``."""
        if not self.labels:
            raise ConfigError("logistic classifier is not fitted")
        arr = check_vectors(vectors, self.dimension).astype(np.float64)
        return softmax(np.asarray(self._features(arr, texts) @ self.coef.T) + self.intercept)

    def confidence(self, vectors: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """Top probability (what ``threshold`` is compared with)."""
        return probs.max(axis=1) if len(probs) else np.zeros(0)

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON config, arrays) for saving; word features are stored under ``lexical``."""
        config: dict[str, Any] = {"labels": self.labels, "threshold": self.threshold, "model_name": self.model_name,
                                  "C": self.C, "class_weight": self.class_weight, "dimension": self.dimension}
        arrays = {"coef": self.coef, "intercept": self.intercept}
        if self.lexical is not None:
            lex_config, lex_arrays = self.lexical.state()
            config["lexical"] = lex_config
            arrays.update({f"lexical_{k}": v for k, v in lex_arrays.items()})
        return config, arrays

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> LogisticClassifier:
        """Inverse of :meth:`state`."""
        clf = cls(C=config["C"], class_weight=config["class_weight"], threshold=config["threshold"])
        clf.labels, clf.model_name = list(config["labels"]), config["model_name"]
        clf.dimension = int(config["dimension"])
        clf.coef, clf.intercept = arrays["coef"].astype(np.float64), arrays["intercept"].astype(np.float64)
        if "lexical" in config:
            lex_arrays = {k.removeprefix("lexical_"): v for k, v in arrays.items() if k.startswith("lexical_")}
            clf.lexical = LexicalFeatures.from_state(config["lexical"], lex_arrays)
        return clf
