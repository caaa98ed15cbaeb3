"""Zero-shot classification: a text gets the label whose descriptions it is most similar to.

Texts and label descriptions are embedded with the same model. Several descriptions of one label
are combined either as the normalised mean of their vectors (``combine="mean"``, the default: a
description ensemble averages away wording noise) or by the best single description
(``combine="max"``).

Raw cosine similarities are biased: some labels are close to *every* text of a corpus (all movie
reviews resemble "a movie review"). Two calibrations remove that bias without touching the
descriptions:

- :meth:`ZeroShotClassifier.center` — label-free: subtract each label's mean similarity over a
  reference set of texts (a dev split, or the indexed corpus itself).
- :meth:`ZeroShotClassifier.calibrate` — with gold labels for a dev split: fit a per-label bias
  and a softmax temperature by minimising cross-entropy (k + 1 parameters).

The abstain ``threshold`` is compared with the raw cosine similarity of the chosen label: a text
similar to no description at all becomes ``"unknown"``.

Example:
    >>> labels = LabelSet.parse(["sport=a text about sport", "food=a text about cooking"])
    >>> clf = ZeroShotClassifier(labels).fit(Embedder())                     # doctest: +SKIP
    >>> predict(clf, Embedder().encode(["He scored a late goal."]))[0].label  # doctest: +SKIP
    'sport'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from indexing.errors import ConfigError
from pipelines.classify.base import check_vectors, softmax
from pipelines.classify.calibration import fit_bias_temperature
from pipelines.classify.embed_cache import TextEncoder
from pipelines.classify.label_set import LabelSet

COMBINE = ("mean", "max")
DEFAULT_TEMPERATURE = 0.025


class ZeroShotClassifier:
    """Label texts by cosine similarity to embedded label descriptions.

    Args:
        labels: label names with their descriptions.
        combine: ``"mean"`` (normalised mean description vector per label) or ``"max"``.
        threshold: abstain (``"unknown"``) when the best raw cosine similarity is below it.
        temperature: softmax temperature turning similarities into probabilities.
    """

    method = "zero-shot"
    needs_texts = False

    def __init__(
        self,
        labels: LabelSet,
        *,
        combine: str = "mean",
        threshold: float | None = None,
        temperature: float = DEFAULT_TEMPERATURE,
    ) -> None:
        if combine not in COMBINE:
            raise ConfigError(f"combine must be one of {COMBINE}, got {combine!r}")
        if temperature <= 0:
            raise ConfigError(f"temperature must be > 0, got {temperature}")
        self.label_set = labels
        self.labels = labels.labels
        self.combine = combine
        self.threshold = threshold
        self.temperature = temperature
        self.model_name = ""
        self.description_vectors = np.zeros((0, 0), dtype=np.float32)
        self.bias = np.zeros(len(self.labels), dtype=np.float32)

    @property
    def owners(self) -> np.ndarray:
        """(m,) index of the label each description vector belongs to."""
        counts = [len(self.label_set.descriptions[name]) for name in self.labels]
        return np.repeat(np.arange(len(self.labels)), counts)

    def fit(self, encoder: TextEncoder, reference: np.ndarray | None = None) -> ZeroShotClassifier:
        """Embed the descriptions; with ``reference`` vectors, also :meth:`center` on them."""
        texts = [t for name in self.labels for t in self.label_set.descriptions[name]]
        self.description_vectors = np.ascontiguousarray(encoder.encode(texts), dtype=np.float32)
        self.model_name = encoder.name
        self.bias = np.zeros(len(self.labels), dtype=np.float32)
        if reference is not None and len(reference):
            self.center(reference)
        return self

    def _require_fit(self) -> None:
        if not self.model_name:
            raise ConfigError("zero-shot classifier is not fitted: call fit(embedder) first")

    def prototypes(self) -> np.ndarray:
        """(k, d) unit mean description vector per label."""
        self._require_fit()
        owners = self.owners
        protos = np.stack([self.description_vectors[owners == i].mean(axis=0) for i in range(len(self.labels))])
        return protos / np.linalg.norm(protos, axis=1, keepdims=True)

    def similarities(self, vectors: np.ndarray) -> np.ndarray:
        """(n, d) unit vectors → (n, k) raw cosine similarity per label (before calibration)."""
        self._require_fit()
        vectors = check_vectors(vectors, self.description_vectors.shape[1])
        if self.combine == "mean":
            return vectors @ self.prototypes().T
        sims = vectors @ self.description_vectors.T
        owners = self.owners
        return np.stack([sims[:, owners == i].max(axis=1) for i in range(len(self.labels))], axis=1)

    def center(self, reference: np.ndarray) -> ZeroShotClassifier:
        """Label-free calibration: bias = each label's mean similarity over ``reference`` texts."""
        self.bias = self.similarities(reference).mean(axis=0).astype(np.float32)
        return self

    def calibrate(self, vectors: np.ndarray, gold: list[str]) -> ZeroShotClassifier:
        """Fit the per-label bias and the temperature on a labelled dev split (cross-entropy).

        Raises:
            ConfigError: a gold label is not one of the classifier's labels.
        """
        unknown = sorted(set(gold) - set(self.labels))
        if unknown:
            raise ConfigError(f"dev labels {unknown} are not among the classifier's labels {self.labels}")
        target = np.array([self.labels.index(g) for g in gold])
        self.temperature, self.bias = fit_bias_temperature(self.similarities(vectors), target, self.temperature)
        return self

    def probabilities(self, vectors: np.ndarray, texts: list[str] | None = None) -> np.ndarray:
        """(n, k) softmax of calibrated similarities over the temperature."""
        return softmax((self.similarities(vectors) - self.bias) / self.temperature)

    def confidence(self, vectors: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """Raw cosine similarity of the chosen label (what ``threshold`` is compared with)."""
        sims = self.similarities(vectors)
        return sims[np.arange(len(sims)), probs.argmax(axis=1)] if len(sims) else np.zeros(0)

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON config, arrays) for :mod:`pipelines.classify.persist`."""
        self._require_fit()
        config = {
            "labels": self.label_set.to_dict(),
            "combine": self.combine,
            "threshold": self.threshold,
            "temperature": self.temperature,
            "model_name": self.model_name,
        }
        return config, {"description_vectors": self.description_vectors, "bias": self.bias}

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> ZeroShotClassifier:
        """Inverse of :meth:`state`."""
        clf = cls(
            LabelSet.from_mapping(config["labels"]),
            combine=config["combine"],
            threshold=config["threshold"],
            temperature=config["temperature"],
        )
        clf.model_name = config["model_name"]
        clf.description_vectors = arrays["description_vectors"].astype(np.float32)
        clf.bias = arrays["bias"].astype(np.float32)
        return clf
