"""Classification metrics computed with NumPy: accuracy, macro/weighted F1, per-class P/R/F1, confusion.

Predictions may include ``"unknown"`` (an abstention); it counts as wrong for its gold class and
gets its own confusion-matrix column, but is never a class of its own in the averages.

Example:
    >>> r = classification_metrics(["a", "a", "b"], ["a", "b", "b"])
    >>> round(r.accuracy, 3), round(r.macro_f1, 3)
    (0.667, 0.667)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pipelines.classify.label_set import UNKNOWN


@dataclass(frozen=True)
class ClassMetrics:
    """Precision, recall, F1 and support (gold count) of one class."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class MetricsReport:
    """Everything ``sift eval classify`` reports about one prediction run.

    Attributes:
        classes: gold classes, in matrix order.
        confusion: (k, k + 1) counts, rows = gold, columns = predicted (last column "unknown").
    """

    accuracy: float
    macro_f1: float
    weighted_f1: float
    per_class: dict[str, ClassMetrics]
    classes: list[str]
    confusion: np.ndarray
    abstained: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "accuracy": round(self.accuracy, 6),
            "macro_f1": round(self.macro_f1, 6),
            "weighted_f1": round(self.weighted_f1, 6),
            "abstained": self.abstained,
            "per_class": {
                name: {"precision": round(m.precision, 6), "recall": round(m.recall, 6),
                       "f1": round(m.f1, 6), "support": m.support}
                for name, m in self.per_class.items()
            },
            "confusion": {"labels": self.classes, "predicted": [*self.classes, UNKNOWN],
                          "matrix": self.confusion.tolist()},
        }


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0 (scikit-learn's zero_division=0)."""
    return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)


def classification_metrics(gold: list[str], predicted: list[str], classes: list[str] | None = None) -> MetricsReport:
    """Score predictions against gold labels.

    Args:
        gold: n true labels.
        predicted: n predicted labels (``"unknown"`` allowed).
        classes: class order (default: sorted gold and predicted labels, "unknown" excluded).

    Returns:
        A :class:`MetricsReport`; averages match ``sklearn.metrics`` with ``zero_division=0``.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    classes = classes or sorted((set(gold) | set(predicted)) - {UNKNOWN})
    columns = {name: i for i, name in enumerate([*classes, UNKNOWN])}
    confusion = np.zeros((len(classes), len(classes) + 1), dtype=np.int64)
    for g, p in zip(gold, predicted, strict=True):
        if g in columns and g != UNKNOWN:
            confusion[columns[g], columns.get(p, len(classes))] += 1
    tp = np.diag(confusion[:, : len(classes)]).astype(float)
    support = confusion.sum(axis=1)
    predicted_count = confusion[:, : len(classes)].sum(axis=0)
    precision, recall = _safe_div(tp, predicted_count), _safe_div(tp, support)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    total = max(int(support.sum()), 1)
    per_class = {
        name: ClassMetrics(float(precision[i]), float(recall[i]), float(f1[i]), int(support[i]))
        for i, name in enumerate(classes)
    }
    return MetricsReport(
        accuracy=float(tp.sum() / total),
        macro_f1=float(f1.mean()) if len(f1) else 0.0,
        weighted_f1=float((f1 * support).sum() / total),
        per_class=per_class,
        classes=list(classes),
        confusion=confusion,
        abstained=int(confusion[:, -1].sum()),
    )


def format_report(report: MetricsReport) -> str:
    """A readable table: summary line, per-class P/R/F1 and the confusion matrix."""
    width = max(8, *(len(c) for c in report.classes))
    lines = [
        f"accuracy {report.accuracy:.3f}   macro-F1 {report.macro_f1:.3f}   "
        f"weighted-F1 {report.weighted_f1:.3f}   abstained {report.abstained}",
        "",
        f"{'class':<{width}}  precision  recall     f1  support",
    ]
    for name, m in report.per_class.items():
        lines.append(f"{name:<{width}}  {m.precision:9.3f}  {m.recall:6.3f}  {m.f1:5.3f}  {m.support:7d}")
    short = [c[:7] for c in [*report.classes, UNKNOWN]]
    lines += ["", "confusion (rows = gold, columns = predicted)",
              f"{'':<{width}}  " + " ".join(f"{s:>7}" for s in short)]
    for name, row in zip(report.classes, report.confusion, strict=True):
        lines.append(f"{name:<{width}}  " + " ".join(f"{int(v):7d}" for v in row))
    return "\n".join(lines)
