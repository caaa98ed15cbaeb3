"""Text classification: zero-shot from label descriptions (by embeddings, or by prompting the generator),
prototypes, logistic regression; label-free prior adaptation to the texts being labelled.

Example:
    >>> from indexing.embedder import Embedder
    >>> from pipelines.classify import LabelSet, classify_texts, zero_shot
    >>> emb = Embedder()                                                             # doctest: +SKIP
    >>> clf = zero_shot(LabelSet.parse(["pos=a positive review", "neg=a negative review"]), emb)  # doctest: +SKIP
    >>> classify_texts(clf, emb, ["Loved every minute."])[0].label                   # doctest: +SKIP
    'pos'
"""

from __future__ import annotations

from pipelines.classify.base import Classifier, Prediction, predict
from pipelines.classify.evaluate import EvalConfig, EvalResult, evaluate, format_result
from pipelines.classify.generative import GenerativeClassifier
from pipelines.classify.index import IndexClassification, classify_index
from pipelines.classify.label_set import UNKNOWN, LabelSet, builtin_labels
from pipelines.classify.metrics import MetricsReport, classification_metrics, format_report
from pipelines.classify.persist import load_classifier, save_classifier
from pipelines.classify.priors import PRIORS, adapt, em_priors, predict_adapted
from pipelines.classify.service import check_model, classify_texts, train, zero_shot
from pipelines.classify.supervised import LogisticClassifier, PrototypeClassifier
from pipelines.classify.zero_shot import ZeroShotClassifier

__all__ = [
    "PRIORS",
    "UNKNOWN",
    "Classifier",
    "EvalConfig",
    "EvalResult",
    "GenerativeClassifier",
    "IndexClassification",
    "adapt",
    "LabelSet",
    "LogisticClassifier",
    "MetricsReport",
    "Prediction",
    "PrototypeClassifier",
    "ZeroShotClassifier",
    "builtin_labels",
    "check_model",
    "classification_metrics",
    "classify_index",
    "classify_texts",
    "em_priors",
    "evaluate",
    "format_report",
    "format_result",
    "load_classifier",
    "predict",
    "predict_adapted",
    "save_classifier",
    "train",
    "zero_shot",
]
