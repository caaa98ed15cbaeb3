"""The classification API the CLI, the UI and users call: build or train a classifier, label texts.

Example:
    >>> emb = Embedder()                                                          # doctest: +SKIP
    >>> clf = zero_shot(LabelSet.parse(["sport=a text about sport", "food=a recipe"]), emb)  # doctest: +SKIP
    >>> classify_texts(clf, emb, ["Preheat the oven to 200 °C."])[0].label        # doctest: +SKIP
    'food'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from indexing.errors import ConfigError, IndexMismatchError
from pipelines.classify.base import Classifier, Prediction, predict
from pipelines.classify.embed_cache import TextEncoder
from pipelines.classify.label_set import LabelSet
from pipelines.classify.supervised import LogisticClassifier, PrototypeClassifier
from pipelines.classify.zero_shot import ZeroShotClassifier

# Centering on the texts being classified needs enough of them for a stable mean.
MIN_TEXTS_TO_CENTER = 50


def zero_shot(
    labels: LabelSet,
    encoder: TextEncoder,
    *,
    reference: np.ndarray | None = None,
    combine: str = "mean",
    threshold: float | None = None,
) -> ZeroShotClassifier:
    """A fitted zero-shot classifier, centred on ``reference`` vectors when given.

    Args:
        labels: names and descriptions.
        encoder: the embedding model (must be the one that embedded ``reference`` and later texts).
        reference: (n, d) vectors of typical texts (a corpus, an index) for label-free centering;
            ignored when fewer than :data:`MIN_TEXTS_TO_CENTER`.
        combine: ``"mean"`` or ``"max"`` over a label's descriptions.
        threshold: abstain below this cosine similarity.
    """
    clf = ZeroShotClassifier(labels, combine=combine, threshold=threshold).fit(encoder)
    if reference is not None and len(reference) >= MIN_TEXTS_TO_CENTER:
        clf.center(reference)
    return clf


def text_zero_shot(
    labels: LabelSet,
    encoder: TextEncoder,
    vectors: np.ndarray,
    *,
    calibration: str = "auto",
    combine: str = "mean",
    threshold: float | None = None,
) -> ZeroShotClassifier:
    """A zero-shot classifier for the texts of ``vectors``, centred on them as ``calibration`` says.

    ``auto`` centres from :data:`MIN_TEXTS_TO_CENTER` texts on, ``center`` always, ``none`` never.

    Raises:
        ConfigError: an unknown calibration.

    Example:
        >>> clf = text_zero_shot(labels, emb, emb.encode(texts), calibration="none")  # doctest: +SKIP
        >>> bool(clf.bias.any())                                                      # doctest: +SKIP
        False
    """
    if calibration not in ("auto", "center", "none"):
        raise ConfigError(f"calibration {calibration!r} is unknown: use one of auto, center, none")
    clf = ZeroShotClassifier(labels, combine=combine, threshold=threshold).fit(encoder)
    if len(vectors) and (calibration == "center" or (calibration == "auto" and len(vectors) >= MIN_TEXTS_TO_CENTER)):
        clf.center(vectors)
    return clf


def train(
    method: str,
    texts: Sequence[str],
    labels: Sequence[str],
    encoder: TextEncoder,
    *,
    C: float = 1.0,
    lexical: bool = False,
    threshold: float | None = None,
) -> Classifier:
    """Embed labelled texts and train a ``"prototype"`` or ``"logreg"`` classifier.

    Raises:
        ConfigError: unknown method, mismatched lengths or a single label.
    """
    if len(texts) != len(labels):
        raise ConfigError(f"{len(texts)} training texts but {len(labels)} labels")
    vectors = encoder.encode(list(texts))
    if method == "prototype":
        if lexical:
            raise ConfigError("word features (--lexical) work with --method logreg only")
        return PrototypeClassifier(threshold=threshold).fit(vectors, list(labels), encoder.name)
    if method == "logreg":
        clf = LogisticClassifier(C=C, threshold=threshold, lexical=lexical)
        return clf.fit(vectors, list(labels), encoder.name, texts=list(texts))
    raise ConfigError(f"cannot train method {method!r}; choose prototype or logreg")


def check_model(classifier: Classifier, encoder: TextEncoder) -> None:
    """Refuse to mix vectors of two embedding models.

    Raises:
        IndexMismatchError: the classifier was built with another model than ``encoder``.
    """
    if classifier.model_name and classifier.model_name != encoder.name:
        raise IndexMismatchError(
            f"classifier was built with {classifier.model_name!r}, texts would be embedded with "
            f"{encoder.name!r}; pass --model {classifier.model_name}"
        )


def classify_texts(
    classifier: Classifier, encoder: TextEncoder, texts: Sequence[str], *, show_progress: bool = False
) -> list[Prediction]:
    """Embed ``texts`` and label them (``"unknown"`` where the classifier abstains)."""
    check_model(classifier, encoder)
    vectors = encoder.encode(list(texts), show_progress=show_progress)
    return predict(classifier, vectors, list(texts))
