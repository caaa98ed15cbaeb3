"""``--method auto``: the generator labels a sample, a classifier on the embeddings labels the rest.

Labelling by the generator (:mod:`pipelines.classify.generative`) reads every text and costs about a second a
text on a CPU (3.6 s with the 11 wiki-topics labels); embedding zero-shot costs nothing per text and misses
what the embeddings do not hold (sentiment, for one). ``auto`` spends the generator on a sample and lets the
embeddings carry its judgement to the rest:

1. **Zero-shot first.** The label descriptions score every text by embedding (centred on the texts), as
   ``zero-shot`` does; nothing is called yet.
2. **A spread-out half.** Half of the budget goes to the texts nearest the centres of k-means clusters of
   the vectors (one per cluster), so every region of the collection is asked about, not the longest file.
3. **The doubtful half.** A logistic regression (the *student*, ``C`` = :data:`STUDENT_C`) learns the
   generator's answers on the first half as soft labels (each row weighted by the answer's probability
   per label); the other half of the budget goes to the texts where the student times zero-shot is least
   sure (the smallest margin between its two best labels). The student then learns the whole sample.
4. **The rest** get the student's probabilities multiplied by zero-shot's (a product of the two, renormalised:
   the student alone, from a few hundred answers, was worse than zero-shot on movie reviews); the sample keeps
   the generator's own answers. ``corrections`` (text → label, from a person) are answers and training labels
   wherever they fall, and the generator is never asked about them.
5. **The fallback.** When the generator and zero-shot agree on the spread-out half by less than a Cohen's
   kappa of :data:`MIN_KAPPA`, zero-shot labels every text (the generator's answers are still reported). On
   the wiki-topics set the generator files biographies of painters under *Arts*, where the set's own taxonomy
   says *People*: it is right 4 times in 10 where zero-shot is right 7 in 10, and learning from it cost 0.08 F1.

The budget is :func:`sample_size`: 10 % of the texts, at least :data:`MIN_PER_LABEL` per label (so a small set
is mostly or wholly asked), never more than the texts. The student's ``C``, the product and the kappa floor
were chosen on rotten-tomatoes, wiki-topics and debates-2016 with fortunes held out (docs/classify.md).

Example:
    >>> clf = AutoClassifier(labels, zero_shot_clf, scorer).fit(vectors, texts.__getitem__)  # doctest: +SKIP
    >>> clf.report.calls, clf.report.fallback                                              # doctest: +SKIP
    (107, False)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indexing.errors import ConfigError
from pipelines.classify.base import softmax
from pipelines.classify.label_set import LabelSet

SHARE = 0.1
MIN_PER_LABEL = 10
ZERO_SHOT_WEIGHT = 1.0
MIN_KAPPA = 0.55
STUDENT_C = 10.0

# (texts) -> (n, k) log-probabilities of the labels, in the label set's order: the generator's scores.
Scorer = Callable[[list[str]], np.ndarray]
# (row indices) -> the texts of those rows (an index reads them from its store on demand).
TextsOf = Callable[[Sequence[int]], list[str]]


def sample_size(n: int, k: int, share: float = SHARE, min_per_label: int = MIN_PER_LABEL) -> int:
    """How many of ``n`` texts the generator labels: ``share`` of them, at least ``min_per_label`` × ``k``.

    Example:
        >>> sample_size(10_000, 2), sample_size(300, 11), sample_size(50, 2)
        (1000, 110, 20)
    """
    if n <= 0:
        return 0
    return min(n, max(math.ceil(share * n), min_per_label * k))


def diverse_rows(vectors: np.ndarray, m: int, seed: int = 0, exclude: Sequence[int] = ()) -> list[int]:
    """``m`` rows spread over the collection: the row nearest each centre of ``m`` k-means clusters.

    Rows in ``exclude`` are never picked. Fewer than ``m`` come back only when fewer rows are left.
    """
    from sklearn.cluster import MiniBatchKMeans

    allowed = np.setdiff1d(np.arange(len(vectors)), np.asarray(list(exclude), dtype=int))
    if m <= 0 or not len(allowed):
        return []
    if m >= len(allowed):
        return allowed.tolist()
    x = vectors[allowed]
    km = MiniBatchKMeans(n_clusters=m, random_state=seed, n_init=3, batch_size=max(1024, 3 * m)).fit(x)
    taken: set[int] = set()
    for centre in km.cluster_centers_:
        order = np.argsort(-(x @ centre))
        for row in order[:50]:
            if int(row) not in taken:
                taken.add(int(row))
                break
    picked = [int(allowed[r]) for r in sorted(taken)]
    if len(picked) < m:  # clusters that shared a nearest row: fill with the farthest-from-picked rows
        rest = np.setdiff1d(allowed, picked)
        closeness = (vectors[rest] @ vectors[picked].T).max(axis=1)
        picked += rest[np.argsort(closeness)[: m - len(picked)]].tolist()
    return picked


def margins(probs: np.ndarray) -> np.ndarray:
    """Best minus second-best probability per row (1 for a single label)."""
    if probs.shape[1] < 2:
        return np.ones(len(probs))
    top = np.sort(probs, axis=1)
    return top[:, -1] - top[:, -2]


def cohen_kappa(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Agreement of two labelings of the same rows beyond chance (1 = identical, 0 = chance).

    Example:
        >>> cohen_kappa(np.array([0, 1, 0, 1]), np.array([0, 1, 0, 1]), 2)
        1.0
    """
    if not len(a):
        return 0.0
    observed = float(np.mean(a == b))
    pa, pb = np.bincount(a, minlength=k) / len(a), np.bincount(b, minlength=k) / len(b)
    expected = float(pa @ pb)
    return 1.0 if expected >= 1.0 else (observed - expected) / (1.0 - expected)


def train_student(vectors: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None,
                  C: float | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """A logistic regression on soft targets ((m, k) rows summing to 1): ``vectors`` → (n, k) probabilities.

    Each row is repeated once per label with the target probability as its sample weight (times
    ``weights``), so the student learns the generator's distribution, not only its argmax. A label no
    sample row holds gets probability 0 from the student (the zero-shot factor can still not revive it).
    """
    from sklearn.linear_model import LogisticRegression

    m, k = targets.shape
    rows = np.repeat(np.arange(m), k)
    classes = np.tile(np.arange(k), m)
    w = targets.reshape(-1) * (np.ones(m) if weights is None else weights)[rows]
    keep = w > 1e-6
    present = np.unique(classes[keep])
    if len(present) < 2:
        only = int(present[0]) if len(present) else 0

        def constant(x: np.ndarray) -> np.ndarray:
            out = np.zeros((len(x), k))
            out[:, only] = 1.0
            return out

        return constant
    model = LogisticRegression(C=STUDENT_C if C is None else C, max_iter=3000)
    model.fit(vectors[rows[keep]], classes[keep], sample_weight=w[keep] * len(present) / max(w[keep].sum(), 1e-9) * m)

    def predict(x: np.ndarray) -> np.ndarray:
        out = np.zeros((len(x), k))
        if len(x):
            out[:, model.classes_] = model.predict_proba(x)
        return out

    return predict


@dataclass
class AutoReport:
    """What one ``auto`` run did: the generator's calls and sample, and whether it fell back to zero-shot."""

    texts: int = 0
    calls: int = 0
    sample: list[int] = field(default_factory=list)
    sample_labels: list[str] = field(default_factory=list)
    corrected: int = 0
    kappa: float = 0.0
    agreement: float = 0.0
    fallback: bool = False
    generator_seconds: float = 0.0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the sample as row numbers and their labels)."""
        return {"texts": self.texts, "calls": self.calls, "corrected": self.corrected,
                "kappa": round(self.kappa, 4), "agreement": round(self.agreement, 4), "fallback": self.fallback,
                "generator_seconds": round(self.generator_seconds, 2), "seconds": round(self.seconds, 2),
                "sample": self.sample, "sample_labels": self.sample_labels}

    def summary(self) -> str:
        """One line for a report: calls, agreement and what labelled the rest."""
        rest = "zero-shot (the generator and the embeddings disagree)" if self.fallback else "the embedding student"
        return (f"auto: the generator labelled {self.calls} of {self.texts} texts"
                f"{f', {self.corrected} corrected by hand' if self.corrected else ''} in "
                f"{self.generator_seconds:.1f} s; agreement with zero-shot {self.agreement:.2f} "
                f"(kappa {self.kappa:.2f}); the rest by {rest}")


class AutoClassifier:
    """Generator quality at embedding cost (see the module docstring). Fits the ``Classifier`` protocol.

    Args:
        labels: the label set (the generator's prompt and the zero-shot descriptions).
        zero_shot: a fitted zero-shot classifier of these labels (centred on the texts to label).
        scorer: the generator's label log-probabilities for a list of texts.
        share / min_per_label: the budget (:func:`sample_size`); ``sample`` overrides it with a count.
        corrections: text → label set by a person (a training label; the generator is not asked about it).
        zero_shot_weight: the exponent of zero-shot's probabilities in the product (0: the student alone).
        min_kappa: the fallback's floor on Cohen's kappa between the generator and zero-shot (-1: never).
        diverse: the share of the budget spent on the spread-out half.
        threshold: answer ``unknown`` below this probability.
        seed: k-means seed.
        progress: called with (generator calls done, calls planned).
    """

    method = "auto"
    needs_texts = True

    def __init__(
        self,
        labels: LabelSet,
        zero_shot: Any,
        scorer: Scorer,
        *,
        share: float = SHARE,
        min_per_label: int = MIN_PER_LABEL,
        sample: int = 0,
        corrections: Mapping[str, str] | None = None,
        zero_shot_weight: float = ZERO_SHOT_WEIGHT,
        min_kappa: float = MIN_KAPPA,
        diverse: float = 0.5,
        threshold: float | None = None,
        seed: int = 0,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        unknown = sorted({v for v in (corrections or {}).values()} - set(labels.labels))
        if unknown:
            raise ConfigError(f"corrections name labels that are not in the label set: {', '.join(unknown)}")
        if sample < 0:
            raise ConfigError(f"sample must be 0 (10 % of the texts) or a positive count, got {sample}")
        self.label_set, self.labels = labels, labels.labels
        self.zero_shot, self.scorer = zero_shot, scorer
        self.model_name = getattr(zero_shot, "model_name", "")
        self.share, self.min_per_label, self.sample = share, min_per_label, sample
        self.corrections = dict(corrections or {})
        self.zero_shot_weight, self.min_kappa = zero_shot_weight, min_kappa
        self.threshold, self.seed, self.progress = threshold, seed, progress
        self.diverse = diverse
        self.report = AutoReport()
        self._answers: dict[str, np.ndarray] = {}  # sample text -> its probabilities (generator or person)
        self._student: Callable[[np.ndarray], np.ndarray] | None = None
        self.sample_ids: list[int] = []  # an index's chunk ids of the sample (set by label_index)

    def _one_hot(self, label: str) -> np.ndarray:
        row = np.zeros(len(self.labels))
        row[self.labels.index(label)] = 1.0
        return row

    def _ask(self, texts: list[str], done: int, planned: int) -> np.ndarray:
        """(m, k) probabilities for ``texts``: a person's correction, else the generator's answer."""
        out = np.zeros((len(texts), len(self.labels)))
        todo = [i for i, t in enumerate(texts) if t not in self.corrections]
        for i, text in enumerate(texts):
            if text in self.corrections:
                out[i] = self._one_hot(self.corrections[text])
        started = time.perf_counter()
        for j, i in enumerate(todo):
            out[i] = np.exp(self.scorer([texts[i]])[0])
            out[i] /= out[i].sum()
            if self.progress:
                self.progress(done + j + 1, planned)
        self.report.generator_seconds += time.perf_counter() - started
        self.report.calls += len(todo)
        return out

    def fit(self, vectors: np.ndarray, texts_of: TextsOf, corrected_rows: Sequence[int] = ()) -> AutoClassifier:
        """Choose the sample, have it labelled, train the student (and decide on the fallback).

        Args:
            vectors: (n, d) unit vectors of every text to be labelled (the zero-shot classifier's model).
            texts_of: the texts of given rows (read only for the sample; an index reads them on demand).
            corrected_rows: the rows whose texts ``corrections`` holds: they join the training set wherever
                the sample falls (a person's label, no generator call).
        """
        started = time.perf_counter()
        n, k = len(vectors), len(self.labels)
        self.report = AutoReport(texts=n)
        m = min(n, self.sample) if self.sample else sample_size(n, k, self.share, self.min_per_label)
        zs = self.zero_shot.probabilities(vectors)
        first = diverse_rows(vectors, max(1, round(self.diverse * m)) if m else 0, self.seed)
        texts = texts_of(first)
        answers = self._ask(texts, 0, m)
        rows, targets, sample_texts = list(first), [answers], list(texts)
        if m > len(first):
            self._student = train_student(vectors[rows], np.concatenate(targets))
            student = self._combine(self._student(vectors), zs)
            taken = set(rows)
            order = [r for r in np.argsort(margins(student)) if r not in taken][: m - len(first)]
            more = texts_of([int(r) for r in order])
            targets.append(self._ask(more, len(first), m))
            rows += [int(r) for r in order]
            sample_texts += more
        extra = [int(r) for r in dict.fromkeys(corrected_rows) if int(r) not in set(rows)]
        if extra:
            more = texts_of(extra)
            targets.append(self._ask(more, m, m))
            rows += extra
            sample_texts += more
        target = np.concatenate(targets)
        self._student = train_student(vectors[rows], target)
        self._answers = dict(zip(sample_texts, target, strict=True))
        gen_labels = target.argmax(axis=1)
        self.report.sample = rows
        self.report.sample_labels = [self.labels[int(i)] for i in gen_labels]
        self.report.corrected = sum(t in self.corrections for t in sample_texts)
        # Agreement on the diverse half only: the doubtful half is chosen where the sides disagree.
        spread, zs_spread = gen_labels[: len(first)], zs[first].argmax(axis=1)
        self.report.agreement = float(np.mean(spread == zs_spread)) if len(first) else 0.0
        self.report.kappa = cohen_kappa(spread, zs_spread, k)
        self.report.fallback = bool(rows) and self.report.kappa < self.min_kappa and not self.corrections
        self.report.seconds = time.perf_counter() - started
        return self

    def _combine(self, student: np.ndarray, zs: np.ndarray) -> np.ndarray:
        if self.zero_shot_weight == 0:
            return student
        log = np.log(np.clip(student, 1e-9, 1.0)) + self.zero_shot_weight * np.log(np.clip(zs, 1e-9, 1.0))
        return softmax(log)

    def probabilities(self, vectors: np.ndarray, texts: list[str] | None = None) -> np.ndarray:
        """(n, k): the sample's own answers and the student (times zero-shot) elsewhere; zero-shot everywhere on
        fallback; a person's correction always."""
        if self._student is None:
            raise ConfigError("the auto classifier labels the texts it was fitted on: call fit() first")
        zs = self.zero_shot.probabilities(vectors)
        out = zs if self.report.fallback else self._combine(self._student(vectors), zs)
        if texts is not None:
            for i, text in enumerate(texts):
                if text in self.corrections:
                    out[i] = self._one_hot(self.corrections[text])
                elif text in self._answers and not self.report.fallback:
                    out[i] = self._answers[text]
        return out

    def confidence(self, vectors: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """The chosen label's probability (what ``threshold`` is compared with)."""
        return probs.max(axis=1) if len(probs) else np.zeros(0)
